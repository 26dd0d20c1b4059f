package io.viperblock.core.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.viperblock.core.format.Formats;
import io.viperblock.core.format.WalHeader;
import io.viperblock.core.format.WalRecord;
import io.viperblock.core.io.CrashFs;
import io.viperblock.core.io.FsFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * The WAL's sync mark after a power loss: the writer never fsyncs it on a flush's path, but a
 * flush that no other follows still has its mark on disk within about
 * {@link WalWriter#MARK_SYNC_INTERVAL_NANOS}, not only once the kernel writes it back.
 */
class WalSyncMarkTest {

    @Test
    void aLoneFlushHasItsMarkOnDiskWithinTheInterval() throws Exception {
        CrashFs fs = new CrashFs();
        Path dir = Path.of("/vol/wal");
        fs.createDirectories(dir);
        UUID volume = UUID.randomUUID();
        WalWriter wal = new WalWriter(fs, dir, volume, 1, 1 << 20, new AtomicLong(1), List.of());
        wal.append(WalRecord.WRITE, 0, 1, ByteBuffer.allocate(Formats.BLOCK_SIZE));
        wal.sync(); // the only flush, right after the open: within an interval of the last mark fsync

        Thread.sleep(WalWriter.MARK_SYNC_INTERVAL_NANOS / 1_000_000 + 2_000);
        fs.crash(CrashFs.Mode.STRICT, new java.util.SplittableRandom(1)); // only what was fsynced
        wal.abandon();

        WalHeader mark;
        try (FsFile f = fs.open(dir.resolve(Formats.WAL_SYNC_MARK))) {
            mark = WalHeader.read(f, "mark");
        }
        assertEquals(new WalHeader(volume, 1, 1, WalHeader.LENGTH + WalRecord.RECORD_HEADER + Formats.BLOCK_SIZE), mark);
    }
}
