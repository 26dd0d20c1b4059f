package io.viperblock.core.volume;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.core.format.Formats;
import io.viperblock.core.io.NioFs;
import io.viperblock.core.store.FaultyStore;
import io.viperblock.core.store.ObjectStore;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The engine's randomized model and crash scenarios, for any store: the core runs them on the
 * memory and file stores, other modules (the S3 store) on theirs, so every store is held to the
 * same suite. Public, in the core test-jar. Each run is reproducible from the seed it prints.
 */
public final class VolumeScenarios {
    /** 1536 blocks: more than one chunk. */
    public static final int SIZE = 6 << 20;
    private static final int BLOCK = Formats.BLOCK_SIZE;

    private VolumeScenarios() {}

    /** Small segments and frequent checkpoints, so a short run exercises consolidation and recovery. */
    public static VolumeConfig smallConfig() {
        return VolumeConfig.defaults().withSegmentBytes(1 << 20).withMaxPendingWalBytes(4 << 20).withKeptWalBytes(4 << 20).withSealAfter(Duration.ofMillis(20))
                .withCheckpointEvery(3).withCacheBytes(1 << 20).withUploadParallelism(2).withSweepEvery(Duration.ZERO);
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
        long collected = 0;
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
                    collected += v.stats().chunksDeleted();
                    v.close();
                    v = mgr.open("model");
                    reopens++;
                } else {
                    long[] r = randomRange(rnd);
                    byte[] got = v.read(r[0], (int) r[1]);
                    byte[] want = Arrays.copyOfRange(model.bytes, (int) r[0], (int) (r[0] + r[1]));
                    assertTrue(Arrays.equals(got, want), at + ": ranged read differs");
                    assertSparseRead(v, model, r[0], (int) r[1], at);
                    long first = r[0] / BLOCK;
                    long end = Math.min(SIZE / BLOCK, (r[0] + r[1] + BLOCK - 1) / BLOCK + rnd.nextInt(3));
                    assertSparseRead(v, model, first * BLOCK, (int) ((end - first) * BLOCK), at);
                }
                model.assertMatches(v, at);
            }
            assertTrue(reopens > 0, ctx + ": the run never reopened the volume");
            consolidations += v.stats().consolidations();
            checkpoints += v.stats().checkpoints();
            collected += v.stats().chunksDeleted();
            assertTrue(consolidations > 0 && checkpoints > 0, ctx + ": the run never consolidated (" + consolidations
                    + ") or checkpointed (" + checkpoints + ")");
            // with smallConfig the collector looks after every consolidation: chunks whose every
            // block was written again are deleted at the first look that finds them so, once the
            // reads that began before it have ended, while the model checks every read
            assertTrue(collected > 0, ctx + ": no chunk was ever collected (" + checkpoints + " checkpoints)");
        } finally {
            v.close();
        }
        Volume again = mgr.open("model");
        try {
            model.assertMatches(again, ctx + " after the final reopen");
        } finally {
            again.close();
        }
        VolumeCheck.Report check = mgr.check("model", VolumeCheck.Progress.NONE);
        assertTrue(check.clean(), ctx + ": check after the run: " + check.problems());
    }

    /**
     * A sparse read ({@link Volume#readSparse}) into a buffer of garbage: the bytes it wrote and
     * zeros in its holes must be the model's bytes; the holes must be whole blocks, in order, apart
     * from each other, and exactly the blocks block status calls unallocated; a read that is not
     * whole blocks has none.
     */
    static void assertSparseRead(Volume v, VolumeModel model, long off, int len, String at) throws Exception {
        byte[] got = new byte[len];
        Arrays.fill(got, (byte) 0x5A);
        ByteBuffer dst = ByteBuffer.wrap(got);
        List<Volume.Hole> holes = v.readSparse(off, dst, Integer.MAX_VALUE);
        String what = at + ": sparse read of " + len + " at " + off;
        assertEquals(len, dst.position(), what + ": position");
        boolean aligned = off % BLOCK == 0 && len % BLOCK == 0;
        boolean[] hole = new boolean[len / BLOCK];
        int last = -1;
        for (Volume.Hole h : holes) {
            assertTrue(aligned, what + ": holes in a read that is not whole blocks: " + holes);
            assertTrue(h.offset() > last && h.length() > 0 && h.end() <= len && h.offset() % BLOCK == 0 && h.length() % BLOCK == 0,
                    what + ": holes out of order, joined, empty or not whole blocks: " + holes);
            Arrays.fill(got, h.offset(), h.end(), (byte) 0);
            Arrays.fill(hole, h.offset() / BLOCK, h.end() / BLOCK, true);
            last = h.end();
        }
        assertTrue(Arrays.equals(Arrays.copyOfRange(model.bytes, (int) off, (int) off + len), got), what + ": bytes differ");
        if (aligned) {
            boolean[] unallocated = new boolean[len / BLOCK];
            for (StatusExtent e : v.blockStatus(off, len)) {
                if (!e.allocated()) {
                    long from = Math.max(off, e.offset());
                    long to = Math.min(off + len, e.offset() + e.length());
                    Arrays.fill(unallocated, (int) ((from - off) / BLOCK), (int) ((to - off) / BLOCK), true);
                }
            }
            assertTrue(Arrays.equals(unallocated, hole), what + ": holes " + holes + " are not block status's holes");
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

    /**
     * Two nodes (two data directories) on one store: the second is refused while the first holds
     * the lease, takes it over by force, and the first is fenced: the delta it stores just after
     * the takeover (its lease check passed a moment before) and the checkpoint after it are
     * ignored by every later reader, its next consolidation finds the lease gone and every
     * operation fails, and when it opens the volume again its stale WAL is discarded.
     */
    public static void takeover(ObjectStore store, Path dir, String label) throws Exception {
        VolumeConfig cfg = smallConfig().withSealAfter(Duration.ofHours(1)).withCheckpointEvery(1); // consolidate only on drain
        FaultyStore aStore = new FaultyStore(store, 1);
        VolumeManager a = new VolumeManager(aStore, dir.resolve("node-a"), NioFs.INSTANCE, cfg);
        VolumeManager b = new VolumeManager(store, dir.resolve("node-b"), NioFs.INSTANCE, cfg);
        a.create("t", SIZE);
        Volume va = a.open("t");
        writeBlock(va, 0, 'a');
        va.drain();
        writeBlock(va, 1, 'b');
        va.flush(); // durable in A's WAL only

        VolumeInUseException refused = assertThrows(VolumeInUseException.class, () -> b.open("t"), label);
        assertTrue(refused.getMessage().contains(a.nodeId()), label + ": " + refused.getMessage());

        // A's next delta is stored just after B takes over (A's lease check has passed), writes and
        // stores a delta and a checkpoint of its own; meanwhile A's WAL runs its sequence numbers
        // ahead of anything B has seen, so A's late objects would sort after B's without the seal.
        AtomicReference<Volume> vbRef = new AtomicReference<>();
        aStore.beforePut(key -> {
            if (key.endsWith(".delta") && vbRef.get() == null) {
                Volume vb = b.open("t", true);
                vbRef.set(vb);
                writeBlock(vb, 3, 'B');
                vb.drain();
                for (int i = 0; i < 50; i++) {
                    writeBlock(va, 4, 'x');
                }
            }
        });
        writeBlock(va, 2, 'c');
        va.drain(); // stores its delta and a checkpoint after the takeover
        aStore.beforePut(null);
        Volume vb = vbRef.get();
        assertTrue(vb != null && vb.epoch() > va.epoch(), label);
        expectBlocks(vb, label + ": B after takeover", 'a', 0, 0, 'B', 0);

        // A's next consolidation finds the lease gone; from then on every operation fails.
        VolumeFencedException fenced = assertThrows(VolumeFencedException.class, va::drain, label);
        assertTrue(fenced.getMessage().contains(b.nodeId()), label + ": " + fenced.getMessage());
        assertTrue(va.isFenced(), label);
        assertThrows(VolumeFencedException.class, () -> writeBlock(va, 5, 'y'), label);
        assertThrows(VolumeFencedException.class, () -> va.read(0, 4096), label);
        assertThrows(VolumeFencedException.class, va::close, label);

        expectBlocks(vb, label + ": B after A was fenced", 'a', 0, 0, 'B', 0);
        vb.close();
        VolumeManager c = new VolumeManager(store, dir.resolve("node-c"), NioFs.INSTANCE, cfg);
        try (Volume vc = c.open("t")) {
            expectBlocks(vc, label + ": a third node", 'a', 0, 0, 'B', 0);
        }
        // A's node opens it again: its WAL (blocks 1 and 4) is stale and discarded.
        VolumeManager a2 = new VolumeManager(store, dir.resolve("node-a"), NioFs.INSTANCE, cfg);
        try (Volume v = a2.open("t")) {
            assertEquals(0, v.recovered().walRecords(), label);
            expectBlocks(v, label + ": A's node again", 'a', 0, 0, 'B', 0);
        }
    }

    private static void writeBlock(Volume v, int block, char fill) throws java.io.IOException {
        byte[] b = new byte[4096];
        Arrays.fill(b, (byte) fill);
        v.write(block * 4096L, b, false);
    }

    private static void expectBlocks(Volume v, String ctx, int... fills) throws Exception {
        for (int i = 0; i < fills.length; i++) {
            byte[] want = new byte[4096];
            Arrays.fill(want, (byte) fills[i]);
            byte[] got = v.read(i * 4096L, 4096);
            assertTrue(Arrays.equals(want, got), ctx + ": block " + i + " holds " + (char) got[0] + " (" + got[0] + "), expected " + fills[i]);
        }
    }
}
