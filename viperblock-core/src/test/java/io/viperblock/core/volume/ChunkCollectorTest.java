package io.viperblock.core.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.core.format.Formats;
import io.viperblock.core.io.NioFs;
import io.viperblock.core.store.FaultyStore;
import io.viperblock.core.store.FileStore;
import io.viperblock.core.store.MemoryStore;
import io.viperblock.core.store.ObjectInfo;
import io.viperblock.core.store.ObjectStore;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The chunk collector: chunks the map no longer names leave the store at the first look that
 * finds them so, once every read that began before that look has ended, and not before; nothing
 * the map names ever goes; a writer taken over deletes nothing; a failed delete is tried again.
 */
class ChunkCollectorTest {
    private static final int REGION = 1 << 20; // 256 blocks: one chunk

    @TempDir
    Path tmp;

    /** Only a drain consolidates, the active segment never fills, and each delta is followed by a checkpoint. */
    private static VolumeConfig config(Duration sweepEvery) {
        return VolumeConfig.defaults().withSegmentBytes(8 << 20).withMaxPendingWalBytes(32 << 20).withSealAfter(Duration.ofHours(1))
                .withCheckpointEvery(1).withCacheBytes(1 << 20).withUploadParallelism(2).withSweepEvery(sweepEvery);
    }

    private static List<Long> chunkSeqs(ObjectStore store, String volume) throws Exception {
        List<Long> seqs = new ArrayList<>();
        for (ObjectInfo o : store.list(new VolumeKeys(volume).chunkPrefix())) {
            seqs.add(Formats.seqOfKey(o.key()));
        }
        return seqs;
    }

    /** A store holding chunks 1 to n of the volume (one byte each: a sweep never reads them). */
    private static MemoryStore withChunks(VolumeKeys keys, int n) throws java.io.IOException {
        MemoryStore mem = new MemoryStore();
        for (long seq = 1; seq <= n; seq++) {
            mem.put(keys.chunk(seq), ByteBuffer.wrap(new byte[] {1}));
        }
        return mem;
    }

