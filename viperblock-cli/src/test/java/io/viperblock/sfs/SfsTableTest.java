package io.viperblock.sfs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.viperblock.core.format.CorruptFormatException;
import io.viperblock.core.store.MemoryStore;
import io.viperblock.core.volume.Volume;
import io.viperblock.core.volume.VolumeManager;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The on-volume table and the upload's ordering, in-process on a real volume over the memory store. */
class SfsTableTest {
    @TempDir
    Path tmp;

    private Volume volume(long size) throws Exception {
        VolumeManager m = new VolumeManager(new MemoryStore(), tmp.resolve("data"));
        m.create("v", size);
        return m.open("v");
    }

    private static SfsEntry randomEntry(SplittableRandom r, int i, long offset, long length) {
        String path = "d" + r.nextInt(5) + "/f-" + i + (r.nextBoolean() ? ".\u00e9t\u00e9" : "");
        return new SfsEntry(path, length == 0 ? 0 : offset, length, SfsTest.sha256(SfsTest.bytes(r, 8)));
    }

    /** A random valid table for a volume of {@code size}: files laid out one after another in the data area. */
    private static SfsTable randomTable(SplittableRandom r, long size, long generation) {
        SfsTable empty = SfsTable.empty(size);
        long at = empty.dataStart();
        List<SfsEntry> entries = new ArrayList<>();
        for (int i = 0, n = r.nextInt(40); i < n; i++) {
            long len = r.nextInt(4) == 0 ? 0 : 1 + r.nextInt(20_000);
            SfsEntry e = randomEntry(r, i, at, len);
            if (e.end() > size) {
                break;
            }
            entries.add(e);
            if (len > 0) {
                at = e.end() + SfsTable.BLOCK * r.nextInt(3);
            }
        }
        return new SfsTable(generation, empty.slotBytes(), entries);
    }

    @Test
    void encodeDecodeRoundTrips() throws Exception {
        SplittableRandom r = SfsTest.random("encodeDecodeRoundTrips");
        for (int round = 0; round < 200; round++) {
            long size = SfsTable.BLOCK * (64L + r.nextInt(20_000));
            SfsTable t = randomTable(r, size, 1 + r.nextInt(1000));
            assertEquals(t, SfsTable.decode(t.encode(), size, "test"));
        }
        assertEquals(null, SfsTable.decode(new byte[SfsTable.slotBytes(1 << 20)], 1 << 20, "zeros"), "never written");
    }

    @Test
    void everySingleBitFlipIsRefused() throws Exception {
        SplittableRandom r = SfsTest.random("everySingleBitFlipIsRefused");
        long size = 256 << 10; // a one-block slot
        SfsTable t = randomTable(r, size, 7);
        byte[] slot = t.encode();
        for (int bit = 0; bit < slot.length * 8; bit++) {
            byte[] bad = slot.clone();
            bad[bit / 8] ^= (byte) (1 << (bit % 8));
            try {
                SfsTable.decode(bad, size, "slot");
                fail("bit " + bit + " flipped was accepted");
            } catch (CorruptFormatException expected) {
                assertTrue(expected.getMessage().startsWith("sfs table slot"), expected.getMessage());
            }
        }
    }

    @Test
    void aTornTableWriteLeavesThePreviousGenerationInForce() throws Exception {
        SplittableRandom r = SfsTest.random("aTornTableWriteLeavesThePreviousGenerationInForce");
        try (Volume v = volume(1 << 20)) {
            assertEquals(0, SfsTable.load(v).generation(), "a fresh volume has an empty table");
            SfsTable g1 = randomTable(r, v.size(), 1);
            g1.store(v);
            SfsTable g2 = randomTable(r, v.size(), 2);
            g2.store(v);
            assertEquals(g2, SfsTable.load(v));
            // generation 3 goes to slot 1, over generation 1; cut it short after a random number of bytes
            byte[] g3 = randomTable(r, v.size(), 3).encode();
            int cut = 1 + r.nextInt(SfsTable.HEADER + 60);
            byte[] torn = SfsTable.decode(v.read(g1.slotBytes(), g1.slotBytes()), v.size(), "slot 1").encode();
            System.arraycopy(g3, 0, torn, 0, cut);
            v.write(g1.slotBytes(), torn, false);
            assertEquals(g2, SfsTable.load(v), "cut after " + cut + " bytes");
            // both slots damaged: a clear error, not an empty table
            v.write(0, new byte[] {1, 2, 3}, false);
            v.write(g1.slotBytes() + 30, new byte[] {4, 5, 6}, false);
            SfsException e = assertThrows(SfsException.class, () -> SfsTable.load(v));
            assertTrue(e.getMessage().contains("holds no valid sfs table"), e.getMessage());
        }
    }

