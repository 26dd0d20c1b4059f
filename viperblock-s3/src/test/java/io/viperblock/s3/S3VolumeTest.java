package io.viperblock.s3;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.viperblock.core.io.NioFs;
import io.viperblock.core.volume.Volume;
import io.viperblock.core.volume.VolumeConfig;
import io.viperblock.core.volume.VolumeManager;
import io.viperblock.core.volume.VolumeScenarios;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The volume engine on an S3Store over a real s3proxy: data written, drained into chunks and map
 * objects, read back after a reopen, on this node and on another.
 *
 * <p>The model and crash scenarios are the core's ({@link VolumeScenarios}), run here on S3
 * (reproduce with -Dvb.seed=N).
 */
class S3VolumeTest {
    static final int SIZE = 6 << 20; // 1536 blocks: more than one 4 MiB chunk

    @RegisterExtension
    static final S3ProxyFixture proxy = S3ProxyFixture.perClass();

    @TempDir
    Path tmp;


    static VolumeConfig smallConfig() {
        return VolumeScenarios.smallConfig();
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
    void randomOperationsMatchTheModel() throws Exception {
        // the same scenario the core runs on the memory and file stores
        try (S3Store store = new S3Store(proxy.config(proxy.newBucket(), ""))) {
            VolumeScenarios.model(store, tmp.resolve("data"), Long.getLong("vb.seed", System.nanoTime()),
                    Integer.getInteger("vb.steps", 400), "s3");
        }
    }

    /** Every chunk and map object above 64 KiB goes up as a multipart upload (of one part). */
    @Test
    void randomOperationsMatchTheModelWithMultipartUploads() throws Exception {
        try (S3Store store = new S3Store(proxy.config(proxy.newBucket(), "mp/").withMultipart(64 << 10, S3Config.MIN_PART_SIZE))) {
            VolumeScenarios.model(store, tmp.resolve("data"), Long.getLong("vb.seed", System.nanoTime()),
                    Integer.getInteger("vb.steps", 200), "s3 multipart");
            VolumeScenarios.crash(store, tmp.resolve("crash"), Long.getLong("vb.seed", System.nanoTime()), 5, "s3 multipart");
        }
    }

    @Test
    void everyAcknowledgedWriteSurvivesAbandonment() throws Exception {
        try (S3Store store = new S3Store(proxy.config(proxy.newBucket(), "vb/"))) {
            VolumeScenarios.crash(store, tmp.resolve("data"), Long.getLong("vb.seed", System.nanoTime()), 10, "s3");
        }
    }

    @Test
    void aForcedTakeoverFencesTheOldHolder() throws Exception {
        try (S3Store store = new S3Store(proxy.config(proxy.newBucket(), "vb/"))) {
            VolumeScenarios.takeover(store, tmp, "s3");
        }
    }

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
                proxy.inject((method, bucket, key, query) -> "PUT".equals(method)
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

    static void assertMatches(byte[] model, Volume v, String context) throws Exception {
        byte[] actual = v.read(0, model.length);
        if (!Arrays.equals(actual, model)) {
            int i = Arrays.mismatch(actual, model);
            fail(context + ": volume differs from the model at byte " + i + " (block " + i / 4096 + ")");
        }
    }
}