    /** Deletes run on a thread of their own: waits until {@code n} chunks are deleted in all, and no more. */
    private static void awaitDeleted(Volume v, long n, String what) throws java.io.InterruptedIOException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (v.stats().chunksDeleted() < n && System.nanoTime() < deadline) {
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                throw new java.io.InterruptedIOException();
            }
        }
        assertEquals(n, v.stats().chunksDeleted(), what + ": chunks deleted");
    }

    @Test
    void overwrittenChunksLeaveTheStoreAtTheCheckpointThatFindsThem() throws Exception {
        long seed = Long.getLong("vb.seed", System.nanoTime());
        System.out.println("overwrittenChunksLeaveTheStore: seed=" + seed + " (rerun with -Dvb.seed=" + seed + ")");
        SplittableRandom rnd = new SplittableRandom(seed);
        ObjectStore store = new FileStore(tmp.resolve("store"));
        VolumeManager mgr = new VolumeManager(store, tmp.resolve("data"), NioFs.INSTANCE, config(Duration.ZERO));
        mgr.create("v", 4 * REGION);
        byte[] last = null;
        byte[] kept = new byte[REGION]; // a second region written once: its chunk is named throughout
        rnd.nextBytes(kept);
        try (Volume v = mgr.open("v")) {
            v.write(REGION, kept, false);
            v.drain(); // a chunk of its own
            for (int round = 1; round <= 12; round++) {
                last = new byte[REGION];
                rnd.nextBytes(last);
                v.write(0, last, false);
                v.drain(); // one segment, one chunk of the region's 256 blocks, one delta, one checkpoint
                // the chunk this round's replaced was found unreferenced by this round's sweep, and
                // deleted, as no read was in flight; only the chunk the map names is left
                awaitDeleted(v, round - 1, "round " + round);
                List<Long> seqs = chunkSeqs(store, "v");
                assertEquals(2, seqs.size(), "round " + round + ": chunks in the store " + seqs + " (one is the other region's)");
                assertArrayEquals(last, v.read(0, REGION), "round " + round);
                assertArrayEquals(kept, v.read(REGION, REGION), "round " + round + ": the region written once");
            }
        }
        try (Volume v = mgr.open("v")) {
            assertArrayEquals(last, v.read(0, REGION), "after a reopen");
            assertArrayEquals(kept, v.read(REGION, REGION), "after a reopen");
        }
        VolumeCheck.Report check = mgr.check("v", VolumeCheck.Progress.NONE);
        assertTrue(check.clean(), check.problems().toString());
    }

    @Test
    void garbageFromBeforeARestartGoesWithoutACheckpoint() throws Exception {
        ObjectStore store = new MemoryStore();
        // the first consolidation of each run looks; no other does
        VolumeConfig noCheckpoints = config(Duration.ofHours(1)).withCheckpointEvery(1000);
        byte[] data = new byte[REGION];
        for (int run = 1; run <= 2; run++) {
            VolumeManager mgr = new VolumeManager(store, tmp.resolve("data"), NioFs.INSTANCE, noCheckpoints);
            if (run == 1) {
                mgr.create("v", REGION);
            }
            try (Volume v = mgr.open("v")) {
                for (int round = 1; round <= 2; round++) {
                    data[run * 10 + round] = (byte) round;
                    v.write(0, data, false);
                    v.drain(); // one chunk, one delta, no checkpoint
                }
                assertEquals(0, v.stats().checkpoints());
                if (run == 2) {
                    // the first look of this process found the two chunks of the first run, and deleted them
                    awaitDeleted(v, 2, "the first run's chunks");
                    assertEquals(2, chunkSeqs(store, "v").size(), "this run's two chunks: the map's and the one it replaced");
                }
                assertArrayEquals(data, v.read(0, REGION));
            }
        }
    }

    @Test
    void aChunkStaysUntilTheReadsThatBeganBeforeItWasFoundHaveEnded() throws Exception {
        VolumeKeys keys = new VolumeKeys("v");
        MemoryStore store = withChunks(keys, 8);
        Lease lease = Lease.acquire(store, keys, "node-a", false, false);
        ReadGate reads = new ReadGate();
        try (ChunkCollector c = new ChunkCollector(store, keys, reads)) {
            List<Long> gone = java.util.Collections.synchronizedList(new ArrayList<>());
            long early = reads.enter(); // a read that may have planned against a map naming chunks 1 to 3
            assertEquals(0, c.sweep(seq -> seq >= 4, 10, lease, gone::add), "a read that began before the sweep is in flight");
            long late = reads.enter(); // began after the map let 1 to 3 go: it cannot name them
            reads.exit(early);
            // chunks 5 to 8 are let go now, while the late read is in flight: they wait for it
            assertEquals(3, c.sweep(seq -> seq == 4, 10, lease, gone::add), "1 to 3: the read that began before they were found has ended");
            assertTrue(c.awaitDeletes(Duration.ofSeconds(10)));
            assertEquals(List.of(1L, 2L, 3L), gone.stream().sorted().toList());
            reads.exit(late);
            assertEquals(4, c.sweep(seq -> seq == 4, 10, lease, gone::add), "5 to 8, now that the late read has ended");
            assertTrue(c.awaitDeletes(Duration.ofSeconds(10)));
            assertEquals(List.of(4L), chunkSeqs(store, "v"));
        }
    }

    @Test
    void aChunkARunningReadPlannedStaysUntilItEnds() throws Exception {
        FaultyStore store = new FaultyStore(new MemoryStore(), 1);
        VolumeManager mgr = new VolumeManager(store, tmp.resolve("data"), NioFs.INSTANCE, config(Duration.ZERO));
        mgr.create("v", REGION);
        byte[] a = new byte[REGION];
        byte[] b = new byte[REGION];
        byte[] c = new byte[REGION];
        java.util.Arrays.fill(a, (byte) 'a');
        java.util.Arrays.fill(b, (byte) 'b');
        java.util.Arrays.fill(c, (byte) 'c');
        try (Volume v = mgr.open("v")) {
            v.write(0, a, false);
            v.drain();
            v.dropCache();
            String first = new VolumeKeys("v").chunk(chunkSeqs(store, "v").get(0));
            long[] deletedMeanwhile = {-1};
            // The read has planned to fetch chunk 'a' when, before its first fetch, 'a' is written
            // over twice and drained each time: each drain's checkpoint looks for garbage.
            store.beforeGet(key -> {
                if (key.equals(first) && deletedMeanwhile[0] < 0) {
                    v.write(0, b, false);
                    v.drain();
                    v.write(0, c, false);
                    v.drain();
                    deletedMeanwhile[0] = v.stats().chunksDeleted();
                }
            });
            byte[] got = v.read(0, REGION);
            assertEquals(0, deletedMeanwhile[0], "no chunk was deleted while the read that began before was in flight");
            assertArrayEquals(a, got, "the read found the chunk it planned");
            assertArrayEquals(c, v.read(0, REGION));
            v.write(0, a, false);
            v.drain(); // this look finds 'a', 'b' and 'c' unnamed, with no read in flight
            awaitDeleted(v, 3, "chunks 'a', 'b' and 'c'");
            assertArrayEquals(a, v.read(0, REGION));
        }
    }

    @Test
    void aSweepDeletesOnlyChunksTheMapLetGoBelowTheCheckpoint() throws Exception {
        VolumeKeys keys = new VolumeKeys("v");
        MemoryStore mem = withChunks(keys, 8);
        FaultyStore store = new FaultyStore(mem, 1);
        mem.put(keys.chunkPrefix() + "0000000000000002.tmp", ByteBuffer.wrap(new byte[] {1})); // not a chunk
        mem.put(keys.chunkPrefix() + "notes", ByteBuffer.wrap(new byte[] {1}));
        Set<Long> named = Set.of(3L, 5L);
        Lease lease = Lease.acquire(store, keys, "node-a", false, false);
        try (ChunkCollector c = new ChunkCollector(store, keys, new ReadGate())) {
            List<Long> gone = java.util.Collections.synchronizedList(new ArrayList<>());
            store.failDeletesOf(keys.chunk(4).substring(keys.chunkPrefix().length()));
            assertEquals(4, c.sweep(named::contains, 7, lease, gone::add), "chunks 1, 2, 4 and 6 are due: no read is in flight");
            assertTrue(c.awaitDeletes(Duration.ofSeconds(10)));
            assertEquals(new TreeSet<>(List.of(1L, 2L, 6L)), new TreeSet<>(gone), "4's delete failed");
            assertEquals(1, c.failed.sum());
            store.failDeletesOf(null);
            assertEquals(1, c.sweep(named::contains, 7, lease, gone::add), "the failed delete is tried again");
            assertTrue(c.awaitDeletes(Duration.ofSeconds(10)));
            List<String> left = new ArrayList<>();
            for (ObjectInfo o : mem.list(keys.chunkPrefix())) {
                left.add(o.key().substring(keys.chunkPrefix().length()));
            }
            assertEquals(List.of("0000000000000002.tmp", "0000000000000003", "0000000000000005", "0000000000000007",
                    "0000000000000008", "notes"), left, "named chunks, chunks at or above the checkpoint and other objects stay");
            assertEquals(4, c.deleted.sum());
        }
    }

    @Test
    void aChunkWhoseFileTheWalStillNamesWaitsForItThenComesBackAsASpare() throws Exception {
        VolumeKeys keys = new VolumeKeys("v");
        FileStore store = new FileStore(tmp.resolve("store"));
        Path wal = java.nio.file.Files.createDirectories(tmp.resolve("wal"));
        Path segment = wal.resolve("segment"); // a consolidated segment the WAL keeps to serve reads; its file is chunk 1
        java.nio.file.Files.write(segment, new byte[8192]);
        assertTrue(store.link(keys.chunk(1), segment));
        Lease lease = Lease.acquire(store, keys, "node-a", false, false);
        ChunkCollector.Recycler wantsSpares = (seq, key) -> {
            try {
                return store.moveTo(key, wal.resolve(seq + ".spare"), 0);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        };
        try (ChunkCollector c = new ChunkCollector(store, keys, new ReadGate(), wantsSpares)) {
            List<Long> gone = java.util.Collections.synchronizedList(new ArrayList<>());
            for (int sweep = 1; sweep <= 2; sweep++) {
                assertEquals(1, c.sweep(seq -> false, 10, lease, gone::add), "sweep " + sweep);
                assertTrue(c.awaitDeletes(Duration.ofSeconds(10)));
                assertEquals(List.of(1L), chunkSeqs(store, "v"), "sweep " + sweep + ": deleting it would free nothing");
                assertEquals(List.of(), gone);
            }
            java.nio.file.Files.delete(segment); // the WAL lets the segment go
            assertEquals(1, c.sweep(seq -> false, 10, lease, gone::add));
            assertTrue(c.awaitDeletes(Duration.ofSeconds(10)));
            assertEquals(List.of(1L), gone);
            assertEquals(1, c.recycled.sum(), "the WAL took the file back");
            assertEquals(8192, java.nio.file.Files.size(wal.resolve("1.spare")));
            assertEquals(List.of(), chunkSeqs(store, "v"));
        }
    }

    @Test
    void closeWaitsAFewSecondsThenLeavesTheRestToTheNextOpen() throws Exception {
        VolumeKeys keys = new VolumeKeys("v");
        MemoryStore mem = withChunks(keys, 100);
        FaultyStore store = new FaultyStore(mem, 1);
        Lease lease = Lease.acquire(store, keys, "node-a", false, false);
        store.beforeDelete(key -> { // a slow store: 100 deletes take 10 s
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                throw new java.io.InterruptedIOException("delete interrupted");
            }
        });
        ChunkCollector c = new ChunkCollector(store, keys, new ReadGate());
        assertEquals(100, c.sweep(seq -> false, 1000, lease, seq -> {}));
        long started = System.nanoTime();
        c.close();
        double seconds = (System.nanoTime() - started) / 1e9;
        assertTrue(seconds >= 4.5 && seconds < 8, "close waited " + seconds + " s");
        long deleted = c.deleted.sum();
        Thread.sleep(300);
        assertEquals(deleted, c.deleted.sum(), "no delete after close");
        assertEquals(0, c.failed.sum(), "deletes cut short by close are not failures");
        int left = chunkSeqs(mem, "v").size();
        assertTrue(left > 0 && left < 100, left + " chunks left");
        // a batch cut short is not counted: the store deleted some of it, and cannot say which
        assertTrue(deleted <= 100 - left, deleted + " counted, " + (100 - left) + " gone");
    }

    @Test
    void aWriterTakenOverDeletesNothing() throws Exception {
        VolumeKeys keys = new VolumeKeys("v");
        MemoryStore store = withChunks(keys, 4);
        Lease a = Lease.acquire(store, keys, "node-a", false, false);
        try (ChunkCollector c = new ChunkCollector(store, keys, new ReadGate())) {
            List<Long> gone = java.util.Collections.synchronizedList(new ArrayList<>());
            // node B takes the volume over; its map may still name what A's newer deltas let go
            Lease.acquire(store, keys, "node-b", false, true);
            assertThrows(VolumeFencedException.class, () -> c.sweep(seq -> seq == 4, 10, a, gone::add));
            assertEquals(List.of(), gone);
            assertTrue(c.awaitDeletes(Duration.ofSeconds(10)));
            assertEquals(List.of(), gone);
            assertEquals(4, chunkSeqs(store, "v").size(), "every chunk is still there");
        }
    }
}
