package io.viperblock.core.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.viperblock.core.format.WalRecord;
import io.viperblock.core.io.NioFs;
import io.viperblock.core.testing.Seeds;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The block CRCs the WAL writer keeps for the consolidator are those of the bytes in the segment
 * file, found by the offset of each block of each WRITE record, among ZERO and TRIM records; a
 * list built by replay has none.
 */
class RecordListCrcTest {
    @TempDir
    Path dir;

    @Test
    void everyBlockOfEveryWriteHasTheCrcOfItsBytesInTheFile() throws Exception {
        SplittableRandom r = Seeds.random("everyBlockOfEveryWriteHasTheCrcOfItsBytesInTheFile");
        WalWriter wal = new WalWriter(NioFs.INSTANCE, dir, UUID.randomUUID(), 1, 64 << 20, new AtomicLong(1), List.of());
        WalSegment seg = null;
        for (int i = 0; i < 300; i++) {
            int type = r.nextInt(5) == 0 ? (r.nextBoolean() ? WalRecord.ZERO : WalRecord.TRIM) : WalRecord.WRITE;
            int blocks = 1 + (r.nextInt(10) == 0 ? r.nextInt(256) : r.nextInt(3));
            ByteBuffer payload = type == WalRecord.WRITE ? ByteBuffer.wrap(Seeds.bytes(r, blocks * 4096)) : null;
            seg = wal.append(type, r.nextLong(1L << 30), blocks, payload).segment();
        }
        assertEquals(seg, wal.sealActive());
        RecordList recs = seg.records();
        assertNotNull(recs.blockCrcs());
        int checked = 0;
        ByteBuffer block = ByteBuffer.allocate(4096);
        for (int i = 0; i < recs.size(); i++) {
            if (recs.type(i) != WalRecord.WRITE) {
                long off = recs.payloadOffset(i);
                assertThrows(IllegalArgumentException.class, () -> recs.blockCrcIndex(off), "record " + i);
                continue;
            }
            for (int b = 0; b < recs.count(i); b++) {
                long off = recs.payloadOffset(i) + b * 4096L;
                seg.read(block.clear(), off);
                CRC32C crc = new CRC32C();
                crc.update(block.flip());
                assertEquals((int) crc.getValue(), recs.blockCrcs()[recs.blockCrcIndex(off)], "record " + i + ", block " + b);
                checked++;
            }
            long inside = recs.payloadOffset(i) + 100;
            assertThrows(IllegalArgumentException.class, () -> recs.blockCrcIndex(inside));
        }
        assertEquals(true, checked > 300, checked + " blocks checked");

        RecordList replayed = new RecordList(); // as WalReplay builds it: no CRCs
        replayed.add(WalRecord.WRITE, 1, 0, 1, 64);
        assertNull(replayed.blockCrcs());
        assertEquals(-1, replayed.blockCrcIndex(64));
        wal.close();
    }
}
