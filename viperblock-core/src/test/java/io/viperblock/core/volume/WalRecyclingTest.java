package io.viperblock.core.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.core.format.Formats;
import io.viperblock.core.format.WalHeader;
import io.viperblock.core.io.NioFs;
import io.viperblock.core.store.MemoryStore;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The file of a consolidated WAL segment is reused for a later segment (its fdatasyncs then
 * overwrite blocks instead of appending). The old records behind the new ones must never be
 * taken for data: not while open, not after a crash, not after a clean close.
 */
class WalRecyclingTest {
    private static final VolumeConfig CONFIG = VolumeScenarios.smallConfig().withSealAfter(Duration.ofHours(1));

    @TempDir
    Path dir;

    @Test
    void aConsolidatedSegmentsFileIsReusedAndItsOldRecordsNeverComeBack() throws Exception {
        MemoryStore store = new MemoryStore();
        VolumeManager mgr = new VolumeManager(store, dir, NioFs.INSTANCE, CONFIG);
        mgr.create("r", 8 << 20);
        Volume v = mgr.open("r");
        byte[] old = filled(256 * 1024, 1);
        for (int i = 0; i < 4; i++) {
            v.write((long) i * old.length, old, false); // 1 MiB of records: the segment fills up
        }
        v.drain(); // consolidated: the segment files become spares
        assertTrue(files(".spare").size() >= 1, "a spare is kept: " + files(""));
        v.write(1000L * 4096, filled(4096, 9), false);
        v.drain(); // seals the active segment: the next one takes a spare

        v.write(0, filled(4096, 2), true);
        Path seg = files(".wal").get(files(".wal").size() - 1);
        long records = 64 + 32 + 4096;
        assertTrue(Files.size(seg) > records, "the reused file still holds its old records behind the new one");
        WalHeader mark = WalHeader.decode(ByteBuffer.wrap(Files.readAllBytes(dir.resolve("volumes/r/wal/" + Formats.WAL_SYNC_MARK))), "mark");
        assertEquals(WalHeader.decode(ByteBuffer.wrap(Files.readAllBytes(seg)), "seg").firstSeq(), mark.firstSeq(), "the sync mark names the new segment");
        assertEquals(records, mark.syncedLength(), "the sync mark's synced length covers the new record only");
        v.abandon(); // a crash: the segment is left with the old records behind the new one
        long fileSize = Files.size(seg);

        Volume again = new VolumeManager(store, dir, NioFs.INSTANCE, CONFIG).open("r");
        try {
            assertArrayEquals(filled(4096, 2), again.read(0, 4096), "the acknowledged write");
            assertArrayEquals(Arrays.copyOfRange(old, 4096, old.length), again.read(4096, old.length - 4096), "the rest from the store");
            assertEquals(fileSize - records, again.recovered().tornBytes(), "replay cut the old records behind the new one");
            again.write(8192, filled(4096, 3), false);
        } finally {
            again.close();
        }
        Path last = files(".wal").get(files(".wal").size() - 1);
        long size = Files.size(last);
        Volume third = new VolumeManager(store, dir, NioFs.INSTANCE, CONFIG).open("r");
        try {
            assertEquals(0, third.recovered().tornBytes(), "a clean close leaves nothing to cut");
            assertArrayEquals(filled(4096, 3), third.read(8192, 4096));
            assertTrue(size >= 64, "closed segment " + last + " of " + size + " bytes");
        } finally {
            third.close();
        }
    }

    @Test
    void aSealedReusedSegmentEndsAtItsRecords() throws Exception {
        io.viperblock.core.store.FaultyStore store = new io.viperblock.core.store.FaultyStore(new MemoryStore(), 1);
        VolumeManager mgr = new VolumeManager(store, dir, NioFs.INSTANCE, CONFIG);
        mgr.create("r", 8 << 20);
        Volume v = mgr.open("r");
        for (int i = 0; i < 8; i++) {
            v.write((long) i * 256 * 1024, filled(256 * 1024, 10 + i), false);
        }
        v.drain();
        // a few records in the reused file, then sealed by a drain that the store refuses:
        // the segment stays sealed in the WAL, an older segment than the next one
        v.write(0, filled(4096, 4), false);
        v.write(4096, filled(4096, 5), false);
        store.down(true);
        try {
            v.drain();
        } catch (java.io.IOException expected) {
            // the store is down
        }
        v.write(8192, filled(4096, 6), true);
        v.abandon();
        store.down(false);
        List<Path> wal = files(".wal");
        assertTrue(wal.size() >= 2, "a sealed segment and the active one: " + wal);
        Path sealed = wal.get(wal.size() - 2);
        assertEquals(64 + 2 * (32 + 4096), Files.size(sealed), "the sealed segment was cut to its records");
    }

    private static byte[] filled(int n, int v) {
        byte[] b = new byte[n];
        Arrays.fill(b, (byte) v);
        return b;
    }

    private List<Path> files(String suffix) throws Exception {
        try (Stream<Path> s = Files.list(dir.resolve("volumes/r/wal"))) {
            return s.filter(p -> p.toString().endsWith(suffix)).sorted().toList();
        }
    }
}
