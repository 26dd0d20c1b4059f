package io.viperblock.core.wal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.core.format.WalHeader;
import io.viperblock.core.format.WalRecord;
import io.viperblock.core.format.WalScan;
import io.viperblock.core.io.FsFile;
import io.viperblock.core.io.NioFs;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The zeros the writer leaves after its records. Zeros written ahead of the records of a segment
 * in a new file once a client flushes ({@code WalWriter.writeAhead}): so that flushes overwrite
 * written blocks instead of growing the file. Zeros to the end of the page after every write
 * ({@code WalWriter.PAGE}), and a reused file's header written as a whole page: so that no write
 * covers part of a page the page cache may not hold, which would make the kernel read it from
 * disk first. They must never be taken for records, and must be gone from every sealed segment.
 */
class WalWriteAheadTest {
    private static final long SEGMENT = 4 << 20;
    private static final int RECORD = WalRecord.RECORD_HEADER + 4096;

    @TempDir
    Path dir;

    private final UUID id = UUID.randomUUID();
    private final AtomicLong nextSeq = new AtomicLong(1);

    @Test
    void zerosGoAheadOfTheRecordsOnlyAfterAFlushAndOnlyWhereTheFileEnds() throws Exception {
        WalWriter wal = new WalWriter(NioFs.INSTANCE, dir, id, 1, SEGMENT, nextSeq, List.of());
        WalSegment first = wal.active();
        append(wal, 3);
        assertEquals(pageEnd(first.size()), Files.size(first.path()), "no flush yet: the records, then zeros to the end of the page");
        assertZeros(first.path(), first.size());

        wal.sync();
        append(wal, 1);
        long records = first.size();
        assertEquals(records + WalWriter.WRITE_AHEAD_BYTES, Files.size(first.path()), "1 MiB of zeros after the records");
        assertZeros(first.path(), records);

        // records now overwrite the zeros; the next step comes once less than half of them is left
        int fit = WalWriter.WRITE_AHEAD_BYTES / 2 / RECORD;
        append(wal, fit);
        assertEquals(records + WalWriter.WRITE_AHEAD_BYTES, Files.size(first.path()), "inside the zeros: the file did not grow");
        append(wal, 1);
        assertEquals(records + 2L * WalWriter.WRITE_AHEAD_BYTES, Files.size(first.path()), "the next step of zeros");
        assertZeros(first.path(), first.size());

        WalSegment sealed = wal.sealActive();
        assertEquals(sealed.size(), Files.size(sealed.path()), "the seal cuts the zeros");
        assertNull(scan(sealed.path()).problem(), "a sealed segment ends exactly at its last record");

        // the sealed segment's file becomes a spare, which the next segment reuses: no zeros there
        WalSegment second = wal.active();
        append(wal, 2);
        wal.sealActive();
        wal.retire(sealed);
        wal.retire(second);
        WalSegment third = wal.active();
        append(wal, 1);
        assertSame(third, wal.sealActive());
        WalSegment fourth = wal.active();
        long reusedSize = Files.size(fourth.path());
        assertTrue(reusedSize > fourth.size(), "the new segment is in a reused file, its old records behind: " + fourth.path());
        wal.sync();
        append(wal, 3);
        assertEquals(reusedSize, Files.size(fourth.path()), "a reused file gets no zeros while more than half a step of its own blocks lie ahead");
        // this one is shorter than a segment (it was sealed early): records that come within half
        // a step of its end get zeros past it, as in a new file
        append(wal, (int) ((reusedSize - fourth.size() - WalWriter.WRITE_AHEAD_BYTES / 2) / RECORD) + 1);
        assertEquals(reusedSize + WalWriter.WRITE_AHEAD_BYTES, Files.size(fourth.path()), "zeros past the end of a short reused file");
        assertZeros(fourth.path(), reusedSize);
        wal.close();
    }

    private static long pageEnd(long position) {
        return (position + WalWriter.PAGE - 1) / WalWriter.PAGE * WalWriter.PAGE;
    }

    @Test
    void aCrashWithZerosAheadReplaysEveryRecordAndCutsTheZeros() throws Exception {
        WalWriter wal = new WalWriter(NioFs.INSTANCE, dir, id, 1, SEGMENT, nextSeq, List.of());
        append(wal, 5);
        wal.sync();
        append(wal, 7);
        WalSegment active = wal.active();
        long records = active.size();
        long file = Files.size(active.path());
        assertTrue(file > records, "zeros ahead");
        wal.abandon();

        List<Long> seqs = new ArrayList<>();
        WalReplay.Result r = WalReplay.replay(NioFs.INSTANCE, dir, id, 0,
                (segment, type, seq, firstBlock, count, payloadOffset) -> seqs.add(seq));
        assertEquals(12, seqs.size(), "every record, flushed or not");
        assertEquals(12, r.maxSeq());
        assertEquals(file - records, r.tornBytes(), "the zeros are cut as a torn tail");
        assertEquals(records, Files.size(active.path()));
        for (WalSegment s : r.segments()) {
            s.close();
        }
    }

