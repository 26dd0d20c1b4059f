package io.viperblock.core.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.core.format.WalHeader;
import io.viperblock.core.format.WalRecord;
import io.viperblock.core.format.WalScan;
import io.viperblock.core.io.NioFs;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Zeros written ahead of the records of a segment in a new file once a client flushes
 * ({@code WalWriter.writeAhead}): so that flushes overwrite written blocks instead of growing the
 * file. They must never be taken for records, and must be gone from every sealed segment.
 */
class WalWriteAheadTest {
    private static final long SEGMENT = 4 << 20;
    private static final int RECORD = WalRecord.RECORD_HEADER + 4096;

    @TempDir
    Path dir;

    private final UUID id = UUID.randomUUID();
    private final AtomicLong nextSeq = new AtomicLong(1);

    @Test
    void zerosGoAheadOfTheRecordsOnlyAfterAFlushAndOnlyInANewFile() throws Exception {
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
        assertEquals(reusedSize, Files.size(fourth.path()), "a reused file gets no zeros");
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

    private static void append(WalWriter wal, int n) throws Exception {
        for (int i = 0; i < n; i++) {
            ByteBuffer block = ByteBuffer.allocate(4096);
            block.putLong(0, i + 1);
            wal.append(WalRecord.WRITE, i, 1, block);
        }
    }

    private static void assertZeros(Path file, long from) throws Exception {
        byte[] b = Files.readAllBytes(file);
        for (long i = from; i < b.length; i++) {
            if (b[(int) i] != 0) {
                throw new AssertionError("byte " + i + " of " + file + " is " + b[(int) i] + ", not zero");
            }
        }
    }

    private static WalScan.ScanResult scan(Path file) throws Exception {
        try (var f = NioFs.INSTANCE.open(file)) {
            return WalScan.scan(f, file.toString(), WalHeader.LENGTH, (type, seq, firstBlock, count, payloadPosition, recordLength) -> { });
        }
    }
}
