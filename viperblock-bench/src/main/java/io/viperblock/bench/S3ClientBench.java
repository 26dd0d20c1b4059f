package io.viperblock.bench;

import static io.viperblock.bench.S3BenchKit.MB;
import static io.viperblock.bench.S3BenchKit.OBJECT;
import static io.viperblock.bench.S3BenchKit.fmt;

import io.viperblock.s3.S3ProxyFixture;
import io.viperblock.s3.S3Store;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Which of the SDK's HTTP clients should carry the S3 store: 4 MiB PUT throughput (4 threads, as
 * the consolidator uploads) and 4 KiB ranged GET rate (4 threads, random block-aligned offsets of
 * one 4 MiB object), through {@link S3Store} itself, on the Apache 5 client (the store's own), the
 * CRT client and the URLConnection client, against s3proxy in this JVM. Rounds interleave the
 * clients (the order rotating each round) so a drift of the machine falls on all of them alike;
 * the result per client is the median over rounds. One untimed round warms up each client.
 *
 * <p>Caveat: s3proxy runs in the same JVM on the same cores, so the numbers compare the clients'
 * costs on this machine, not what a remote S3 service would give.
 *
 * <pre>java -cp benchmarks.jar io.viperblock.bench.S3ClientBench [--quick] [--json FILE]</pre>
 */
public final class S3ClientBench {
    /**
     * The object the ranged GETs read. Small, because s3proxy's in-memory store copies the whole
     * object for each ranged GET: a 4 MiB one makes every client measure that copy.
     */
    static final int GET_OBJECT = 64 << 10;

    private S3ClientBench() {}

    public static void main(String[] args) throws Exception {
        boolean quick = List.of(args).contains("--quick");
        int rounds = quick ? 3 : 5;
        int objects = quick ? 16 : 32;
        double getSeconds = quick ? 1 : 2;
        int threads = 4;
        int getObject = Integer.parseInt(option(args, "--get-object-bytes", String.valueOf(GET_OBJECT)));
        Map<String, List<Double>> put = new LinkedHashMap<>();
        Map<String, List<Double>> get = new LinkedHashMap<>();
        ByteBuffer body = S3BenchKit.randomDirect(OBJECT, 1);
        try (S3ProxyFixture proxy = S3ProxyFixture.start()) {
            Map<String, S3Store> stores = new LinkedHashMap<>();
            for (String c : S3BenchKit.CLIENTS) {
                S3Store s = S3BenchKit.store(proxy, c);
                s.put("get/object", body.duplicate().limit(getObject));
                stores.put(c, s);
                put.put(c, new ArrayList<>());
                get.put(c, new ArrayList<>());
            }
            for (int round = -1; round < rounds; round++) { // round -1 warms up, untimed
                List<String> order = new ArrayList<>(S3BenchKit.CLIENTS);
                java.util.Collections.rotate(order, -Math.max(round, 0));
                for (String c : order) {
                    S3Store s = stores.get(c);
                    int n = round < 0 ? 8 : objects;
                    double secs = S3BenchKit.parallelPuts(s, "put/", n, threads, body);
                    S3BenchKit.deleteAll(s, "put/", n);
                    double rate = rangedGets(s, threads, round < 0 ? 0.5 : getSeconds, getObject);
                    if (round >= 0) {
                        put.get(c).add((double) n * OBJECT / MB / secs);
                        get.get(c).add(rate);
                        System.out.printf("[vb] round %d %-13s PUT %8s MB/s   GET %8s /s%n", round, c,
                                fmt((double) n * OBJECT / MB / secs), fmt(rate));
                    }
                }
            }
            for (S3Store s : stores.values()) {
                s.close();
            }
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("benchmark", "s3-http-clients");
        out.put("machine", S3BenchKit.machine());
        out.put("settings", Map.of("rounds", rounds, "putObjects", objects, "objectBytes", OBJECT, "threads", threads,
                "getSecondsPerRound", getSeconds, "getObjectBytes", getObject));
        Map<String, Object> results = new LinkedHashMap<>();
        double basePut = S3BenchKit.median(put.get("apache5"));
        double baseGet = S3BenchKit.median(get.get("apache5"));
        System.out.println();
        System.out.println("### S3 HTTP clients through S3Store against s3proxy (medians of " + rounds + " interleaved rounds)");
        System.out.println();
        System.out.println("| client | 4 MiB PUT MB/s (" + threads + " threads) | vs apache5 | 4 KiB ranged GET/s (" + threads
                + " threads) | vs apache5 |");
        System.out.println("|---|---:|---:|---:|---:|");
        for (String c : S3BenchKit.CLIENTS) {
            double p = S3BenchKit.median(put.get(c));
            double g = S3BenchKit.median(get.get(c));
            results.put(c, Map.of("putMBps", put.get(c), "putMBpsMedian", p, "getPerSecond", get.get(c), "getPerSecondMedian", g));
            System.out.printf("| %s | %s | %.2fx | %s | %.2fx |%n", c, fmt(p), p / basePut, fmt(g), g / baseGet);
        }
        out.put("results", results);
        String json = option(args, "--json", null);
        if (json != null) {
            S3BenchKit.writeJson(Path.of(json), out);
            System.out.println();
            System.out.println("results: " + json);
        }
    }

    /** The value after {@code name} in {@code args}, or {@code otherwise}. */
    static String option(String[] args, String name, String otherwise) {
        for (int i = 0; i + 1 < args.length; i++) {
            if (args[i].equals(name)) {
                return args[i + 1];
            }
        }
        return otherwise;
    }

    /** Random block-aligned 4 KiB ranged reads of {@code get/object} from {@code threads} threads; reads per second. */
    private static double rangedGets(S3Store store, int threads, double seconds, int objectBytes) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            long end = System.nanoTime() + (long) (seconds * 1e9);
            long start = System.nanoTime();
            List<Future<Integer>> fs = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                long seed = t;
                fs.add(pool.submit(() -> {
                    SplittableRandom rnd = new SplittableRandom(seed);
                    ByteBuffer dst = ByteBuffer.allocate(4096);
                    int n = 0;
                    while (System.nanoTime() < end) {
                        dst.clear();
                        if (store.read("get/object", 4096L * rnd.nextInt(objectBytes / 4096), dst) != 4096) {
                            throw new IllegalStateException("short ranged read");
                        }
                        n++;
                    }
                    return n;
                }));
            }
            int total = 0;
            for (Future<Integer> f : fs) {
                total += f.get();
            }
            return total / ((System.nanoTime() - start) / 1e9);
        } finally {
            pool.shutdownNow();
        }
    }
}
