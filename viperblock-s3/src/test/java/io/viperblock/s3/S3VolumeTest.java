package io.viperblock.s3;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.viperblock.core.io.NioFs;
import io.viperblock.core.volume.Volume;
import io.viperblock.core.volume.VolumeConfig;
import io.viperblock.core.volume.VolumeManager;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.SplittableRandom;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The volume engine on an S3Store over a real s3proxy: data written, drained into chunks and map
 * objects, read back after a reopen, on this node and on another.
 *
 * <p>The core's model test (VolumeModelTest) is package-private with its stores fixed to memory
 * and file, so {@link #randomOperationsMatchAModel} is a compact seeded copy of it (reproduce with
 * -Dvb.seed=N).
 */
class S3VolumeTest {
    static final int SIZE = 6 << 20; // 1536 blocks: more than one 4 MiB chunk

    static S3ProxyFixture proxy;

    @TempDir
    Path tmp;

    @BeforeAll
    static void startProxy() throws Exception {
        proxy = S3ProxyFixture.start();
    }

    @AfterAll
    static void stopProxy() throws Exception {
        proxy.close();
    }

    static VolumeConfig smallConfig() {
        return VolumeConfig.defaults().withSegmentBytes(1 << 20).withMaxPendingWalBytes(4 << 20).withSealAfter(Duration.ofMillis(20))
                .withCheckpointEvery(3).withCacheBytes(1 << 20).withUploadParallelism(2);
    }

    @Test
    void writeDrainCloseReopenReadBackOnThisNodeAndAnother() throws Exception {
        long seed = Long.getLong("vb.seed", System.nanoTime());
        SplittableRandom rnd = new SplittableRandom(seed);
        byte[] model = new byte[SIZE];
        try (S3Store store = new S3Store(proxy.config(proxy.newBucket(), "vb/"))) {
            VolumeManager mgr = new VolumeManager(store, tmp.resolve("node1"), NioFs.INSTANCE, smallConfig());
            mgr.create("vol", SIZE);
            try (Volume v = mgr.open("vol")) {
                // aligned: whole blocks, some runs longer than a chunk's worth of a segment
                for (int i = 0; i < 20; i++) {
                    int blocks = 1 + rnd.nextInt(64);
                    long off = 4096L * rnd.nextInt(SIZE / 4096 - blocks);
                    write(v, model, rnd, off, blocks * 4096);
                }
                // unaligned: odd offsets and lengths, including single bytes and block-straddling runs
                for (int i = 0; i < 40; i++) {
                    int len = 1 + rnd.nextInt(i % 2 == 0 ? 64 : 3 * 4096);
                    long off = rnd.nextInt(SIZE - len);
                    write(v, model, rnd, off, len);
                }
                v.flush();
                v.drain();
                assertEquals(0, v.stats().dirtyExtents(), "seed " + seed + ": drain left dirty extents");
                assertArrayEquals(model, v.read(0, SIZE), "seed " + seed + ": before close");
            }
            assertTrue(store.list("").size() > 3, "chunks and map objects are in the bucket");
            try (Volume v = mgr.open("vol")) {
                assertMatches(model, v, "seed " + seed + ": after reopen on this node");
                v.dropCache();
                assertMatches(model, v, "seed " + seed + ": after reopen, cache dropped");
            }
            // a clean close leaves everything in the store: another node (data directory) opens it
            VolumeManager other = new VolumeManager(store, tmp.resolve("node2"), NioFs.INSTANCE, smallConfig());
            try (Volume v = other.open("vol")) {
                assertEquals(0, v.recovered().walRecords());
                assertMatches(model, v, "seed " + seed + ": on another node");
            }
        }
    }

    private static void write(Volume v, byte[] model, SplittableRandom rnd, long off, int len) throws Exception {
        byte[] data = new byte[len];
        rnd.nextBytes(data);
        v.write(off, data, false);
        System.arraycopy(data, 0, model, (int) off, len);
    }