    @Test
    void everyWriteEndsAtAPageEndInAReusedFileAndACrashReplaysEveryRecord() throws Exception {
        WalWriter wal = new WalWriter(NioFs.INSTANCE, dir, id, 1, SEGMENT, nextSeq, List.of());
        WalSegment old = wal.active();
        for (int i = 0; i < 200; i++) { // old records all through the file the next segment reuses
            wal.append(WalRecord.WRITE, i, 1, filled(4096, (byte) 0x5a));
        }
        assertEquals(old, wal.sealActive());
        byte[] oldBytes = Files.readAllBytes(old.path());
        wal.retire(old); // its file becomes a spare
        wal.append(WalRecord.WRITE, 0, 1, filled(4096, (byte) 1));
        wal.sealActive(); // the segment started at the first seal took a new file; the next one takes the spare
        WalSegment reused = wal.active();
        assertEquals(oldBytes.length, Files.size(reused.path()), "the new segment is in the old file: " + reused.path());
        assertZeros(reused.path(), WalHeader.LENGTH, WalWriter.PAGE, "the header page");

        SplittableRandom random = new SplittableRandom(20261127L);
        List<byte[]> payloads = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
            if (random.nextInt(3) == 0) { // a record of its header alone: the ends move by 32 bytes
                wal.append(WalRecord.TRIM, 5_000 + i, 1 + random.nextInt(8), null);
            }
            int blocks = 1 + random.nextInt(3);
            byte[] p = new byte[blocks * 4096];
            random.nextBytes(p);
            payloads.add(p);
            wal.append(WalRecord.WRITE, 10_000 + i, blocks, ByteBuffer.wrap(p));
            long end = reused.size();
            long pageEnd = (end + WalWriter.PAGE - 1) / WalWriter.PAGE * WalWriter.PAGE;
            assertZeros(reused.path(), end, pageEnd, "after record " + i);
            if (pageEnd + 8 <= oldBytes.length) {
                assertEquals(ByteBuffer.wrap(oldBytes).getLong((int) pageEnd), readLong(reused.path(), pageEnd),
                        "the old records from the next page on: nothing more was written");
            }
        }
        wal.abandon(); // a crash: the old records are still behind the new ones

        List<byte[]> replayed = new ArrayList<>();
        WalReplay.Result r = WalReplay.replay(NioFs.INSTANCE, dir, id, 0, (segment, type, seq, firstBlock, count, payloadOffset) -> {
            if (type == WalRecord.WRITE && firstBlock >= 10_000) {
                replayed.add(read(segment.file(), payloadOffset, payloads.get((int) firstBlock - 10_000).length));
            }
        });
        assertEquals(payloads.size(), replayed.size(), "every new record, and none of the old ones behind them");
        for (int i = 0; i < payloads.size(); i++) {
            assertArrayEquals(payloads.get(i), replayed.get(i), "record " + i);
        }
        for (WalSegment s : r.segments()) {
            s.close();
        }
    }

    private static void append(WalWriter wal, int n) throws Exception {
        for (int i = 0; i < n; i++) {
            ByteBuffer block = ByteBuffer.allocate(4096);
            block.putLong(0, i + 1);
            wal.append(WalRecord.WRITE, i, 1, block);
        }
    }

    private static void assertZeros(Path file, long from) throws Exception {
        assertZeros(file, from, Files.size(file), "after the records");
    }

    private static void assertZeros(Path file, long from, long to, String what) throws Exception {
        try (FsFile f = NioFs.INSTANCE.open(file)) {
            ByteBuffer b = ByteBuffer.allocate((int) (to - from));
            f.read(b, from);
            for (int i = 0; i < b.capacity(); i++) {
                if (b.get(i) != 0) {
                    throw new AssertionError(what + ": byte " + (from + i) + " of " + file + " is " + b.get(i) + ", not zero");
                }
            }
        }
    }

    private static ByteBuffer filled(int n, byte b) {
        byte[] a = new byte[n];
        java.util.Arrays.fill(a, b);
        return ByteBuffer.wrap(a);
    }

    private static byte[] read(FsFile f, long position, int n) {
        ByteBuffer b = ByteBuffer.allocate(n);
        try {
            f.read(b, position);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return b.array();
    }

    private static long readLong(Path file, long position) throws Exception {
        try (FsFile f = NioFs.INSTANCE.open(file)) {
            ByteBuffer b = ByteBuffer.allocate(8);
            f.read(b, position);
            return b.getLong(0);
        }
    }

    private static WalScan.ScanResult scan(Path file) throws Exception {
        try (var f = NioFs.INSTANCE.open(file)) {
            return WalScan.scan(f, file.toString(), WalHeader.LENGTH, (type, seq, firstBlock, count, payloadPosition, recordLength) -> { });
        }
    }
}
