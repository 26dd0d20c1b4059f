package io.viperblock.core.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.core.NoSpaceException;
import io.viperblock.core.format.CorruptFormatException;
import io.viperblock.core.format.MapDelta;
import io.viperblock.core.io.NioFs;
import io.viperblock.core.store.FaultyStore;
import io.viperblock.core.store.MemoryStore;
import io.viperblock.core.store.ObjectInfo;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Recovery from damaged WAL and map objects, and the engine's answer to a failing store. */
class VolumeRecoveryTest {
    @TempDir
    Path tmp;

    private static byte[] pattern(int n, int seed) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i * 31 + seed);
        }
        return b;
    }

    private List<Path> segments() throws IOException {
        try (Stream<Path> s = Files.list(tmp.resolve("data/volumes/v/wal"))) {
            return s.filter(p -> p.toString().endsWith(".wal")).sorted().toList();
        }
    }

    /** Writes 3 segments' worth of data while the store is down, so the WAL keeps them all. */
    private VolumeManager writeWhileStoreDown(FaultyStore store) throws Exception {
        VolumeManager mgr = new VolumeManager(store, tmp.resolve("data"), NioFs.INSTANCE, VolumeModelTest.smallConfig());
        mgr.create("v", 8 << 20);
        Volume v = mgr.open("v");
        store.down(true);
        for (int i = 0; i < 11; i++) {
            v.write((long) i * 256 * 1024, pattern(256 * 1024, i), false);
        }
        v.flush();
        v.write(11L * 256 * 1024, pattern(256 * 1024, 11), false); // acknowledged, not flushed: may be torn
        assertTrue(segments().size() >= 3, "expected several WAL segments, got " + segments());
        v.abandon();
        store.down(false);
        return new VolumeManager(store, tmp.resolve("data"), NioFs.INSTANCE, VolumeModelTest.smallConfig());
    }

    @Test
    void tornTailOfTheLastSegmentIsCutAndReplayGoesOn() throws Exception {
        FaultyStore store = new FaultyStore(new MemoryStore(), 1);
        VolumeManager mgr = writeWhileStoreDown(store);
        List<Path> segs = segments();
        Path last = segs.get(segs.size() - 1);
        long size = Files.size(last);
        try (RandomAccessFile f = new RandomAccessFile(last.toFile(), "rw")) {
            f.setLength(size - 1000); // the last record loses its end
        }
        Volume v = mgr.open("v");
        assertTrue(v.recovered().tornBytes() > 0, "torn bytes reported");
        // everything but the last write is intact
        for (int i = 0; i < 11; i++) {
            assertArrayEquals(pattern(256 * 1024, i), v.read((long) i * 256 * 1024, 256 * 1024), "write " + i);
        }
        v.close();
    }

    @Test
    void corruptionInAnEarlierSegmentRefusesToOpenNamingFileAndOffset() throws Exception {
        FaultyStore store = new FaultyStore(new MemoryStore(), 1);
        VolumeManager mgr = writeWhileStoreDown(store);
        Path first = segments().get(0);
        try (RandomAccessFile f = new RandomAccessFile(first.toFile(), "rw")) {
            f.seek(64 + 32 + 5000); // inside the first record's payload
            int b = f.read();
            f.seek(64 + 32 + 5000);
            f.write(b ^ 0x40);
        }
        CorruptFormatException e = assertThrows(CorruptFormatException.class, () -> mgr.open("v"));
        assertTrue(e.getMessage().contains(first.toString()) && e.getMessage().contains("offset 64"), e.getMessage());
        // refusing did not destroy anything: repair the byte and it opens with everything
        try (RandomAccessFile f = new RandomAccessFile(first.toFile(), "rw")) {
            f.seek(64 + 32 + 5000);
            int b = f.read();
            f.seek(64 + 32 + 5000);
            f.write(b ^ 0x40);
        }
        Volume v = mgr.open("v");
        assertArrayEquals(pattern(256 * 1024, 0), v.read(0, 256 * 1024));
        v.close();
    }

    @Test
    void damagedOrMissingMapObjectsRefuseToOpen() throws Exception {
        MemoryStore mem = new MemoryStore();
        VolumeManager mgr = new VolumeManager(mem, tmp.resolve("data"), NioFs.INSTANCE, VolumeModelTest.smallConfig().withCheckpointEvery(100));
        mgr.create("v", 8 << 20);
        Volume v = mgr.open("v");
        for (int i = 0; i < 3; i++) {
            v.write((long) i << 20, pattern(1 << 20, i), false);
            v.drain(); // one delta each
        }
        v.close();
        List<ObjectInfo> deltas = mem.list("volumes/v/map/").stream().filter(o -> o.key().endsWith(".delta")).toList();
        assertTrue(deltas.size() >= 3, deltas.toString());
        String middle = deltas.get(1).key();
        ByteBuffer saved = mem.get(middle);
        // a flipped byte
        ByteBuffer bad = ByteBuffer.allocate(saved.remaining()).put(saved.duplicate()).flip();
        bad.put(70, (byte) (bad.get(70) ^ 1));
        mem.put(middle, bad);
        CorruptFormatException e1 = assertThrows(CorruptFormatException.class, () -> mgr.open("v"));
        assertTrue(e1.getMessage().contains(middle), e1.getMessage());
        // a missing one breaks the chain
        mem.delete(middle);
        CorruptFormatException e2 = assertThrows(CorruptFormatException.class, () -> mgr.open("v"));
        assertTrue(e2.getMessage().contains("missing"), e2.getMessage());
        mem.put(middle, saved);
        Volume ok = mgr.open("v");
        assertArrayEquals(pattern(1 << 20, 2), ok.read(2 << 20, 1 << 20));
        ok.close();
    }

    @Test
    void aDeltaWhosePutReportedFailureButLandedIsIgnored() throws Exception {
        MemoryStore mem = new MemoryStore();
        VolumeManager mgr = new VolumeManager(mem, tmp.resolve("data"), NioFs.INSTANCE, VolumeModelTest.smallConfig().withCheckpointEvery(100));
        mgr.create("v", 8 << 20);
        Volume v = mgr.open("v");
        v.write(0, pattern(1 << 20, 1), false);
        v.drain();
        v.write(1 << 20, pattern(1 << 20, 2), false);
        v.drain();
        v.close();
        List<ObjectInfo> deltas = mem.list("volumes/v/map/").stream().filter(o -> o.key().endsWith(".delta")).toList();
        MapDelta first = MapDelta.decode(mem.get(deltas.get(0).key()), deltas.get(0).key());
        MapDelta last = MapDelta.decode(mem.get(deltas.get(deltas.size() - 1).key()), "last");
        // an attempt between the two that "failed" but reached the store: it would zero everything
        long orphanSeq = last.deltaSeq() - 1;
        MapDelta orphan = new MapDelta(orphanSeq, first.deltaSeq(), first.walCoveredSeq(), first.epoch(), List.of(),
                List.of(MapDelta.Entry.hole(0, 2048)));
        mem.put(io.viperblock.core.format.Formats.deltaKey("v", orphanSeq), orphan.encode());
        Volume again = mgr.open("v");
        assertArrayEquals(pattern(1 << 20, 1), again.read(0, 1 << 20), "the orphan delta was applied");
        assertArrayEquals(pattern(1 << 20, 2), again.read(1 << 20, 1 << 20));
        again.close();
    }

    @Test
    void aFlippedByteInAChunkIsReportedNotServed() throws Exception {
        MemoryStore mem = new MemoryStore();
        VolumeManager mgr = new VolumeManager(mem, tmp.resolve("data"), NioFs.INSTANCE, VolumeModelTest.smallConfig().withCacheBytes(0));
        mgr.create("v", 8 << 20);
        Volume v = mgr.open("v");
        v.write(0, pattern(64 * 1024, 3), false);
        v.drain();
        String chunk = mem.list("volumes/v/chunks/").get(0).key();
        ByteBuffer obj = mem.get(chunk);
        ByteBuffer bad = ByteBuffer.allocate(obj.remaining()).put(obj.duplicate()).flip();
        bad.put(5 * 4096 + 17, (byte) (bad.get(5 * 4096 + 17) ^ 0x80));
        mem.put(chunk, bad);
        v.dropCache();
        CorruptFormatException e = assertThrows(CorruptFormatException.class, () -> v.read(5 * 4096, 4096));
        assertTrue(e.getMessage().contains(chunk), e.getMessage());
        assertArrayEquals(java.util.Arrays.copyOfRange(pattern(64 * 1024, 3), 0, 4096), v.read(0, 4096), "other blocks still served");
        v.close();
    }

    @Test
    void aFullStoreTurnsIntoNoSpaceForWritersAndLosesNothing() throws Exception {
        FaultyStore store = new FaultyStore(new MemoryStore(), 1);
        VolumeManager mgr = new VolumeManager(store, tmp.resolve("data"), NioFs.INSTANCE,
                VolumeModelTest.smallConfig().withBackpressureTimeout(Duration.ofSeconds(20)));
        mgr.create("v", 16 << 20);
        Volume v = mgr.open("v");
        store.full(true);
        int written = 0;
        NoSpaceException full = null;
        for (int i = 0; i < 16 && full == null; i++) {
            try {
                v.write((long) i << 20, pattern(1 << 20, i), false);
                written++;
            } catch (NoSpaceException e) {
                full = e;
            }
        }
        assertTrue(full != null, "writes past the WAL bound must fail with ENOSPC while the store is full");
        assertTrue(full.getMessage().contains("full"), full.getMessage());
        v.flush();
        for (int i = 0; i < written; i++) {
            assertArrayEquals(pattern(1 << 20, i), v.read((long) i << 20, 1 << 20), "acknowledged write " + i);
        }
        store.full(false);
        v.drain(); // space is back: consolidation catches up, and writes succeed again
        v.write(15L << 20, pattern(1 << 20, 15), true);
        v.close();
        Volume again = mgr.open("v");
        for (int i = 0; i < written; i++) {
            assertArrayEquals(pattern(1 << 20, i), again.read((long) i << 20, 1 << 20), "after reopen, write " + i);
        }
        assertArrayEquals(pattern(1 << 20, 15), again.read(15L << 20, 1 << 20));
        assertEquals(0, again.recovered().walRecords(), "close drained everything to the store");
        again.close();
    }
}
