package io.viperblock.bench;

import static io.viperblock.bench.S3BenchKit.MB;
import static io.viperblock.bench.S3BenchKit.OBJECT;
import static io.viperblock.bench.S3BenchKit.fmt;

import io.viperblock.core.io.NioFs;
import io.viperblock.core.volume.Volume;
import io.viperblock.core.volume.VolumeConfig;
import io.viperblock.core.volume.VolumeManager;
import io.viperblock.core.volume.VolumeStats;
import io.viperblock.s3.S3ProxyFixture;
import io.viperblock.s3.S3Store;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The volume engine on an {@link S3Store} over s3proxy in this JVM:
 * <ol>
 * <li><b>Consolidation throughput.</b> In rounds (4; 2 with {@code --quick}), writes a share of
 *     {@code --mib} MiB (512; 128 with {@code --quick}) into a volume (default configuration: 64 MiB
 *     segments, 4 parallel uploads) while chunk uploads wait at a gate
 *     ({@link BenchStores.ChunkGate}), flushes, then opens the gate and times {@code drain()}: WAL
 *     to chunks to the store, map deltas included. Right after, the same store puts as many 4 MiB
 *     objects as the drain wrote chunks, with the same parallelism as the consolidator's uploads. Reported: both in MB/s of bytes sent, and their
 *     ratio, medians over the rounds; and, to tell the engine's share from the store's, the same drain into a store that
 *     drops the chunks ({@link BenchStores.ChunkSink}).</li>
 * <li><b>Cold random 4 KiB reads.</b> The volume is closed and reopened (empty block cache, chunk
 *     footers not yet known), then block-aligned random 4 KiB reads of the written range run for a
 *     fixed time from 1 and from 16 threads (a reopen before each): IOPS, p50 and p99 latency.</li>
 * </ol>
 * The WAL lives under the bench dir ({@link BenchDir}), which should be on a real disk.
 *
 * <pre>java -cp benchmarks.jar io.viperblock.bench.S3EngineBench [--quick] [--mib N] [--json FILE]</pre>
 */
public final class S3EngineBench {
    private S3EngineBench() {}

    public static void main(String[] args) throws Exception {
        boolean quick = List.of(args).contains("--quick");
        int mib = Integer.parseInt(S3ClientBench.option(args, "--mib", quick ? "128" : "512"));
        double readSeconds = quick ? 3 : 10;
        int rounds = quick ? 2 : 4;
        VolumeConfig config = VolumeConfig.defaults().withSealAfter(Duration.ofHours(1));
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("benchmark", "s3-engine");
        out.put("machine", S3BenchKit.machine());
        out.put("settings", Map.of("writtenMiB", mib, "rounds", rounds, "uploadParallelism", config.uploadParallelism(),
                "segmentBytes", config.segmentBytes(), "readSecondsPerRun", readSeconds, "client", "apache5"));
        Path dir = BenchDir.fresh("s3-engine");
        try (S3ProxyFixture proxy = S3ProxyFixture.start(); S3Store store = S3BenchKit.store(proxy, "apache5")) {
            BenchStores.ChunkGate gated = new BenchStores.ChunkGate(store);
            VolumeManager mgr = new VolumeManager(gated, dir, NioFs.INSTANCE, config);
            mgr.create("bench", 2L * mib << 20);
            Map<String, Object> drain;
            try (Volume v = mgr.open("bench")) {
                drain = consolidation(v, gated, store, mib, rounds, config.uploadParallelism());
            }
            // the same drain into a store that takes chunks and drops them: the engine's own cost
            BenchStores.ChunkGate sink = new BenchStores.ChunkGate(new BenchStores.ChunkSink());
            VolumeManager local = new VolumeManager(sink, dir.resolve("sink"), NioFs.INSTANCE, config);
            local.create("bench", 2L * mib << 20);
            try (Volume v = local.open("bench")) {
                Drain d = fillAndDrain(v, sink, 0, mib / rounds);
                drain.put("drainWithoutUploadMBps", d.chunkBytes / MB / d.seconds);
            }
            out.put("consolidation", drain);
            List<Object> reads = new ArrayList<>();
            for (int threads : new int[] {1, 16}) {
                try (Volume v = mgr.open("bench")) { // a fresh open: nothing cached
                    reads.add(coldReads(v, (long) mib << 20, threads, readSeconds));
                }
            }
            out.put("coldReads", reads);
            report(drain, reads);
        } finally {
            BenchDir.deleteTree(dir);
        }
        String json = S3ClientBench.option(args, "--json", null);
        if (json != null) {
            S3BenchKit.writeJson(Path.of(json), out);
            System.out.println();
            System.out.println("results: " + json);
        }
    }

