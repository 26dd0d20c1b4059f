package io.viperblock.bench;

import io.viperblock.s3.S3Config;
import io.viperblock.s3.S3ProxyFixture;
import io.viperblock.s3.S3Store;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

import software.amazon.awssdk.http.SdkHttpClient;
import software.amazon.awssdk.http.crt.AwsCrtHttpClient;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;

/**
 * What the S3 benchmarks share: stores on each of the SDK's HTTP clients over the s3proxy
 * fixture, parallel PUTs of 4 MiB objects, medians and percentiles, and a small JSON writer.
 * Stateless.
 */
final class S3BenchKit {
    static final int OBJECT = 4 << 20;
    static final double MB = 1e6;

    private S3BenchKit() {}

    /** The SDK's synchronous HTTP clients the store can run on; the first is the store's own. */
    static final List<String> CLIENTS = List.of("apache5", "crt", "urlconnection");

    /** A store on a fresh bucket of {@code proxy}, through {@code client}, with the store's timeouts. */
    static S3Store store(S3ProxyFixture proxy, String client) {
        S3Config c = proxy.config(proxy.newBucket(), "vb/").withTimeouts(Duration.ofSeconds(10), Duration.ofSeconds(120));
        SdkHttpClient.Builder<?> http = switch (client) {
            case "apache5" -> S3Store.apache5(c);
            case "crt" -> AwsCrtHttpClient.builder().connectionTimeout(c.connectTimeout()).maxConcurrency(64);
            case "urlconnection" -> UrlConnectionHttpClient.builder().connectionTimeout(c.connectTimeout())
                    .socketTimeout(c.requestTimeout());
            default -> throw new IllegalArgumentException("unknown HTTP client " + client + "; one of " + CLIENTS);
        };
        return new S3Store(c, http);
    }

    /** A direct buffer of {@code n} random bytes, as the consolidator's chunk buffers are direct. */
    static ByteBuffer randomDirect(int n, long seed) {
        byte[] b = new byte[n];
        new SplittableRandom(seed).nextBytes(b);
        return ByteBuffer.allocateDirect(n).put(b).flip();
    }

    /**
     * PUTs {@code objects} copies of {@code body} as {@code prefix<i>} from {@code threads}
     * threads, each taking the next index; returns the seconds from the first to the last.
     */
    static double parallelPuts(S3Store store, String prefix, int objects, int threads, ByteBuffer body) throws Exception {
        AtomicInteger next = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            long start = System.nanoTime();
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                fs.add(pool.submit(() -> {
                    for (int i; (i = next.getAndIncrement()) < objects; ) {
                        store.put(prefix + i, body.duplicate());
                    }
                    return null;
                }));
            }
            for (Future<?> f : fs) {
                f.get();
            }
            return (System.nanoTime() - start) / 1e9;
        } finally {
            pool.shutdownNow();
        }
    }

    static void deleteAll(S3Store store, String prefix, int objects) throws IOException {
        for (int i = 0; i < objects; i++) {
            store.delete(prefix + i);
        }
    }

    static double median(List<Double> xs) {
        double[] a = xs.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return a.length % 2 == 1 ? a[a.length / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
    }

    /** The {@code p}-quantile (0..1) of sorted values, nearest rank. */
    static long percentile(long[] sorted, double p) {
        if (sorted.length == 0) {
            return 0;
        }
        int rank = (int) Math.ceil(p * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length, rank) - 1)];
    }

    static long[] sorted(List<long[]> parts, int[] counts) {
        long[] all = new long[Arrays.stream(counts).sum()];
        int at = 0;
        for (int i = 0; i < parts.size(); i++) {
            System.arraycopy(parts.get(i), 0, all, at, counts[i]);
            at += counts[i];
        }
        Arrays.sort(all);
        return all;
    }

    static String fmt(double x) {
        return String.format(Locale.ROOT, x >= 100 ? "%,.0f" : "%.2f", x);
    }

    static String machine() {
        String cpu = "?";
        try {
            cpu = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                    .map(l -> l.substring(l.indexOf(':') + 1).trim()).findFirst().orElse("?");
        } catch (IOException e) {
            // not Linux: the name stays unknown
        }
        return Runtime.getRuntime().availableProcessors() + " CPUs (" + cpu + "), JDK " + Runtime.version();
    }

    /** Maps, lists, strings and numbers as JSON. */
    static String json(Object o) {
        if (o instanceof Map<?, ?> m) {
            List<String> parts = new ArrayList<>();
            m.forEach((k, v) -> parts.add(json(String.valueOf(k)) + ": " + json(v)));
            return "{" + String.join(", ", parts) + "}";
        }
        if (o instanceof List<?> l) {
            return "[" + String.join(", ", l.stream().map(S3BenchKit::json).toList()) + "]";
        }
        if (o instanceof Double d) {
            return String.format(Locale.ROOT, "%.4f", d);
        }
        if (o instanceof Number n) {
            return n.toString();
        }
        return "\"" + String.valueOf(o).replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }

    static void writeJson(Path file, Object o) {
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            Files.writeString(file, json(o) + "\n", StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }
}