    @Test
    void randomOperationsMatchAModel() throws Exception {
        long seed = Long.getLong("vb.seed", System.nanoTime());
        int steps = Integer.getInteger("vb.steps", 300);
        SplittableRandom rnd = new SplittableRandom(seed);
        String ctx = "seed " + seed + " (s3)";
        System.out.println("S3VolumeTest.randomOperationsMatchAModel " + ctx);
        byte[] model = new byte[SIZE];
        try (S3Store store = new S3Store(proxy.config(proxy.newBucket(), ""))) {
            VolumeManager mgr = new VolumeManager(store, tmp.resolve("data"), NioFs.INSTANCE, smallConfig());
            mgr.create("model", SIZE);
            Volume v = mgr.open("model");
            int reopens = 0;
            long consolidations = 0;
            try {
                for (int step = 0; step < steps; step++) {
                    String at = ctx + " step " + step;
                    int op = rnd.nextInt(100);
                    long[] r = randomRange(rnd);
                    if (op < 60) {
                        byte[] data = new byte[(int) r[1]];
                        rnd.nextBytes(data);
                        v.write(r[0], data, rnd.nextInt(10) == 0);
                        System.arraycopy(data, 0, model, (int) r[0], data.length);
                    } else if (op < 68) {
                        v.trim(r[0], r[1]);
                        Arrays.fill(model, (int) r[0], (int) (r[0] + r[1]), (byte) 0);
                    } else if (op < 76) {
                        v.writeZeroes(r[0], r[1], false);
                        Arrays.fill(model, (int) r[0], (int) (r[0] + r[1]), (byte) 0);
                    } else if (op < 82) {
                        v.flush();
                    } else if (op < 88) {
                        v.drain();
                        assertEquals(0, v.stats().dirtyExtents(), at + ": drain left dirty extents");
                    } else if (op < 92) {
                        consolidations += v.stats().consolidations();
                        v.close();
                        v = mgr.open("model");
                        reopens++;
                    } else {
                        byte[] got = v.read(r[0], (int) r[1]);
                        assertArrayEquals(Arrays.copyOfRange(model, (int) r[0], (int) (r[0] + r[1])), got, at + ": ranged read differs");
                    }
                    if (step % 10 == 9 || op >= 82) {
                        assertMatches(model, v, at);
                    }
                }
                consolidations += v.stats().consolidations();
                assertTrue(reopens > 0, ctx + ": the run never reopened the volume");
                assertTrue(consolidations > 0, ctx + ": the run never consolidated");
            } finally {
                v.close();
            }
            try (Volume again = mgr.open("model")) {
                assertMatches(model, again, ctx + " after the final reopen");
            }
        }
    }

    /**
     * 507 Insufficient Storage on every PUT, end to end: the consolidator's uploads fail, writers
     * get ENOSPC once the WAL bound is reached, acknowledged writes stay readable; when the server
     * takes PUTs again, drain catches up and a reopen reads everything from S3.
     */
    @Test
    void insufficientStorageTurnsIntoNoSpaceForWritersAndLosesNothing() throws Exception {
        try (S3Store store = new S3Store(proxy.config(proxy.newBucket(), "").withMaxRetries(1))) {
            VolumeManager mgr = new VolumeManager(store, tmp.resolve("data"), NioFs.INSTANCE,
                    smallConfig().withBackpressureTimeout(Duration.ofSeconds(20)));
            mgr.create("v", 16 << 20);
            Volume v = mgr.open("v");
            int written = 0;
            io.viperblock.core.NoSpaceException full = null;
            try {
                proxy.inject((method, bucket, key) -> "PUT".equals(method)
                        ? S3ProxyFixture.Answer.error(507, "InsufficientStorage") : null);
                for (int i = 0; i < 16 && full == null; i++) {
                    try {
                        v.write((long) i << 20, pattern(1 << 20, i), false);
                        written++;
                    } catch (io.viperblock.core.NoSpaceException e) {
                        full = e;
                    }
                }
            } finally {
                proxy.inject(null);
            }
            assertTrue(full != null, "writes past the WAL bound must fail with ENOSPC while the store is full");
            System.out.println("S3 507: " + written + " MiB acknowledged, then: " + full.getMessage());
            for (int i = 0; i < written; i++) {
                assertArrayEquals(pattern(1 << 20, i), v.read((long) i << 20, 1 << 20), "acknowledged write " + i);
            }
            v.drain(); // the server takes PUTs again: consolidation catches up, and writes succeed again
            v.write(15L << 20, pattern(1 << 20, 15), true);
            v.close();
            try (Volume again = new VolumeManager(store, tmp.resolve("node2"), NioFs.INSTANCE, smallConfig()).open("v")) {
                for (int i = 0; i < written; i++) {
                    assertArrayEquals(pattern(1 << 20, i), again.read((long) i << 20, 1 << 20), "on another node, write " + i);
                }
                assertArrayEquals(pattern(1 << 20, 15), again.read(15L << 20, 1 << 20));
            }
        }
    }

    private static byte[] pattern(int length, int seed) {
        byte[] b = new byte[length];
        new SplittableRandom(seed).nextBytes(b);
        return b;
    }

    /** An offset and length inside the volume: often block-aligned, often tiny, sometimes 1 MiB. */
    static long[] randomRange(SplittableRandom rnd) {
        int len = switch (rnd.nextInt(4)) {
            case 0 -> 1 + rnd.nextInt(64);
            case 1 -> 4096 * (1 + rnd.nextInt(8));
            case 2 -> 1 + rnd.nextInt(1 << 20);
            default -> 1 + rnd.nextInt(3 * 4096);
        };
        long off = rnd.nextBoolean() ? 4096L * rnd.nextInt(SIZE / 4096) : rnd.nextInt(SIZE);
        if (off + len > SIZE) {
            off = SIZE - len;
        }
        return new long[] {off, len};
    }

    static void assertMatches(byte[] model, Volume v, String context) throws Exception {
        byte[] actual = v.read(0, model.length);
        if (!Arrays.equals(actual, model)) {
            int i = Arrays.mismatch(actual, model);
            fail(context + ": volume differs from the model at byte " + i + " (block " + i / 4096 + ")");
        }
    }
}
