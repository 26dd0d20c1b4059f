package io.viperblock.core.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.core.NoSpaceException;
import io.viperblock.core.format.WalHeader;
import io.viperblock.core.format.WalRecord;
import io.viperblock.core.io.CrashFs;
import io.viperblock.core.store.MemoryStore;
import io.viperblock.core.wal.WalWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A consolidated WAL segment keeps serving reads of what it holds (still in the page cache)
 * until newer consolidated segments pass keptWalBytes or take the room a full WAL needs
 * (maxPendingWalBytes), a drain or a close, or a write that finds the disk full; then reads of
 * its blocks go to the store, and its file goes.
 */
class KeptSegmentsTest {
    /** 1 MiB segments, 4 MiB of pending WAL at most and 4 MiB of consolidated segments kept; sealed only when full. */
    private static final VolumeConfig CONFIG = VolumeScenarios.smallConfig().withSealAfter(Duration.ofHours(1));
    private static final Path DATA = Path.of("/data");
    private static final Path WAL = DATA.resolve("volumes/k/wal");
    private static final int RECORD = 256 << 10;

    private final CrashFs fs = new CrashFs();
    private final MemoryStore store = new MemoryStore();
    private final SplittableRandom rnd = new SplittableRandom(5);

    private Volume open() throws Exception {
        return new VolumeManager(store, DATA, fs, CONFIG).open("k");
    }

    private Volume create() throws Exception {
        new VolumeManager(store, DATA, fs, CONFIG).create("k", 64 << 20);
        return open();
    }

    /** Writes {@code records} records of 256 KiB from record slot {@code first} on, and returns them. */
    private byte[][] write(Volume v, int first, int records) throws Exception {
        byte[][] out = new byte[records][];
        for (int i = 0; i < records; i++) {
            out[i] = new byte[RECORD];
            rnd.nextBytes(out[i]);
            v.write((long) (first + i) * RECORD, out[i], false);
        }
        return out;
    }

