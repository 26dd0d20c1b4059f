package io.viperblock.core.volume;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.core.io.NioFs;
import io.viperblock.core.store.ObjectStore;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The engine's randomized model and crash scenarios, for any store: the core runs them on the
 * memory and file stores, other modules (the S3 store) on theirs, so every store is held to the
 * same suite. Public, in the core test-jar. Each run is reproducible from the seed it prints.
 */
public final class VolumeScenarios {
    /** 1536 blocks: more than one chunk. */
    public static final int SIZE = 6 << 20;

    private VolumeScenarios() {}

    /** Small segments and frequent checkpoints, so a short run exercises consolidation and recovery. */
    public static VolumeConfig smallConfig() {
        return VolumeConfig.defaults().withSegmentBytes(1 << 20).withMaxPendingWalBytes(4 << 20).withSealAfter(Duration.ofMillis(20))
                .withCheckpointEvery(3).withCacheBytes(1 << 20).withUploadParallelism(2);
    }

    /**
     * Random writes (aligned and not, 1 byte to 1 MiB), trims, zeroes, flushes, drains, closes and
     * reopens, each followed by a byte-for-byte comparison of the whole volume with a plain array.
     */
    public static void model(ObjectStore store, Path dataDir, long seed, int steps, String label) throws Exception {
        SplittableRandom rnd = new SplittableRandom(seed);
        String ctx = "seed " + seed + " (" + label + ")";
        VolumeManager mgr = new VolumeManager(store, dataDir, NioFs.INSTANCE, smallConfig());
        mgr.create("model", SIZE);
        VolumeModel model = new VolumeModel(SIZE);
        Volume v = mgr.open("model");
        int reopens = 0;
        long consolidations = 0;
        long checkpoints = 0;
        try {
            for (int step = 0; step < steps; step++) {
                String at = ctx + " step " + step;
                int op = rnd.nextInt(100);
                if (op < 60) {
                    long[] r = randomRange(rnd);
                    byte[] data = new byte[(int) r[1]];
                    rnd.nextBytes(data);
                    v.write(r[0], data, rnd.nextInt(10) == 0);
                    model.write(r[0], data);
                } else if (op < 70) {
                    long[] r = randomRange(rnd);
                    v.trim(r[0], r[1]);
                    model.zero(r[0], r[1]);
                } else if (op < 80) {
                    long[] r = randomRange(rnd);
                    v.writeZeroes(r[0], r[1], false);
                    model.zero(r[0], r[1]);
                } else if (op < 88) {
                    v.flush();
                } else if (op < 93) {
                    v.drain();
                    assertEquals(0, v.stats().dirtyExtents(), at + ": drain left dirty extents");
                } else if (op < 96) {
                    consolidations += v.stats().consolidations();
                    checkpoints += v.stats().checkpoints();
                    v.close();
                    v = mgr.open("model");
                    reopens++;
                } else {
                    long[] r = randomRange(rnd);
                    byte[] got = v.read(r[0], (int) r[1]);
                    byte[] want = Arrays.copyOfRange(model.bytes, (int) r[0], (int) (r[0] + r[1]));
                    assertTrue(Arrays.equals(got, want), at + ": ranged read differs");
                }
                model.assertMatches(v, at);
            }
            assertTrue(reopens > 0, ctx + ": the run never reopened the volume");
            consolidations += v.stats().consolidations();
            checkpoints += v.stats().checkpoints();
            assertTrue(consolidations > 0 && checkpoints > 0, ctx + ": the run never consolidated (" + consolidations
                    + ") or checkpointed (" + checkpoints + ")");
        } finally {
            v.close();
        }
        Volume again = mgr.open("model");
        try {
            model.assertMatches(again, ctx + " after the final reopen");
        } finally {
            again.close();
        }
    }

    /**
     * kill -9 in a JVM: the volume is abandoned at random points (no close, no sync, no drain, the
     * lease left held) and opened again by a new manager on the same data directory, as a
     * restarted process would. Every acknowledged write must be there.
     */
    public static void crash(ObjectStore store, Path dataDir, long seed, int crashes, String label) throws Exception {
        SplittableRandom rnd = new SplittableRandom(seed);
        VolumeManager mgr = new VolumeManager(store, dataDir, NioFs.INSTANCE, smallConfig());
        mgr.create("crash", SIZE);
        VolumeModel model = new VolumeModel(SIZE);
        Volume v = mgr.open("crash");
        long epoch = v.epoch();
        for (int crash = 0; crash < crashes; crash++) {
            int ops = rnd.nextInt(120);
            for (int i = 0; i < ops; i++) {
                long[] r = randomRange(rnd);
                int op = rnd.nextInt(10);
                if (op < 7) {
                    byte[] d = new byte[(int) r[1]];
                    rnd.nextBytes(d);
                    v.write(r[0], d, false);
                    model.write(r[0], d);
                } else if (op < 8) {
                    v.trim(r[0], r[1]);
                    model.zero(r[0], r[1]);
                } else if (op < 9) {
                    v.writeZeroes(r[0], r[1], false);
                    model.zero(r[0], r[1]);
                } else {
                    v.flush();
                }
            }
            v.abandon();
            mgr = new VolumeManager(store, dataDir, NioFs.INSTANCE, smallConfig());
            v = mgr.open("crash");
            assertTrue(v.epoch() > epoch, "the node takes its own lease back with a new epoch");
            epoch = v.epoch();
            model.assertMatches(v, "seed " + seed + " (" + label + ") after crash " + crash);
        }
        v.close();
    }

    /** An offset and length inside the volume: often block-aligned, often tiny, sometimes 1 MiB. */
    public static long[] randomRange(SplittableRandom rnd) {
        return randomRange(rnd, 1 << 20);
    }

    /** As above, with lengths up to {@code max} bytes. */
    public static long[] randomRange(SplittableRandom rnd, int max) {
        int len;
        switch (rnd.nextInt(4)) {
            case 0 -> len = 1 + rnd.nextInt(64);
            case 1 -> len = 4096 * (1 + rnd.nextInt(8));
            case 2 -> len = 1 + rnd.nextInt(max);
            default -> len = 1 + rnd.nextInt(3 * 4096);
        }
        long off = rnd.nextBoolean() ? 4096L * rnd.nextInt(SIZE / 4096) : rnd.nextInt(SIZE);
        if (off + len > SIZE) {
            off = SIZE - len;
        }
        return new long[] {off, len};
    }
}
