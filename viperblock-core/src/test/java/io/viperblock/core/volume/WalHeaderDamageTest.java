package io.viperblock.core.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.core.format.CorruptFormatException;
import io.viperblock.core.format.Formats;
import io.viperblock.core.format.WalHeader;
import io.viperblock.core.io.NioFs;
import io.viperblock.core.store.FaultyStore;
import io.viperblock.core.store.MemoryStore;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Damage to the last WAL segment, which replay must tell from a write torn by a crash.
 *
 * <p>A damaged header of the last WAL segment. Found by the corruption campaign: replay took any bad
 * header of the last segment for an interrupted creation and deleted the segment, flushed records
 * and all. The header is fsynced before the first record is written, so good records behind a bad
 * header mean damage: open must refuse, naming the file, and keep it.
 *
 * <p>Damaged records below the header's synced length. Found by the corruption campaign: replay
 * cut the last segment at the first bad record, flushed or not. After each fdatasync the header
 * records the length it covered, so damage below it is corruption of acknowledged flushed writes.
 */
class WalHeaderDamageTest {
    private static final VolumeConfig CONFIG = VolumeScenarios.smallConfig().withSealAfter(java.time.Duration.ofHours(1));

    @TempDir
    Path dir;

    @Test
    void badHeaderWithRecordsBehindItRefusesToOpen() throws Exception {
        MemoryStore store = new MemoryStore();
        Volume v = create(store);
        v.write(0, new byte[] {7, 7, 7}, false);
        v.write(8192, new byte[4096], true);
        v.abandon();
        Path seg = lastSegment();
        byte[] b = Files.readAllBytes(seg);
        b[20] ^= 0x10; // inside the volume id
        Files.write(seg, b);

        CorruptFormatException e = assertThrows(CorruptFormatException.class,
                () -> new VolumeManager(store, dir, NioFs.INSTANCE, CONFIG).open("h"));
        assertTrue(e.getMessage().contains(seg.toString()) && e.getMessage().contains("offset"), e.getMessage());
        assertTrue(Files.exists(seg), "the damaged segment is kept for inspection");

        VolumeManager mgr = new VolumeManager(store, dir, NioFs.INSTANCE, CONFIG);
        assertEquals(1, mgr.check("h", VolumeCheck.Progress.NONE).problems().size());
        assertEquals(0, mgr.repair("h", VolumeCheck.Progress.NONE).walBytesCut(), "a new header, every record kept");
        Volume again = mgr.open("h");
        try {
            assertArrayEquals(new byte[] {7, 7, 7}, again.read(0, 3));
        } finally {
            again.close();
        }
    }

    @Test
    void badHeaderWithNothingBehindItIsAnInterruptedCreation() throws Exception {
        MemoryStore store = new MemoryStore();
        Volume v = create(store);
        v.write(0, new byte[] {7, 7, 7}, true);
        v.drain(); // in the store; the WAL is empty from here
        v.write(4096, new byte[] {1}, true); // a new segment...
        v.abandon();
        Path seg = lastSegment();
        Files.write(seg, Arrays.copyOf(Files.readAllBytes(seg), 64)); // ...whose records never made it
        byte[] b = Files.readAllBytes(seg);
        b[40] ^= 1;
        Files.write(seg, b);

        Volume again = new VolumeManager(store, dir, NioFs.INSTANCE, CONFIG).open("h");
        try {
            assertArrayEquals(new byte[] {7, 7, 7, 0}, again.read(0, 4));
            assertEquals(0, again.read(4096, 1)[0]);
        } finally {
            again.close();
        }
    }