    /** What one timed drain did. */
    private record Drain(double writeSeconds, double seconds, long chunks, long chunkBytes) {}

    /**
     * Writes {@code mib} MiB from MiB {@code firstMib} on in 1 MiB writes while {@code gate} holds
     * chunk uploads, flushes, then opens the gate and times {@code drain()}.
     */
    private static Drain fillAndDrain(Volume v, BenchStores.ChunkGate gate, int firstMib, int mib) throws Exception {
        gate.shut();
        ByteBuffer block = S3BenchKit.randomDirect(1 << 20, 2);
        long t0 = System.nanoTime();
        for (int i = firstMib; i < firstMib + mib; i++) {
            for (int b = 0; b < (1 << 20); b += 4096) {
                block.putLong(b, ((long) i << 32) | b); // every block differs
            }
            v.write((long) i << 20, block.duplicate(), false);
        }
        v.flush();
        double writeSecs = (System.nanoTime() - t0) / 1e9;
        VolumeStats before = v.stats();
        long start = System.nanoTime();
        gate.open(); // a pass over a segment sealed meanwhile may be waiting at the gate: drain waits for it
        v.drain();
        double secs = (System.nanoTime() - start) / 1e9;
        VolumeStats after = v.stats();
        long chunkBytes = after.chunkBytesWritten() - before.chunkBytesWritten();
        if (chunkBytes < (long) mib << 20 || after.dirtyExtents() != 0) {
            throw new IllegalStateException("drain wrote " + chunkBytes + " chunk bytes for " + mib
                    + " MiB written; dirty extents left: " + after.dirtyExtents());
        }
        return new Drain(writeSecs, secs, after.chunksWritten() - before.chunksWritten(), chunkBytes);
    }

    /**
     * Rounds of: {@code mib / rounds} MiB written and drained (timed), then as many raw 4 MiB PUTs
     * as the drain wrote chunks (timed), so both see the machine in the same mood; medians.
     */
    private static Map<String, Object> consolidation(Volume v, BenchStores.ChunkGate gate, S3Store store, int mib, int rounds,
            int parallelism) throws Exception {
        ByteBuffer body = S3BenchKit.randomDirect(OBJECT, 3);
        List<Double> drainMBps = new ArrayList<>();
        List<Double> rawMBps = new ArrayList<>();
        List<Double> ratios = new ArrayList<>();
        long chunks = 0;
        long chunkBytes = 0;
        double drainSecs = 0;
        int each = mib / rounds;
        for (int round = 0; round < rounds; round++) {
            Drain d = fillAndDrain(v, gate, round * each, each);
            double rawSecs = S3BenchKit.parallelPuts(store, "raw/", (int) d.chunks, parallelism, body);
            S3BenchKit.deleteAll(store, "raw/", (int) d.chunks);
            double dm = d.chunkBytes / MB / d.seconds;
            double rm = d.chunks * (double) OBJECT / MB / rawSecs;
            System.out.printf("[vb] round %d: %d MiB written in %.1f s; drain %.1f s, %d chunks, %s MB/s; raw PUTs %s MB/s; %.2fx%n",
                    round, each, d.writeSeconds, d.seconds, d.chunks, fmt(dm), fmt(rm), dm / rm);
            drainMBps.add(dm);
            rawMBps.add(rm);
            ratios.add(dm / rm);
            chunks += d.chunks;
            chunkBytes += d.chunkBytes;
            drainSecs += d.seconds;
        }
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("writtenBytes", (long) mib << 20);
        r.put("rounds", rounds);
        r.put("drainSecondsTotal", drainSecs);
        r.put("chunks", chunks);
        r.put("chunkBytes", chunkBytes);
        r.put("drainMBps", drainMBps);
        r.put("rawPutMBps", rawMBps);
        r.put("ratios", ratios);
        r.put("drainMBpsMedian", S3BenchKit.median(drainMBps));
        r.put("rawPutMBpsMedian", S3BenchKit.median(rawMBps));
        r.put("ratioMedian", S3BenchKit.median(ratios));
        return r;
    }

