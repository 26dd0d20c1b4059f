package io.viperblock.core.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.core.format.Formats;
import io.viperblock.core.format.WalHeader;
import io.viperblock.core.io.CrashFs;
import io.viperblock.core.store.FaultyStore;
import io.viperblock.core.store.FileStore;
import io.viperblock.core.store.MemoryStore;
import io.viperblock.core.store.ObjectInfo;
import io.viperblock.core.store.ObjectStore;
import io.viperblock.core.testing.Seeds;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * On a file store on the WAL's file system, consolidation makes a sealed segment's own file the
 * chunk of its blocks (a hard link and a version-2 footer, Consolidator.link) instead of copying
 * them: the chunks read back, pass the check, and a segment whose delta failed after the link is
 * copied on the next attempt and replays after a power loss.
 */
class LinkedChunksTest {
    private static final Path DATA = Path.of("/data");
    private static final Path STORE = Path.of("/store");
    private static final long SIZE = 16 << 20;
    private static final VolumeKeys KEYS = new VolumeKeys("l");

    private final CrashFs fs = new CrashFs();

    /** Small segments, as the other volume tests use, with room for the WAL of a load whose deltas fail. */
    private static final VolumeConfig CONFIG = VolumeScenarios.smallConfig().withMaxPendingWalBytes(64 << 20);

    private Volume open(ObjectStore store) throws IOException {
        return new VolumeManager(store, DATA, fs, CONFIG).open("l");
    }

    /** Creates the volume on {@code store} and opens it. */
    private Volume createAndOpen(ObjectStore store) throws IOException {
        new VolumeManager(store, DATA, fs, CONFIG).create("l", SIZE);
        return open(store);
    }

    /** Random writes (aligned or not, 1 byte to 300 KiB), trims and zeroes, into the volume and the model; flushed at the end. */
    private static void load(Volume v, byte[] model, SplittableRandom r, int ops) throws IOException {
        load(v, model, r, ops, true);
    }

    /** {@link #load}, with trims and zeroes only if {@code holes}. */
    private static void load(Volume v, byte[] model, SplittableRandom r, int ops, boolean holes) throws IOException {
        for (int i = 0; i < ops; i++) {
            int len = 1 + r.nextInt(r.nextBoolean() ? 8192 : 300 << 10);
            long off = r.nextBoolean() ? r.nextLong(SIZE - len) : r.nextLong((SIZE - len) / 4096) * 4096;
            int op = holes ? r.nextInt(20) : 2;
            if (op == 0) {
                v.trim(off, len);
                java.util.Arrays.fill(model, (int) off, (int) off + len, (byte) 0);
            } else if (op == 1) {
                v.writeZeroes(off, len, false);
                java.util.Arrays.fill(model, (int) off, (int) off + len, (byte) 0);
            } else {
                byte[] data = Seeds.bytes(r, len);
                v.write(off, data, false);
                System.arraycopy(data, 0, model, (int) off, len);
            }
        }
        v.flush();
    }

    private static void verify(Volume v, byte[] model) throws IOException {
        for (long off = 0; off < SIZE; off += 1 << 20) {
            byte[] want = java.util.Arrays.copyOfRange(model, (int) off, (int) off + (1 << 20));
            assertArrayEquals(want, v.read(off, 1 << 20), "MiB at " + off);
        }
    }

    /** Opens the volume, reads all of it against the model, and closes it. */
    private void reopenAndVerify(ObjectStore store, byte[] model) throws IOException {
        Volume v = open(store);
        verify(v, model);
        v.close();
    }

    /** {@code vblock check} finds nothing wrong: not in the store, not in the WAL. */
    private void assertClean(ObjectStore store) throws IOException {
        assertEquals(java.util.List.of(), new VolumeManager(store, DATA, fs, CONFIG).check("l", VolumeCheck.Progress.NONE).problems());
    }