    @Test
    void damagedFlushedRecordRefusesToOpenAndCheckReportsIt() throws Exception {
        MemoryStore store = new MemoryStore();
        Volume v = create(store);
        v.write(0, new byte[] {1, 1}, false);
        v.write(4096, new byte[] {2, 2}, false);
        v.flush();
        v.abandon();
        Path seg = lastSegment();
        byte[] b = Files.readAllBytes(seg);
        long records = 64 + 2 * (32 + 4096);
        assertEquals(records, markedLength(seg), "after the flush the WAL's sync mark covers the records");
        assertEquals(0, java.nio.ByteBuffer.wrap(b).getLong(48), "a flush leaves the segment's header alone (its page is not in the fdatasync)");
        assertEquals(3 * 4096, b.length, "zeros after them to the end of the page");
        long second = 64 + 32 + 4096; // the second record
        b[(int) second + 32 + 100] ^= 0x40; // inside its payload
        Files.write(seg, b);

        VolumeManager mgr = new VolumeManager(store, dir, NioFs.INSTANCE, CONFIG);
        CorruptFormatException e = assertThrows(CorruptFormatException.class, () -> mgr.open("h"));
        assertTrue(e.getMessage().contains(seg.toString()) && e.getMessage().contains("offset " + second)
                && e.getMessage().contains("flushed") && e.getMessage().contains("vblock check --repair"), e.getMessage());
        assertEquals(b.length, Files.size(seg), "nothing was cut");

        VolumeCheck.Report report = mgr.check("h", VolumeCheck.Progress.NONE);
        assertEquals(1, report.problems().size(), report.toString());
        assertEquals(seg.toString(), report.problems().get(0).key());
        assertEquals(second, report.problems().get(0).offset());

        // what the message says to do: give up the damaged record and what follows it
        VolumeCheck.Repair repaired = mgr.repair("h", VolumeCheck.Progress.NONE);
        assertEquals(b.length - second, repaired.walBytesCut());
        assertEquals(second, java.nio.ByteBuffer.wrap(Files.readAllBytes(seg)).getLong(48), "the cut segment's header says what of it was flushed");
        assertFalse(Files.exists(markFile()), "the sync mark, which said more, is gone");
        assertTrue(mgr.check("h", VolumeCheck.Progress.NONE).clean());
        Volume again = mgr.open("h");
        try {
            assertArrayEquals(new byte[] {1, 1, 0, 0}, again.read(0, 4));
            assertArrayEquals(new byte[] {0, 0}, again.read(4096, 2));
        } finally {
            again.close();
        }
    }

    @Test
    void segmentShorterThanItsSyncedLengthRefusesToOpen() throws Exception {
        MemoryStore store = new MemoryStore();
        Volume v = create(store);
        v.write(0, new byte[] {1}, true);
        v.write(4096, new byte[] {2}, true);
        v.abandon();
        Path seg = lastSegment();
        long end = markedLength(seg); // the records' end (zeros may follow: WalWriter.writeAhead)
        truncate(seg, end - 4096 - 32); // exactly at a record boundary: the scan alone sees a clean end
        CorruptFormatException e = assertThrows(CorruptFormatException.class,
                () -> new VolumeManager(store, dir, NioFs.INSTANCE, CONFIG).open("h"));
        assertTrue(e.getMessage().contains("flushed records are missing"), e.getMessage());
    }

    @Test
    void aDamagedSyncMarkIsIgnoredAndNothingIsLost() throws Exception {
        MemoryStore store = new MemoryStore();
        Volume v = create(store);
        v.write(0, new byte[] {1}, false);
        v.write(4096, new byte[] {2}, true);
        v.abandon();
        byte[] m = Files.readAllBytes(markFile());
        m[35] ^= 0x20; // inside the first seq: the CRC no longer matches
        Files.write(markFile(), m);

        VolumeManager mgr = new VolumeManager(store, dir, NioFs.INSTANCE, CONFIG);
        assertTrue(mgr.check("h", VolumeCheck.Progress.NONE).clean());
        Volume again = mgr.open("h");
        try {
            assertEquals(1, again.read(0, 1)[0]);
            assertEquals(2, again.read(4096, 1)[0]);
            again.write(8192, new byte[] {3}, false);
            again.flush(); // the new segment's first flush writes the mark whole again
        } finally {
            again.close();
        }
        WalHeader mark = mark();
        assertTrue(mark.syncedLength() > 0, "a good mark again: " + mark);
    }

    @Test
    void aSyncMarkNamingAnotherSegmentDoesNotApply() throws Exception {
        MemoryStore store = new MemoryStore();
        Volume v = create(store);
        byte[] big = new byte[64 * 1024];
        Arrays.fill(big, (byte) 5);
        v.write(0, big, true); // the mark: the first segment, far past where the next one's record lies
        v.drain(); // sealed and consolidated; the next records go to a new segment
        v.write(512 * 1024, new byte[] {6}, false); // acknowledged, never flushed
        v.abandon();
        Path seg = lastSegment();
        WalHeader mark = mark();
        WalHeader header = WalHeader.decode(java.nio.ByteBuffer.wrap(Files.readAllBytes(seg)), seg.toString());
        assertTrue(mark.firstSeq() < header.firstSeq() && mark.syncedLength() > 64 + 32 + 4096, "the mark names the older segment: " + mark);
        byte[] b = Files.readAllBytes(seg);
        b[64 + 32 + 7] ^= 1; // the unflushed record's payload, below the mark's length
        Files.write(seg, b);

        Volume again = new VolumeManager(store, dir, NioFs.INSTANCE, CONFIG).open("h");
        try {
            assertEquals(5, again.read(0, 1)[0]);
            assertEquals(0, again.read(512 * 1024, 1)[0], "the torn record is cut, not taken for flushed");
        } finally {
            again.close();
        }
    }