    private static Map<String, Object> coldReads(Volume v, long span, int threads, double seconds) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        VolumeStats before = v.stats();
        List<long[]> lat = new ArrayList<>();
        int[] counts = new int[threads];
        long start = System.nanoTime();
        long end = start + (long) (seconds * 1e9);
        try {
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int id = t;
                long[] mine = new long[1 << 16];
                lat.add(mine);
                fs.add(pool.submit(() -> {
                    SplittableRandom rnd = new SplittableRandom(100 + id);
                    ByteBuffer dst = ByteBuffer.allocateDirect(4096);
                    long[] l = mine;
                    int n = 0;
                    for (long now = System.nanoTime(); now < end; ) {
                        dst.clear();
                        v.read(4096L * rnd.nextLong(span / 4096), dst);
                        long done = System.nanoTime();
                        if (n == l.length) {
                            l = Arrays.copyOf(l, 2 * n);
                            lat.set(id, l);
                        }
                        l[n++] = done - now;
                        now = done;
                    }
                    counts[id] = n;
                    return null;
                }));
            }
            for (Future<?> f : fs) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
        double secs = (System.nanoTime() - start) / 1e9;
        long[] all = S3BenchKit.sorted(lat, counts);
        VolumeStats after = v.stats();
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("threads", threads);
        r.put("reads", all.length);
        r.put("seconds", secs);
        r.put("iops", all.length / secs);
        r.put("p50Micros", S3BenchKit.percentile(all, 0.50) / 1000);
        r.put("p99Micros", S3BenchKit.percentile(all, 0.99) / 1000);
        r.put("cacheHits", after.cacheHits() - before.cacheHits());
        r.put("storeReads", after.storeReads() - before.storeReads());
        return r;
    }

    private static void report(Map<String, Object> d, List<Object> reads) {
        System.out.println();
        System.out.println("### Consolidation into S3 (s3proxy in this JVM) vs raw parallel PUTs of the same store");
        System.out.println();
        System.out.println("| written (rounds) | chunks | drain MB/s | raw PUT MB/s (same count, same parallelism) | drain / raw"
                + " | drain MB/s without uploads (engine alone) |");
        System.out.println("|---:|---:|---:|---:|---:|---:|");
        System.out.printf("| %d MiB (%s) | %s | %s | %s | %.2fx | %s |%n", (Long) d.get("writtenBytes") >> 20, d.get("rounds"),
                d.get("chunks"), fmt((Double) d.get("drainMBpsMedian")), fmt((Double) d.get("rawPutMBpsMedian")),
                (Double) d.get("ratioMedian"), fmt((Double) d.get("drainWithoutUploadMBps")));
        System.out.println();
        System.out.println("Medians over rounds; each round drains its share of the WAL, then puts as many raw objects.");
        System.out.println();
        System.out.println("### Cold random 4 KiB reads from the S3 store (volume reopened: empty cache)");
        System.out.println();
        System.out.println("| threads | reads | IOPS | p50 ms | p99 ms | cache hits | store reads |");
        System.out.println("|---:|---:|---:|---:|---:|---:|---:|");
        for (Object o : reads) {
            Map<?, ?> r = (Map<?, ?>) o;
            System.out.printf("| %s | %s | %s | %.2f | %.2f | %s | %s |%n", r.get("threads"), r.get("reads"), fmt((Double) r.get("iops")),
                    (Long) r.get("p50Micros") / 1000.0, (Long) r.get("p99Micros") / 1000.0, r.get("cacheHits"), r.get("storeReads"));
        }
    }
}
