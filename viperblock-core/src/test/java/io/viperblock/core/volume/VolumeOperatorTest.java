package io.viperblock.core.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.core.format.ChunkFooter;
import io.viperblock.core.io.Fs;
import io.viperblock.core.io.NioFs;
import io.viperblock.core.store.MemoryStore;
import io.viperblock.core.store.ObjectInfo;
import io.viperblock.core.testing.Seeds;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The operator's operations on the engine: inspect, resize, check and repair. */
class VolumeOperatorTest {
    private static final int B = 4096;

    @TempDir
    Path tmp;

    private final MemoryStore store = new MemoryStore();

    private VolumeManager manager() throws Exception {
        return new VolumeManager(store, tmp.resolve("data"), NioFs.INSTANCE, VolumeScenarios.smallConfig());
    }

    /** No background consolidation: what is written stays pending in the WAL until a drain. */
    private VolumeManager quietManager() throws Exception {
        return new VolumeManager(store, tmp.resolve("data"), NioFs.INSTANCE,
                VolumeConfig.defaults().withSegmentBytes(1 << 20).withSealAfter(java.time.Duration.ofHours(1)));
    }

    private List<String> keys() throws Exception {
        return store.list("").stream().map(ObjectInfo::key).toList();
    }

    @Test
    void aWriteFromABufferNotAtPositionZeroWritesTheRemainingBytes() throws Exception {
        VolumeManager m = manager();
        m.create("v", 1 << 20);
        byte[] a = Seeds.bytes(Seeds.random("bufferPosition"), 4 * B);
        try (Volume v = m.open("v")) {
            v.write(B, ByteBuffer.wrap(a, 2 * B, 2 * B), false);
            assertArrayEquals(java.util.Arrays.copyOfRange(a, 2 * B, 4 * B), v.read(B, 2 * B));
        }
    }

    @Test
    void inspectReadsTheMapAndThisNodesWalWithoutChangingAnything() throws Exception {
        VolumeManager m = quietManager();
        m.create("v", 1 << 20);
        VolumeInspection never = m.inspect("v");
        assertNull(never.lease());
        assertEquals(0, never.allocatedBytes());
        Volume v = m.open("v");
        v.write(0, new byte[] {1}, false);
        v.write(10 * B, new byte[3 * B], false);
        v.drain(); // 4 blocks in the store
        v.write(20 * B, new byte[2 * B], false);
        v.trim(10 * B, B);
        v.flush();
        List<String> before = keys();
        VolumeInspection open = m.inspect("v");
        assertEquals(before, keys(), "inspect changed the store");
        assertTrue(open.open());
        assertEquals(v.epoch(), open.lease().epoch());
        assertEquals(4 * B, open.storedBytes());
        assertEquals(2 * B, open.pendingWriteBytes());
        assertEquals(2, open.pendingWalRecords());
        assertEquals(5 * B, open.allocatedBytes(), "stored 4 + pending 2 - trimmed 1");
        assertTrue(open.pendingWalBytes() >= 2 * B + 64);
        v.close();
        VolumeInspection closed = m.inspect("v");
        assertFalse(closed.open());
        assertEquals(5 * B, closed.storedBytes());
        assertEquals(0, closed.pendingWalBytes());
        assertTrue(closed.chunkObjects() >= 2);
    }