    @Test
    void damagedUnflushedTailIsCutAsATornWrite() throws Exception {
        MemoryStore store = new MemoryStore();
        Volume v = create(store);
        v.write(0, new byte[] {1}, true);
        v.write(4096, new byte[] {2}, false); // acknowledged, never flushed
        v.abandon();
        Path seg = lastSegment();
        byte[] b = Files.readAllBytes(seg);
        long synced = markedLength(seg);
        assertEquals(64 + 32 + 4096, synced, "the sync mark covers the flushed record only");
        b[(int) synced + 32 + 7] ^= 1;
        Files.write(seg, b);

        Volume again = new VolumeManager(store, dir, NioFs.INSTANCE, CONFIG).open("h");
        try {
            assertEquals(1, again.read(0, 1)[0]);
            assertEquals(0, again.read(4096, 1)[0], "the torn record is cut");
            assertEquals(b.length - synced, again.recovered().tornBytes(), "the torn record and whatever follows it (zeros written ahead)");
        } finally {
            again.close();
        }
    }

    @Test
    void repairMendsAnOlderSegmentCutToItsDamagedHeader() throws Exception {
        FaultyStore store = new FaultyStore(new MemoryStore(), 1);
        VolumeManager mgr = new VolumeManager(store, dir, NioFs.INSTANCE, CONFIG);
        mgr.create("h", 4 << 20);
        Volume v = mgr.open("h");
        store.down(true); // nothing is consolidated: the WAL keeps every segment
        byte[] data = new byte[256 * 1024];
        for (int i = 0; i < 6; i++) {
            Arrays.fill(data, (byte) (i + 1));
            v.write((long) i * data.length, data, false);
        }
        v.flush();
        v.abandon();
        store.down(false);
        List<Path> segs = segments();
        assertTrue(segs.size() >= 2, "several segments: " + segs);
        Path first = segs.get(0);
        truncate(first, 64);
        byte[] b = Files.readAllBytes(first);
        b[40] ^= 1;
        Files.write(first, b);

        assertThrows(CorruptFormatException.class, () -> mgr.open("h"));
        assertEquals(1, mgr.check("h", VolumeCheck.Progress.NONE).problems().size());
        mgr.repair("h", VolumeCheck.Progress.NONE);
        assertTrue(mgr.check("h", VolumeCheck.Progress.NONE).clean(), "what check found, repair mends");
        Volume again = mgr.open("h"); // the records of the later segments are replayed
        try {
            assertEquals(6, again.read(5L * data.length, 1)[0]);
        } finally {
            again.close();
        }
    }

    private Path markFile() {
        return dir.resolve("volumes/h/wal/" + Formats.WAL_SYNC_MARK);
    }

    /** The WAL's sync mark, as a segment header. */
    private WalHeader mark() throws IOException {
        return WalHeader.decode(java.nio.ByteBuffer.wrap(Files.readAllBytes(markFile())), "mark");
    }

    /** The synced length in the WAL's sync mark, which must name {@code seg}. */
    private long markedLength(Path seg) throws IOException {
        WalHeader mark = mark();
        WalHeader header = WalHeader.decode(java.nio.ByteBuffer.wrap(Files.readAllBytes(seg)), seg.toString());
        assertEquals(header.withSyncedLength(mark.syncedLength()), mark, "the mark names the segment");
        return mark.syncedLength();
    }

    private static void truncate(Path file, long size) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.truncate(size);
        }
    }

    private List<Path> segments() throws Exception {
        try (Stream<Path> s = Files.list(dir.resolve("volumes/h/wal"))) {
            return s.filter(p -> p.toString().endsWith(".wal")).sorted().toList();
        }
    }

    private Volume create(MemoryStore store) throws Exception {
        VolumeManager mgr = new VolumeManager(store, dir, NioFs.INSTANCE, CONFIG);
        mgr.create("h", 1 << 20);
        return mgr.open("h");
    }

    private Path lastSegment() throws Exception {
        List<Path> segs = segments();
        return segs.get(segs.size() - 1);
    }
}
