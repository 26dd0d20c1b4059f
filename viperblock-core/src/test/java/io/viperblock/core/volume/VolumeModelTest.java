package io.viperblock.core.volume;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.core.store.FileStore;
import io.viperblock.core.store.MemoryStore;
import io.viperblock.core.store.ObjectStore;
import java.nio.file.Path;
import java.time.Duration;
import java.util.SplittableRandom;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Thousands of random writes (aligned and not, 1 byte to 1 MiB), trims, zeroes, flushes, drains,
 * closes and reopens, each followed by a byte-for-byte comparison of the whole volume with a plain
 * array. Reproduce a failure with -Dvb.seed=N (the seed is printed in every message).
 */
class VolumeModelTest {
    static final int SIZE = 6 << 20; // 1536 blocks: more than one chunk

    @TempDir
    Path tmp;

    static VolumeConfig smallConfig() {
        return VolumeConfig.defaults().withSegmentBytes(1 << 20).withMaxPendingWalBytes(4 << 20).withSealAfter(Duration.ofMillis(20))
                .withCheckpointEvery(3).withCacheBytes(1 << 20).withUploadParallelism(2);
    }

    static ObjectStore store(String kind, Path dir) throws Exception {
        return kind.equals("file") ? new FileStore(dir.resolve("store")) : new MemoryStore();
    }

    @ParameterizedTest
    @ValueSource(strings = {"memory", "file"})
    void randomOperationsMatchTheModel(String kind) throws Exception {
        long seed = Long.getLong("vb.seed", System.nanoTime());
        int steps = Integer.getInteger("vb.steps", 2500);
        SplittableRandom rnd = new SplittableRandom(seed);
        String ctx = "seed " + seed + " (" + kind + ")";
        ObjectStore store = store(kind, tmp);
        VolumeManager mgr = new VolumeManager(store, tmp.resolve("data"), io.viperblock.core.io.NioFs.INSTANCE, smallConfig());
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
                    // small reads at random places, unaligned
                    long[] r = randomRange(rnd);
                    byte[] got = v.read(r[0], (int) r[1]);
                    byte[] want = java.util.Arrays.copyOfRange(model.bytes, (int) r[0], (int) (r[0] + r[1]));
                    assertTrue(java.util.Arrays.equals(got, want), at + ": ranged read differs");
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

    /** An offset and length inside the volume: often block-aligned, often tiny, sometimes 1 MiB. */
    static long[] randomRange(SplittableRandom rnd) {
        return randomRange(rnd, 1 << 20);
    }

    /** As above, with lengths up to {@code max} bytes. */
    static long[] randomRange(SplittableRandom rnd, int max) {
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