    @Test
    @SuppressWarnings("unchecked")
    void inspectAndCheckSkipAWalSegmentRetiredAfterTheListing() throws Exception {
        VolumeManager m = quietManager();
        m.create("v", 1 << 20);
        Volume v = m.open("v");
        v.write(0, new byte[3 * B], false);
        v.flush();
        // the listing names one segment more, an older one that is gone by the time it is opened,
        // as when the serving node consolidates it in between
        Fs listsAGoneSegment = (Fs) Proxy.newProxyInstance(Fs.class.getClassLoader(), new Class<?>[] {Fs.class}, (proxy, method, args) -> {
            Object r;
            try {
                r = method.invoke(NioFs.INSTANCE, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
            if (method.getName().equals("list") && ((Path) args[0]).endsWith("wal")) {
                List<String> names = new ArrayList<>(List.of("0000000000000000.wal"));
                names.addAll((List<String>) r);
                return names;
            }
            return r;
        });
        VolumeManager racing = new VolumeManager(store, tmp.resolve("data"), listsAGoneSegment, VolumeScenarios.smallConfig());
        VolumeInspection in = racing.inspect("v");
        assertEquals(3 * B, in.pendingWriteBytes());
        assertEquals(1, in.pendingWalRecords());
        VolumeCheck.Report report = racing.check("v", VolumeCheck.Progress.NONE);
        assertTrue(report.problems().isEmpty(), report.problems().toString());
        v.close();
    }

    @Test
    void resizeGrowsOnlyAndOnlyWhileTheVolumeIsClosed() throws Exception {
        VolumeManager m = manager();
        m.create("v", 1 << 20);
        try (Volume v = m.open("v")) {
            v.write((1 << 20) - B, new byte[B], false);
            assertThrows(VolumeInUseException.class, () -> m.resize("v", 2 << 20));
        }
        IllegalArgumentException shrink = assertThrows(IllegalArgumentException.class, () -> m.resize("v", 512 << 10));
        assertTrue(shrink.getMessage().contains("shrinking"), shrink.getMessage());
        assertThrows(VolumeNotFoundException.class, () -> m.resize("nope", 2 << 20));
        assertEquals(4 << 20, m.resize("v", 4 << 20).size());
        assertEquals(4 << 20, m.describe("v").size());
        try (Volume v = m.open("v")) {
            assertEquals(4 << 20, v.size());
            assertArrayEquals(new byte[3 << 20], v.read(1 << 20, 3 << 20));
            v.write((4 << 20) - B, new byte[] {7}, false);
        }
        assertFalse(m.inspect("v").open(), "resize released its lease");
    }

    @Test
    void resizeAfterACrashKeepsTheWalThatWaitsForTheNextOpen() throws Exception {
        VolumeManager m = quietManager();
        m.create("v", 1 << 20);
        Volume v = m.open("v");
        byte[] data = new byte[B];
        Arrays.fill(data, (byte) 9);
        v.write(0, data, false); // in the WAL only (no seal for an hour)
        v.abandon(); // kill -9
        assertEquals(2 << 20, quietManager().resize("v", 2 << 20).size());
        try (Volume again = quietManager().open("v")) {
            assertEquals(1, again.recovered().walRecords(), "the WAL was replayed, not discarded");
            assertArrayEquals(data, again.read(0, B));
        }
    }

    /** Writes random blocks (overwriting some, over several consolidations) and returns the model. */
    private byte[] writeRandom(VolumeManager m, SplittableRandom r, int size) throws Exception {
        byte[] model = new byte[size];
        try (Volume v = m.open("v")) {
            for (int round = 0; round < 5; round++) {
                for (int i = 0; i < 40; i++) {
                    int blocks = 1 + r.nextInt(8);
                    int at = r.nextInt(size / B - blocks) * B;
                    byte[] data = Seeds.bytes(r, blocks * B);
                    v.write(at, data, false);
                    System.arraycopy(data, 0, model, at, data.length);
                }
                v.drain();
            }
        }
        return model;
    }

    @Test
    void checkFindsAFlippedByteAndAMissingChunkNamingEach() throws Exception {
        VolumeManager m = manager();
        m.create("v", 4 << 20);
        writeRandom(m, Seeds.random("checkFinds"), 4 << 20);
        VolumeCheck.Report clean = m.check("v", VolumeCheck.Progress.NONE);
        assertTrue(clean.clean(), clean.problems().toString());
        assertTrue(clean.chunks() >= 5 && clean.mapObjects() >= 1);

        List<ObjectInfo> chunks = store.list(new VolumeKeys("v").chunkPrefix());
        String flipped = chunks.get(chunks.size() - 1).key();
        ByteBuffer obj = store.get(flipped);
        ByteBuffer copy = ByteBuffer.allocate(obj.remaining()).put(obj).flip();
        copy.put(B + 17, (byte) (copy.get(B + 17) ^ 0x40)); // in data block 1
        store.put(flipped, copy);
        String deleted = chunks.get(chunks.size() - 2).key();
        store.delete(deleted);

        VolumeCheck.Report r = m.check("v", VolumeCheck.Progress.NONE);
        assertFalse(r.clean());
        assertTrue(r.problems().stream().anyMatch(p -> p.key().equals(flipped) && p.offset() == B
                && p.message().contains("bad checksum of data block 1")), r.problems().toString());
        assertTrue(r.problems().stream().anyMatch(p -> p.key().equals(deleted) && p.message().contains("missing chunk")),
                r.problems().toString());
    }

    @Test
    void repairRebuildsADeletedMapFromTheChunkFooters() throws Exception {
        VolumeManager m = manager();
        int size = 4 << 20;
        m.create("v", size);
        byte[] model = writeRandom(m, Seeds.random("repair"), size);
        for (ObjectInfo o : store.list(new VolumeKeys("v").mapPrefix())) {
            store.delete(o.key());
        }
        VolumeCheck.Report broken = m.check("v", VolumeCheck.Progress.NONE);
        assertTrue(broken.problems().stream().anyMatch(p -> p.message().contains("no map object")), broken.problems().toString());

        try (Volume v = m.open("v")) {
            assertThrows(VolumeInUseException.class, () -> m.repair("v", VolumeCheck.Progress.NONE));
        }
        // that open found an empty map and wrote nothing; the chunks are still all there is
        VolumeCheck.Repair done = m.repair("v", VolumeCheck.Progress.NONE);
        assertEquals(0, done.damagedCopies());
        assertEquals(0, done.lostBlocks());
        assertTrue(m.check("v", VolumeCheck.Progress.NONE).clean());
        try (Volume v = m.open("v")) {
            assertArrayEquals(model, v.read(0, size));
            v.write(0, new byte[B], false); // and it takes writes above every old sequence number
            System.arraycopy(new byte[B], 0, model, 0, B);
        }
        try (Volume v = m.open("v")) {
            assertArrayEquals(model, v.read(0, size));
        }
    }

    @Test
    void repairSkipsADamagedCopyAndCountsTheBlockAsLost() throws Exception {
        VolumeManager m = manager();
        m.create("v", 1 << 20);
        try (Volume v = m.open("v")) {
            v.write(0, new byte[B], false); // block 0, zeros ... but written: old copy
            v.drain();
            byte[] newer = new byte[B];
            newer[0] = 9;
            v.write(0, newer, false);
            v.drain();
        }
        List<ObjectInfo> chunks = store.list(new VolumeKeys("v").chunkPrefix());
        String last = chunks.get(chunks.size() - 1).key();
        ByteBuffer obj = store.get(last);
        ByteBuffer copy = ByteBuffer.allocate(obj.remaining()).put(obj).flip();
        copy.put(5, (byte) 1);
        store.put(last, copy);
        VolumeCheck.Report r = m.check("v", VolumeCheck.Progress.NONE);
        assertTrue(r.problems().stream().anyMatch(p -> p.message().contains("is live")), r.problems().toString());
        VolumeCheck.Repair done = m.repair("v", VolumeCheck.Progress.NONE);
        assertEquals(1, done.damagedCopies());
        assertEquals(1, done.lostBlocks());
        try (Volume v = m.open("v")) {
            assertArrayEquals(new byte[B], v.read(0, B), "the older copy is what is left");
        }
        assertEquals(ChunkFooter.objectSize(1), copy.capacity());
    }
}