    /** Waits up to 20 s for {@code condition}. */
    private static void await(java.util.function.BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, what);
            Thread.sleep(5);
        }
    }

    /** Chunks that are WAL segments (they begin with a segment's header) and chunks that are not. */
    private static int[] chunkKinds(ObjectStore store) throws IOException {
        int[] kinds = new int[2];
        for (ObjectInfo o : store.list(KEYS.chunkPrefix())) {
            ByteBuffer head = store.get(o.key(), 0, 8);
            kinds[head.getLong() == Formats.WAL_MAGIC ? 0 : 1]++;
        }
        return kinds;
    }

    @Test
    void segmentsBecomeChunksThatReadBackAfterReopenAndPassTheCheck() throws Exception {
        FileStore store = new FileStore(STORE, fs);
        SplittableRandom r = Seeds.random("segmentsBecomeChunksThatReadBackAfterReopenAndPassTheCheck");
        byte[] model = new byte[(int) SIZE];
        Volume v = createAndOpen(store);
        load(v, model, r, 200);
        verify(v, model);
        v.drain();
        assertTrue(v.stats().chunksLinked() > 0, "no chunk linked");
        assertEquals(v.stats().chunksWritten(), v.stats().chunksLinked(), "chunks copied");
        v.close();
        int[] kinds = chunkKinds(store);
        assertTrue(kinds[0] > 0, "no chunk is a linked segment");
        assertEquals(0, kinds[1], "chunks copied although the store takes segments as they are");
        assertClean(store);

        v = open(store); // reads go to the chunks now: the WAL was drained
        verify(v, model);
        load(v, model, r, 100); // over the linked chunks
        v.close();
        reopenAndVerify(store, model);
        assertClean(store);
    }

    @Test
    void theCheckFindsDamageInALinkedChunkAndRepairRebuildsTheMapFromThem() throws Exception {
        FileStore store = new FileStore(STORE, fs);
        VolumeManager m = new VolumeManager(store, DATA, fs, CONFIG);
        m.create("l", SIZE);
        SplittableRandom r = Seeds.random("theCheckFindsDamageInALinkedChunkAndRepairRebuildsTheMapFromThem");
        byte[] model = new byte[(int) SIZE];
        Volume v = open(store);
        load(v, model, r, 150, false); // a hole lives only in the map, which repair rebuilds from the chunks
        v.close();

        for (ObjectInfo o : store.list(KEYS.mapPrefix())) {
            store.delete(o.key());
        }
        VolumeCheck.Repair done = m.repair("l", VolumeCheck.Progress.NONE);
        assertEquals(0, done.damagedCopies());
        assertEquals(0, done.lostBlocks());
        assertClean(store);
        reopenAndVerify(store, model);

        // a flipped byte in a block of a linked chunk: the check names the chunk and the block's offset
        ObjectInfo chunk = store.list(KEYS.chunkPrefix()).get(0);
        ByteBuffer obj = store.get(chunk.key());
        io.viperblock.core.format.ChunkFooter footer = io.viperblock.core.format.ChunkFooter.parseObject(obj, chunk.key());
        int slot = 0;
        while (footer.block(slot) < 0) {
            slot++;
        }
        byte[] bytes = new byte[obj.remaining()];
        obj.get(bytes);
        bytes[(int) footer.dataOffset(slot) + r.nextInt(4096)] ^= 1;
        store.put(chunk.key(), ByteBuffer.wrap(bytes));
        long at = footer.dataOffset(slot);
        java.util.List<VolumeCheck.Problem> problems = m.check("l", VolumeCheck.Progress.NONE).problems();
        assertTrue(problems.stream().anyMatch(p -> p.key().equals(chunk.key()) && p.offset() == at && p.message().contains("bad checksum")),
                problems.toString());
    }

    /**
     * A segment whose header holds less than its records (as a repair's cut leaves it) gets its
     * whole length there when it is recovered, before a newer segment exists: damage that later
     * begins exactly at the old length is refused, not taken for the end of the records.
     */
    @Test
    void damageAtALengthARepairWroteIsRefusedOnceTheSegmentIsNoLongerTheLast() throws Exception {
        MemoryStore store = new MemoryStore();
        VolumeConfig config = CONFIG.withSealAfter(Duration.ofHours(1)); // one segment, sealed only when full
        new VolumeManager(store, DATA, fs, config).create("l", SIZE);
        Volume v = new VolumeManager(store, DATA, fs, config).open("l");
        for (int i = 0; i < 6; i++) {
            v.write((long) i * 4096, new byte[4096], false);
        }
        v.flush();
        v.abandon();
        Path wal = DATA.resolve("volumes/l/wal");
        Path first = wal.resolve(fs.list(wal).stream().filter(n -> n.endsWith(".wal")).sorted().findFirst().orElseThrow());
        long boundary = WalHeader.LENGTH + 3 * (32 + 4096); // the fourth record starts here
        try (io.viperblock.core.io.FsFile f = fs.open(first)) {
            WalHeader h = WalHeader.read(f, first.toString());
            f.write(h.withSyncedLength(boundary).encode(), 0); // as a repair that cut there and found more behind would not, but a lower header may
            f.force();
        }
        v = new VolumeManager(store, DATA, fs, config).open("l"); // replays it, then a new segment follows it
        v.abandon();
        try (io.viperblock.core.io.FsFile f = fs.open(first)) {
            assertEquals(f.size() - 0, WalHeader.read(f, first.toString()).syncedLength(), "the recovered segment's header holds its length");
            f.write(ByteBuffer.wrap(new byte[] {0x7f}), boundary + 8); // damage in the fourth record's header
        }
        io.viperblock.core.format.CorruptFormatException e = org.junit.jupiter.api.Assertions.assertThrows(
                io.viperblock.core.format.CorruptFormatException.class, () -> new VolumeManager(store, DATA, fs, config).open("l"));
        assertTrue(e.getMessage().contains("is damaged at offset " + boundary), e.getMessage());
    }

    /**
     * Chunks that were linked segments and are garbage come back to the WAL as spares
     * (WalWriter.recycle) and later segments reuse them: the old records and footer behind the new
     * records never come back, not after a reopen, not after a power loss.
     */
    @Test
    void garbageLinkedChunksBecomeSparesWhoseOldContentsNeverComeBack() throws Exception {
        FileStore store = new FileStore(STORE, fs);
        SplittableRandom r = Seeds.random("garbageLinkedChunksBecomeSparesWhoseOldContentsNeverComeBack");
        byte[] model = new byte[(int) SIZE];
        Volume v = createAndOpen(store);
        for (int round = 0; round < 40 && v.stats().chunksRecycled() == 0; round++) {
            byte[] data = Seeds.bytes(r, 2 << 20); // the same 2 MiB each round: each round's chunks die in the next
            v.write(0, data, false);
            System.arraycopy(data, 0, model, 0, data.length);
            v.drain();
            Thread.sleep(20); // the collector deletes (and recycles) on a thread of its own
        }
        assertTrue(v.stats().chunksRecycled() > 0, "no garbage chunk was taken as a spare: " + v.stats());
        load(v, model, r, 60); // later segments reuse the spares; flushed at the end
        byte[] tail = Seeds.bytes(r, 4096);
        v.write(4096, tail, true);
        System.arraycopy(tail, 0, model, 4096, tail.length);
        fs.crash(); // power loss with the active segment in a reused file, its records not yet sealed
        v.abandon();

        FileStore after = new FileStore(STORE, fs);
        v = open(after);
        verify(v, model);
        load(v, model, r, 30);
        v.close();
        reopenAndVerify(after, model);
        assertClean(after);
    }

    /**
     * A consolidated segment kept to serve reads of its blocks whose chunk has become garbage is
     * let go at once, and its file comes back as a spare (WalWriter.letGoOfChunk), instead of
     * waiting for newer segments to push it out of the kept ones.
     */
    @Test
    void aKeptSegmentWhoseChunkIsGarbageComesBackAsASpareAtOnce() throws Exception {
        FileStore store = new FileStore(STORE, fs);
        SplittableRandom r = Seeds.random("aKeptSegmentWhoseChunkIsGarbageComesBackAsASpareAtOnce");
        VolumeConfig keepAll = CONFIG.withKeptWalBytes(1L << 30); // more than the test writes: no segment is pushed out
        new VolumeManager(store, DATA, fs, keepAll).create("l", SIZE);
        Volume v = new VolumeManager(store, DATA, fs, keepAll).open("l");
        byte[] model = new byte[(int) SIZE];
        int rounds = 0;
        for (; rounds < 30 && v.stats().chunksRecycled() < 3; rounds++) {
            for (int i = 0; i < 4; i++) { // the same 1 MiB each round: each round's chunks die in the next
                byte[] data = Seeds.bytes(r, 256 << 10);
                v.write((long) i << 18, data, false);
                System.arraycopy(data, 0, model, i << 18, data.length);
            }
            await(() -> v.stats().pendingWalBytes() < 64 << 10, "the round is consolidated (no drain: it lets every kept segment go)");
            Thread.sleep(20); // the collector deletes (and recycles) on a thread of its own
        }
        assertTrue(v.stats().chunksRecycled() >= 3, "kept segments whose chunks died were not taken as spares in " + rounds + " rounds: "
                + v.stats());
        assertTrue(v.stats().keptWalBytes() < (long) rounds << 20, "the kept segments of dead chunks were not let go: " + v.stats());
        verify(v, model);
        v.close();
        reopenAndVerify(store, model);
        assertClean(store);
    }

    /**
     * A segment linked at an attempt whose delta failed, then copied at the next attempt, is kept
     * to serve reads of blocks the copies hold; the chunk linked first is an orphan, and its
     * collection must not let that segment go (WalWriter.letGoOfChunk is for the chunk the map named).
     */
    @Test
    void theOrphanOfAFailedDeltaDoesNotLetItsKeptSegmentGo() throws Exception {
        FaultyStore store = new FaultyStore(new FileStore(STORE, fs), 1);
        VolumeConfig keepAll = CONFIG.withKeptWalBytes(1L << 30);
        new VolumeManager(store, DATA, fs, keepAll).create("l", SIZE);
        SplittableRandom r = Seeds.random("theOrphanOfAFailedDeltaDoesNotLetItsKeptSegmentGo");
        AtomicBoolean deltasFail = new AtomicBoolean(true);
        store.beforePut(key -> {
            if (deltasFail.get() && key.endsWith(Formats.DELTA_SUFFIX)) {
                throw new IOException("injected: delta refused");
            }
        });
        Volume v = new VolumeManager(store, DATA, fs, keepAll).open("l");
        byte[] data = Seeds.bytes(r, 512 << 10); // half a segment: one segment, linked at the first attempt
        v.write(0, data, false);
        await(() -> v.stats().consolidationFailures() > 0, "no consolidation failed");
        deltasFail.set(false);
        await(() -> v.stats().pendingWalBytes() < 64 << 10, "the segment is consolidated (copied) at last");
        assertTrue(v.stats().chunksLinked() > 0, "the first attempt did not link: " + v.stats());
        for (int i = 0; i < 3; i++) { // more consolidations, each followed by a sweep that finds the orphan garbage
            long before = v.stats().consolidations();
            v.write((8L << 20) + i * 4096L, Seeds.bytes(r, 4096), false);
            await(() -> v.stats().consolidations() > before, "write " + i + " is consolidated");
            Thread.sleep(50); // the collector's own thread offers the orphan to the WAL
        }
        long walReads = v.stats().walBlockReads();
        assertArrayEquals(data, v.read(0, data.length));
        assertEquals(128, v.stats().walBlockReads() - walReads, "the kept segment no longer serves its blocks: " + v.stats());
        v.close();
        assertClean(store);
    }

    @Test
    void aStoreThatCannotLinkGetsCopiedChunks() throws Exception {
        MemoryStore store = new MemoryStore();
        SplittableRandom r = Seeds.random("aStoreThatCannotLinkGetsCopiedChunks");
        byte[] model = new byte[(int) SIZE];
        Volume v = createAndOpen(store);
        load(v, model, r, 100);
        v.drain();
        assertEquals(0, v.stats().chunksLinked());
        v.close();
        int[] kinds = chunkKinds(store);
        assertEquals(0, kinds[0]);
        assertTrue(kinds[1] > 0);
        reopenAndVerify(store, model);
    }

    /**
     * A link refused for want of space is the store being full, not a store that cannot link:
     * consolidation fails and retries (copying that segment, which has its footer), and later
     * segments are linked again.
     */
    @Test
    void aLinkRefusedOnAFullDiskFailsThePassAndLaterSegmentsAreLinkedAgain() throws Exception {
        FileStore store = new FileStore(STORE, fs);
        SplittableRandom r = Seeds.random("aLinkRefusedOnAFullDiskFailsThePassAndLaterSegmentsAreLinkedAgain");
        byte[] model = new byte[(int) SIZE];
        Volume v = createAndOpen(store);
        fs.failLinks(1, "No space left on device");
        AtomicBoolean sawFull = new AtomicBoolean();
        Thread watcher = Thread.ofPlatform().daemon().start(() -> { // the error lasts until the next pass, 100 ms on
            try {
                while (!sawFull.get()) {
                    String error = v.stats().lastConsolidationError();
                    sawFull.set(error != null && error.contains("out of space storing object " + KEYS.chunkPrefix()));
                    Thread.sleep(1);
                }
            } catch (InterruptedException e) {
                // the load is over
            }
        });
        load(v, model, r, 200);
        v.drain();
        watcher.interrupt();
        watcher.join();
        VolumeStats stats = v.stats();
        v.close();
        assertTrue(stats.consolidationFailures() > 0, "the refused link did not fail a pass");
        assertTrue(sawFull.get(), "the failure was not reported as a full store");
        assertTrue(stats.chunksLinked() > 0, "no segment linked after the refused link: the volume took the store for one that cannot link");
        int[] kinds = chunkKinds(store);
        assertTrue(kinds[1] > 0, "the segment whose link was refused was not copied");
        reopenAndVerify(store, model);
        assertClean(store);
    }

    /**
     * The delta after a link fails: the segment keeps its footer (the linked chunk is an orphan),
     * a power loss then leaves a segment other than the last with a footer behind its records,
     * which replay takes for the end of its records; the next attempt copies.
     */
    @Test
    void aSegmentLinkedBeforeAFailedDeltaReplaysAfterPowerLossAndIsCopiedNextTime() throws Exception {
        FaultyStore store = new FaultyStore(new FileStore(STORE, fs), 1);
        new VolumeManager(store, DATA, fs, CONFIG).create("l", SIZE);
        SplittableRandom r = Seeds.random("aSegmentLinkedBeforeAFailedDeltaReplaysAfterPowerLossAndIsCopiedNextTime");
        byte[] model = new byte[(int) SIZE];
        AtomicBoolean linked = new AtomicBoolean();
        store.beforePut(key -> {
            if (key.startsWith(KEYS.chunkPrefix())) {
                linked.set(true);
            }
            if (key.endsWith(Formats.DELTA_SUFFIX)) {
                throw new IOException("injected: delta refused");
            }
        });
        Volume v = open(store);
        load(v, model, r, 60);
        Volume writing = v;
        await(() -> linked.get() && writing.stats().consolidationFailures() > 0, "no consolidation attempt linked a segment and failed");
        fs.crash(); // power loss: only what was fsynced stays
        v.abandon(); // the process died with it

        FileStore after = new FileStore(STORE, fs);
        v = open(after);
        assertTrue(v.recovered().walRecords() > 0, "the WAL had nothing to replay");
        verify(v, model);
        v.close(); // drains: the replayed segments are copied (their blocks' CRCs are not kept)
        reopenAndVerify(after, model);
        assertClean(after);
    }

    /** Without a power loss, the attempt after the failed one copies the segment (its footer stays as it is). */
    @Test
    void theAttemptAfterAFailedDeltaCopies() throws Exception {
        FaultyStore store = new FaultyStore(new FileStore(STORE, fs), 1);
        new VolumeManager(store, DATA, fs, CONFIG).create("l", SIZE);
        SplittableRandom r = Seeds.random("theAttemptAfterAFailedDeltaCopies");
        byte[] model = new byte[(int) SIZE];
        AtomicBoolean deltasFail = new AtomicBoolean(true);
        store.beforePut(key -> {
            if (deltasFail.get() && key.endsWith(Formats.DELTA_SUFFIX)) {
                throw new IOException("injected: delta refused");
            }
        });
        Volume v = open(store);
        load(v, model, r, 60);
        await(() -> v.stats().consolidationFailures() > 0, "no consolidation failed");
        deltasFail.set(false);
        v.close();
        int[] kinds = chunkKinds(store);
        assertTrue(kinds[1] > 0, "the segment whose delta failed was not copied");
        reopenAndVerify(store, model);
        assertClean(store);
    }
}