    /** Waits until the consolidator has run {@code runs} times. */
    private static void awaitConsolidations(Volume v, long runs) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (v.stats().consolidations() < runs) {
            assertTrue(System.nanoTime() < deadline, "the consolidator ran " + v.stats().consolidations() + " times, not " + runs);
            Thread.sleep(5);
        }
    }

    @Test
    void aConsolidatedSegmentServesReadsUntilNewerOnesPassTheBound() throws Exception {
        Volume v = create();
        try {
            byte[][] first = write(v, 0, 3); // less than a segment
            write(v, 3, 3); // the first segment fills, is sealed and consolidated
            awaitConsolidations(v, 1);
            assertTrue(v.stats().keptWalBytes() >= 3 * RECORD, "kept: " + v.stats().keptWalBytes());

            VolumeStats before = v.stats();
            for (int i = 0; i < first.length; i++) {
                assertArrayEquals(first[i], v.read((long) i * RECORD, RECORD), "record " + i);
            }
            VolumeStats after = v.stats();
            assertEquals(before.walBlockReads() + 3 * RECORD / 4096, after.walBlockReads(), "read from the kept segment");
            assertEquals(before.storeReads(), after.storeReads(), "not from the store");

            // 8 MiB more: the first segment's consolidated successors pass the 4 MiB bound
            assertEquals(4 << 20, CONFIG.keptWalBytes());
            write(v, 6, 32);
            awaitConsolidations(v, 8);
            long kept = v.stats().keptWalBytes();
            assertTrue(kept > 0 && kept <= CONFIG.keptWalBytes(), "kept " + kept + " bytes");
            before = v.stats();
            for (int i = 0; i < first.length; i++) {
                assertArrayEquals(first[i], v.read((long) i * RECORD, RECORD), "record " + i + " from the store");
            }
            after = v.stats();
            assertEquals(before.walBlockReads(), after.walBlockReads(), "the first segment is gone from the WAL");
            assertTrue(after.storeReads() > before.storeReads(), "read from the store");
            assertTrue(walFiles().size() <= 12, "pending, kept and spare files only: " + walFiles());
        } finally {
            v.close();
        }
    }

    @Test
    void aDrainLetsEveryKeptSegmentGoAndACloseLeavesNone() throws Exception {
        Volume v = create();
        byte[][] data = write(v, 0, 12);
        awaitConsolidations(v, 2);
        assertTrue(v.stats().keptWalBytes() > 0);
        v.drain();
        assertEquals(0, v.stats().keptWalBytes());
        assertEquals(1, walFiles().stream().filter(n -> n.endsWith(".wal")).count(), "only the new active segment: " + walFiles());
        long walReads = v.stats().walBlockReads();
        assertArrayEquals(data[0], v.read(0, RECORD));
        assertEquals(walReads, v.stats().walBlockReads(), "read from the store");

        write(v, 12, 12);
        awaitConsolidations(v, 5);
        assertTrue(v.stats().keptWalBytes() > 0);
        v.close();
        assertTrue(walFiles().stream().filter(n -> n.endsWith(".wal")).count() <= 1, "a clean close deletes the kept segments: " + walFiles());
    }

    @Test
    void aCrashWithKeptSegmentsReopensWithEveryWriteOnce() throws Exception {
        Volume v = create();
        byte[][] data = write(v, 0, 12); // 3 records a segment: 3 sealed, the 4th active and full
        awaitConsolidations(v, 3);
        byte[][] newer = write(v, 0, 2); // overwrites blocks of a kept segment: the newest must win after the crash
        awaitConsolidations(v, 4); // the 4th, sealed by the first of them
        assertTrue(v.stats().keptWalBytes() >= 4 * 3 * RECORD, "kept: " + v.stats().keptWalBytes());
        v.flush();
        v.abandon();
        assertTrue(walFiles().size() >= 3, "the kept segments are still there: " + walFiles());

        Volume again = open();
        try {
            assertArrayEquals(newer[0], again.read(0, RECORD));
            assertArrayEquals(newer[1], again.read(RECORD, RECORD));
            for (int i = 2; i < data.length; i++) {
                assertArrayEquals(data[i], again.read((long) i * RECORD, RECORD), "record " + i);
            }
            assertEquals(2, again.recovered().walRecords(), "only the records no delta covers are replayed");
        } finally {
            again.close();
        }
    }

    /**
     * Replay does not read a segment that only holds records the map has: a kept segment with
     * damaged records opens (before, open refused, as damage in a segment other than the last is
     * not a torn write), and its file goes. Check and repair see it the same way: no damage to
     * report, nothing to cut (a cut there would delete every later segment); repair deletes the
     * damaged one itself, as the map it rebuilds covers no WAL and the next open would read it.
     */
    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void replayRemovesKeptSegmentsUnread(boolean repairFirst) throws Exception {
        Volume v = create();
        byte[][] data = write(v, 0, 12); // 3 sealed segments and a full active one
        awaitConsolidations(v, 3);
        byte[][] newer = write(v, 0, 1); // seals the 4th; this record is the only one not consolidated
        awaitConsolidations(v, 4);
        v.flush();
        v.abandon();
        List<String> segments = walFiles().stream().filter(n -> n.endsWith(".wal")).toList();
        assertTrue(segments.size() >= 5, "the kept segments are still there: " + segments);
        try (var f = fs.open(WAL.resolve(segments.get(0)))) {
            byte[] junk = new byte[4096];
            rnd.nextBytes(junk);
            f.write(java.nio.ByteBuffer.wrap(junk), WalHeader.LENGTH + 1000); // in its records
        }
        VolumeManager mgr = new VolumeManager(store, DATA, fs, CONFIG);
        assertEquals(List.of(), mgr.check("k", VolumeCheck.Progress.NONE).problems(), "check finds what open would: nothing");
        if (repairFirst) {
            assertEquals(0, mgr.repair("k", VolumeCheck.Progress.NONE).walBytesCut(), "repair cuts nothing");
            assertEquals(segments.subList(1, segments.size()), walFiles().stream().filter(n -> n.endsWith(".wal")).toList(),
                    "repair deletes the damaged segment the map held, and only that one");
        }

        Volume again = open();
        try {
            if (!repairFirst) { // the map repair rebuilds covers no WAL: all that is left is replayed
                assertEquals(1, again.recovered().walRecords(), "only the record no delta covers is replayed");
            }
            assertArrayEquals(newer[0], again.read(0, RECORD));
            for (int i = 1; i < data.length; i++) {
                assertArrayEquals(data[i], again.read((long) i * RECORD, RECORD), "record " + i);
            }
            assertTrue(!walFiles().contains(segments.get(0)), "the damaged kept segment is removed: " + walFiles());
        } finally {
            again.close();
        }
    }

    @Test
    void keptSegmentsLeaveTheDiskTheRoomAFullWalNeeds() throws Exception {
        Volume v = create();
        try {
            byte[][] data = write(v, 0, 12); // 3 sealed segments and a full active one
            awaitConsolidations(v, 3);
            long kept = v.stats().keptWalBytes();
            assertTrue(kept >= 3 * 3 * RECORD, "kept: " + kept);

            // 1 MiB less free than a full WAL (4 MiB) needs: the next consolidation lets the
            // oldest kept segments go until the disk has that room again
            fs.setSpaceLimit(fs.usedBytes() + CONFIG.maxPendingWalBytes() - (1 << 20));
            write(v, 12, 3); // seals the full active segment
            awaitConsolidations(v, 4);
            long after = v.stats().keptWalBytes();
            // without the room rule the 4th segment would join them: 4 segments are under the 4 MiB bound
            assertTrue(after < kept, "kept " + kept + " then " + after + " bytes");
            for (int i = 0; i < data.length; i++) {
                assertArrayEquals(data[i], v.read((long) i * RECORD, RECORD), "record " + i);
            }

            // room again: consolidated segments are kept again
            fs.setSpaceLimit(Long.MAX_VALUE);
            write(v, 15, 6);
            awaitConsolidations(v, 6);
            assertTrue(v.stats().keptWalBytes() > after, "kept again: " + v.stats().keptWalBytes());
        } finally {
            fs.setSpaceLimit(Long.MAX_VALUE);
            v.close();
        }
    }

    /** 4 KiB fits in the active segment; 256 KiB does not, and the new segment's creation is what fails. */
    @ParameterizedTest
    @ValueSource(ints = {4096, RECORD})
    void aWriteThatFindsTheDiskFullLetsTheKeptSegmentsGo(int size) throws Exception {
        Volume v = create();
        try {
            byte[][] data = write(v, 0, 12); // 3 sealed segments and a full active one: no seal until the next write
            awaitConsolidations(v, 3);
            assertTrue(v.stats().keptWalBytes() > 0);
            List<String> before = walFiles();
            // no room from here on, not even what the seal frees: it cuts the zeros after the
            // active segment's last record (WalWriter.PAGE), which would let the next segment's
            // header fit; and that segment's seal would race the assertions below
            long records = WalHeader.LENGTH + 3L * (WalRecord.RECORD_HEADER + RECORD);
            fs.setSpaceLimit(fs.usedBytes() - (-records & (WalWriter.PAGE - 1)));
            assertThrows(NoSpaceException.class, () -> v.write(20L * RECORD, new byte[size], false));
            assertEquals(0, v.stats().keptWalBytes(), "the kept segments are let go");
            assertTrue(walFiles().size() < before.size(), "their files are deleted: " + before + " -> " + walFiles());
            for (int i = 0; i < data.length; i++) {
                assertArrayEquals(data[i], v.read((long) i * RECORD, RECORD), "record " + i);
            }
        } finally {
            fs.setSpaceLimit(Long.MAX_VALUE);
            v.close();
        }
    }

    private List<String> walFiles() throws Exception {
        return fs.list(WAL);
    }
}