    @Test
    void allocationsNeverOverlapLiveFilesOrEachOther() {
        SplittableRandom r = SfsTest.random("allocationsNeverOverlapLiveFilesOrEachOther");
        for (int round = 0; round < 500; round++) {
            long size = SfsTable.BLOCK * (64L + r.nextInt(2000));
            SfsTable t = randomTable(r, size, 1);
            Allocator a = new Allocator(t, size);
            List<long[]> used = new ArrayList<>();
            for (SfsEntry e : t.entries()) {
                if (e.length() > 0) {
                    used.add(new long[] {e.offset(), e.end()});
                }
            }
            long free = a.freeBytes();
            long taken = 0;
            for (int i = 0; i < 30; i++) {
                long want = SfsTable.BLOCK * (1L + r.nextInt(16));
                long at = a.allocate(want);
                if (at < 0) {
                    continue;
                }
                assertTrue(at >= t.dataStart() && at + want <= size && at % SfsTable.BLOCK == 0, "in the data area: " + at);
                for (long[] u : used) {
                    assertTrue(at + want <= u[0] || at >= u[1], "overlap at " + at);
                }
                used.add(new long[] {at, at + want});
                taken += want;
            }
            assertEquals(free - taken, a.freeBytes());
            used.sort(Comparator.comparingLong(u -> u[0]));
            long inUse = used.stream().mapToLong(u -> u[1] - u[0]).sum();
            assertEquals(size - t.dataStart() - inUse, a.freeBytes(), "free space is all the data area not in use");
        }
    }

    @Test
    void aFailureMidwayLeavesTheTableAndFilesIntact() throws Exception {
        SplittableRandom r = SfsTest.random("aFailureMidwayLeavesTheTableAndFilesIntact");
        Path first = Files.createDirectories(tmp.resolve("first"));
        byte[] keep = SfsTest.bytes(r, 50_000);
        byte[] old = SfsTest.bytes(r, 9_000);
        Files.write(first.resolve("keep"), keep);
        Files.write(first.resolve("same-name"), old);
        Path second = Files.createDirectories(tmp.resolve("second"));
        Files.write(second.resolve("a-new"), SfsTest.bytes(r, 30_000));
        Files.write(second.resolve("same-name"), SfsTest.bytes(r, 20_000));
        try (Volume v = volume(1 << 20)) {
            SfsTable before = Upload.run(v, Upload.scan(first)).table();
            // the second upload writes "a-new", then finds "same-name" longer than planned (it grew): it fails midway
            List<Upload.Source> plan = new ArrayList<>(Upload.scan(second));
            Upload.Source grown = plan.get(1);
            plan.set(1, new Upload.Source(grown.file(), grown.path(), grown.length() - 1));
            SfsException e = assertThrows(SfsException.class, () -> Upload.run(v, plan));
            assertTrue(e.getMessage().contains("changed while it was being stored"), e.getMessage());
            assertEquals(before, SfsTable.load(v));
            assertArrayEquals(keep, read(v, before.find("keep")));
            assertArrayEquals(old, read(v, before.find("same-name")));
            // the same upload done right replaces "same-name" elsewhere; the old copy's blocks are free again only now
            SfsTable after = Upload.run(v, Upload.scan(second)).table();
            assertEquals(3, after.entries().size());
            assertTrue(after.find("same-name").offset() >= before.find("same-name").end()
                    || after.find("same-name").end() <= before.find("same-name").offset(), "copy-on-write");
            assertArrayEquals(Files.readAllBytes(second.resolve("same-name")), read(v, after.find("same-name")));
            assertArrayEquals(keep, read(v, after.find("keep")));
        }
    }

    private static byte[] read(Volume v, SfsEntry e) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertEquals(e.sha256(), SfsFiles.copyOut(v, e, out));
        return out.toByteArray();
    }
}
