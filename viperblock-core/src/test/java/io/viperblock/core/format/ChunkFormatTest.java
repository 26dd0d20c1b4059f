package io.viperblock.core.format;

import io.viperblock.core.testing.Seeds;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

class ChunkFormatTest {

    private static final String KEY = "volumes/db1/chunks/0000000000000a1f";

    record Built(ByteBuffer object, long[] blocks, long[] seqs, byte[][] data) {
        byte[] bytes() {
            byte[] b = new byte[object.remaining()];
            object.duplicate().get(b);
            return b;
        }
    }

    static Built build(SplittableRandom r, long chunkSeq, long epoch, int n, boolean direct) {
        ChunkBuilder b = new ChunkBuilder(chunkSeq, epoch, direct);
        long[] blocks = new long[n];
        long[] seqs = new long[n];
        byte[][] data = new byte[n][];
        for (int i = 0; i < n; i++) {
            blocks[i] = r.nextLong(Long.MAX_VALUE);
            seqs[i] = 1 + r.nextLong(Long.MAX_VALUE - 1);
            data[i] = Seeds.bytes(r, 4096);
            // the caller's buffer may sit anywhere in a bigger one; its position must not move
            ByteBuffer src = ByteBuffer.allocate(4096 + 100).position(37);
            src.put(data[i]).position(37).limit(37 + 4096);
            b.add(blocks[i], seqs[i], src);
            assertEquals(37, src.position());
            assertEquals(i + 1, b.count());
        }
        assertEquals(n == 1024, b.isFull());
        ByteBuffer obj = b.finish();
        assertEquals(0, obj.position());
        assertEquals(ChunkFooter.objectSize(n), obj.limit());
        assertEquals(obj, b.finish(), "finish is repeatable");
        return new Built(obj, blocks, seqs, data);
    }

    @Test
    void fullAndPartialChunksRoundTrip() throws CorruptFormatException {
        SplittableRandom r = Seeds.random("fullAndPartialChunksRoundTrip");
        int[] sizes = {1, 2, 1 + r.nextInt(1024), 1 + r.nextInt(1024), 1023, 1024};
        for (int n : sizes) {
            long chunkSeq = 1 + r.nextLong(Long.MAX_VALUE - 1);
            long epoch = r.nextLong(Long.MAX_VALUE);
            Built built = build(r, chunkSeq, epoch, n, r.nextBoolean());
            ByteBuffer obj = built.object();
            assertEquals((long) n * 4096 + n * 24L + 48, obj.remaining());
            assertEquals(n, ChunkFooter.blockCountForObjectSize(obj.remaining()));

            ChunkFooter f = ChunkFooter.parseObject(obj, chunkSeq, KEY);
            assertEquals(0, obj.position());
            checkFooter(f, built, chunkSeq, epoch, n);
            assertEquals(chunkSeq, ChunkFooter.parseObject(obj, KEY).chunkSeq());
            assertEquals(chunkSeq, ChunkFooter.parseObject(obj.duplicate().order(java.nio.ByteOrder.LITTLE_ENDIAN), KEY).chunkSeq());
            f.verifyBlocks(obj, KEY);
            for (int i = 0; i < n; i++) {
                byte[] got = new byte[4096];
                obj.get(i * 4096, got);
                assertArrayEquals(built.data()[i], got);
                f.verifyBlock(i, ByteBuffer.wrap(got), KEY);
            }

            // the two-step read: trailer first, then exactly the footer
            int size = obj.remaining();
            assertEquals(n, ChunkFooter.trailerBlockCount(obj.slice(size - 48, 48), KEY, size - 48));
            long footerOffset = ChunkFooter.footerOffset(n);
            ChunkFooter g = ChunkFooter.parse(obj.slice((int) footerOffset, ChunkFooter.footerLength(n)), chunkSeq,
                    KEY, footerOffset);
            checkFooter(g, built, chunkSeq, epoch, n);
        }
    }

    private static void checkFooter(ChunkFooter f, Built built, long chunkSeq, long epoch, int n) {
        assertEquals(n, f.count());
        assertEquals(chunkSeq, f.chunkSeq());
        assertEquals(epoch, f.epoch());
        for (int i = 0; i < n; i++) {
            assertEquals(built.blocks()[i], f.block(i));
            assertEquals(built.seqs()[i], f.seq(i));
            CRC32C crc = new CRC32C();
            crc.update(built.data()[i]);
            assertEquals((int) crc.getValue(), f.crc(i));
        }
    }

    @Test
    void layoutIsExactlyAsDrawn() {
        ChunkBuilder b = new ChunkBuilder(0xa1f, 9);
        byte[] d = new byte[4096];
        d[0] = 1;
        b.add(77, 5, ByteBuffer.wrap(d));
        b.add(78, 6, ByteBuffer.wrap(new byte[4096]));
        ByteBuffer o = b.finish();
        assertEquals(2 * 4096 + 2 * 24 + 48, o.remaining());
        int f = 8192;
        assertEquals(77, o.getLong(f));
        assertEquals(5, o.getLong(f + 8));
        CRC32C crc = new CRC32C();
        crc.update(d);
        assertEquals((int) crc.getValue(), o.getInt(f + 16));
        assertEquals(0, o.getInt(f + 20));
        assertEquals(78, o.getLong(f + 24));
        int t = f + 48;
        byte[] magic = new byte[8];
        o.get(t, magic);
        assertEquals("VBCHUNK1", new String(magic, java.nio.charset.StandardCharsets.US_ASCII));
        assertEquals(1, o.getInt(t + 8));
        assertEquals(2, o.getInt(t + 12));
        assertEquals(0xa1f, o.getLong(t + 16));
        assertEquals(9, o.getLong(t + 24));
        for (int i = t + 32; i < t + 44; i++) {
            assertEquals(0, o.get(i));
        }
        crc.reset();
        crc.update(o.duplicate().position(f).limit(t + 44));
        assertEquals((int) crc.getValue(), o.getInt(t + 44));
    }

    @Test
    void flippedDataByteIsCaughtByVerifyBlockNamingTheOffset() throws CorruptFormatException {
        SplittableRandom r = Seeds.random("flippedDataByteIsCaughtByVerifyBlockNamingTheOffset");
        int n = 1 + r.nextInt(64);
        Built built = build(r, 0xa1f, 1, n, false);
        byte[] bad = built.bytes();
        int victim = r.nextInt(n);
        bad[victim * 4096 + r.nextInt(4096)] ^= (byte) (1 << r.nextInt(8));
        ByteBuffer obj = ByteBuffer.wrap(bad);
        ChunkFooter f = ChunkFooter.parseObject(obj, KEY); // the footer does not cover the data
        for (int i = 0; i < n; i++) {
            ByteBuffer block = obj.slice(i * 4096, 4096);
            if (i != victim) {
                f.verifyBlock(i, block, KEY);
                continue;
            }
            CorruptFormatException e = assertThrows(CorruptFormatException.class, () -> f.verifyBlock(victim, block, KEY));
            assertEquals((long) victim * 4096, e.offset());
            assertEquals(KEY, e.source());
            assertTrue(e.getMessage().matches("chunk " + KEY + ": bad checksum of data block " + victim
                    + " \\(block number " + built.blocks()[victim] + "\\) at offset " + victim * 4096L
                    + " \\(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\\)"), e.getMessage());
        }
        CorruptFormatException e = assertThrows(CorruptFormatException.class, () -> f.verifyBlocks(obj, KEY));
        assertEquals((long) victim * 4096, e.offset());
        assertThrows(CorruptFormatException.class, () -> f.verifyBlock(0, ByteBuffer.allocate(100), KEY));
        assertThrows(IndexOutOfBoundsException.class, () -> f.verifyBlock(n, ByteBuffer.allocate(4096), KEY));
    }

    @Test
    void everyFooterBitFlipIsRefused() {
        SplittableRandom r = Seeds.random("everyFooterBitFlipIsRefused");
        int n = 3;
        Built built = build(r, 5, 2, n, false);
        byte[] good = built.bytes();
        int footer = n * 4096;
        for (int bit = footer * 8; bit < good.length * 8; bit++) {
            byte[] bad = good.clone();
            bad[bit / 8] ^= (byte) (1 << (bit % 8));
            assertThrows(CorruptFormatException.class, () -> ChunkFooter.parseObject(ByteBuffer.wrap(bad), KEY),
                    "bit " + bit);
        }
    }

    @Test
    void footerChecksumMessageLooksAsSpecified() {
        SplittableRandom r = Seeds.random("footerChecksumMessageLooksAsSpecified");
        Built built = build(r, 0xa1f, 3, 1024, false);
        byte[] bad = built.bytes();
        bad[1024 * 4096 + 5 * 24 + 9] ^= 0x10; // a seq in footer entry 5
        CorruptFormatException e = assertThrows(CorruptFormatException.class,
                () -> ChunkFooter.parseObject(ByteBuffer.wrap(bad), 0xa1f, KEY));
        assertTrue(e.getMessage().matches("chunk volumes/db1/chunks/0000000000000a1f: bad footer checksum at offset "
                + "4218880 \\(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\\)"), e.getMessage());
        assertEquals(4218880, e.offset());
    }

    @Test
    void truncatedOrExtendedObjectsAreRefused() {
        SplittableRandom r = Seeds.random("truncatedOrExtendedObjectsAreRefused");
        Built built = build(r, 5, 2, 2, false);
        byte[] good = built.bytes();
        for (int len = 0; len < good.length; len++) {
            byte[] cut = Arrays.copyOf(good, len);
            assertThrows(CorruptFormatException.class, () -> ChunkFooter.parseObject(ByteBuffer.wrap(cut), KEY),
                    "length " + len);
            assertEquals(len == ChunkFooter.objectSize(1) ? 1 : -1, ChunkFooter.blockCountForObjectSize(len));
        }
        // a chunk with its head cut off still has a valid trailer: refused by the size check
        byte[] headless = Arrays.copyOfRange(good, 4096, good.length);
        CorruptFormatException e = assertThrows(CorruptFormatException.class,
                () -> ChunkFooter.parseObject(ByteBuffer.wrap(headless), KEY));
        assertTrue(e.getMessage().contains("object size " + headless.length + " does not match block count 2"),
                e.getMessage());
        byte[] longer = Arrays.copyOf(good, good.length + 1);
        assertThrows(CorruptFormatException.class, () -> ChunkFooter.parseObject(ByteBuffer.wrap(longer), KEY));
        // parse() with a footer of the wrong length or at the wrong offset
        ByteBuffer footer = ByteBuffer.wrap(good, 8192, good.length - 8192).slice();
        assertThrows(CorruptFormatException.class, () -> ChunkFooter.parse(footer.slice(1, footer.remaining() - 1), 5, KEY, 8193));
        assertThrows(CorruptFormatException.class, () -> ChunkFooter.parse(footer, 5, KEY, 4096));
        assertThrows(CorruptFormatException.class, () -> ChunkFooter.parse(footer.slice(0, 10), 5, KEY, 8192));
    }

    @Test
    void wrongMagicVersionCountOrSeqIsRefused() throws CorruptFormatException {
        SplittableRandom r = Seeds.random("wrongMagicVersionCountOrSeqIsRefused");
        Built built = build(r, 5, 2, 2, false);
        byte[] good = built.bytes();
        int t = good.length - 48;
        assertFails(with(good, t, 'X'), t, "bad trailer magic");
        assertFails(withInt(good, t + 8, 3), t + 8, "unsupported version 3");
        assertFails(withInt(good, t + 8, 2), t, "bad footer checksum"); // version 2 is known, and the checksum covers it
        assertFails(withInt(good, t + 12, 0), t + 12, "bad block count 0");
        assertFails(withInt(good, t + 12, 1025), t + 12, "bad block count 1025");
        assertFails(withInt(good, t + 12, -1), t + 12, "bad block count 4294967295");
        assertFails(withInt(good, t + 12, 1), t, "object size");
        ChunkFooter.parseObject(ByteBuffer.wrap(good), 5, KEY);
        CorruptFormatException e = assertThrows(CorruptFormatException.class,
                () -> ChunkFooter.parseObject(ByteBuffer.wrap(good), 6, KEY));
        assertTrue(e.getMessage().contains("bad chunk seq 5 at offset " + (t + 16) + " (expected 6)"), e.getMessage());
        // fields behind a valid checksum
        assertFails(recrc(withLong(good, t + 24, -1)), t + 24, "bad epoch -1");
        assertFails(recrc(with(good, t + 40, 1)), t + 32, "nonzero reserved trailer bytes");
        assertFails(recrc(withLong(good, 8192 + 24, -3)), 8192 + 24, "bad block number -3 in footer entry 1");
        assertFails(recrc(withLong(good, 8192 + 8, 0)), 8192 + 8, "bad seq 0 in footer entry 0");
        assertFails(recrc(with(good, 8192 + 24 + 21, 1)), 8192 + 24 + 20, "nonzero reserved bytes in footer entry 1");
    }

    @Test
    void builderRefusesMisuse() {
        assertThrows(IllegalArgumentException.class, () -> new ChunkBuilder(0, 1));
        assertThrows(IllegalArgumentException.class, () -> new ChunkBuilder(1, -1));
        ChunkBuilder b = new ChunkBuilder(1, 1);
        assertThrows(IllegalStateException.class, b::finish);
        assertThrows(IllegalArgumentException.class, () -> b.add(0, 1, ByteBuffer.allocate(4095)));
        assertThrows(IllegalArgumentException.class, () -> b.add(-1, 1, ByteBuffer.allocate(4096)));
        assertThrows(IllegalArgumentException.class, () -> b.add(0, 0, ByteBuffer.allocate(4096)));
        for (int i = 0; i < 1024; i++) {
            assertFalse(b.isFull());
            b.add(i, 1, ByteBuffer.allocate(4096));
        }
        assertTrue(b.isFull());
        assertThrows(IllegalStateException.class, () -> b.add(0, 1, ByteBuffer.allocate(4096)));
        ChunkBuilder c = new ChunkBuilder(1, 1);
        c.add(0, 1, ByteBuffer.allocate(4096));
        c.finish();
        assertThrows(IllegalStateException.class, () -> c.add(0, 1, ByteBuffer.allocate(4096)));
    }

    @Test
    void runsReadStraightInBuildTheSameObjectAsBlockByBlock() throws java.io.IOException {
        SplittableRandom r = Seeds.random("runsReadStraightInBuildTheSameObjectAsBlockByBlock");
        for (int round = 0; round < 20; round++) {
            long chunkSeq = 1 + r.nextLong(1000);
            ChunkBuilder byBlock = new ChunkBuilder(chunkSeq, 7, false);
            ChunkBuilder byRun = new ChunkBuilder(chunkSeq, 7, true);
            while (byRun.free() > 0 && r.nextInt(40) != 0) {
                int n = 1 + r.nextInt(Math.min(byRun.free(), r.nextBoolean() ? 8 : 1024));
                long first = r.nextLong(1L << 40);
                long seq = 1 + r.nextLong(1L << 40);
                byte[] data = Seeds.bytes(r, n * 4096);
                for (int i = 0; i < n; i++) {
                    byBlock.add(first + i, seq, ByteBuffer.wrap(data, i * 4096, 4096));
                }
                // a source that fails, or leaves bytes unread, adds nothing
                int before = byRun.count();
                assertThrows(java.io.IOException.class, () -> byRun.addRun(first, seq, n, dst -> {
                    dst.put(new byte[dst.remaining() / 2]);
                    throw new java.io.IOException("disk gone");
                }));
                java.io.IOException shortRead = assertThrows(java.io.IOException.class,
                        () -> byRun.addRun(first, seq, n, dst -> dst.put(new byte[dst.remaining() - 1])));
                assertTrue(shortRead.getMessage().contains("left 1 of " + n * 4096 + " bytes unread"), shortRead.getMessage());
                assertEquals(before, byRun.count());
                if (r.nextBoolean()) { // the CRCs computed when the data came in, as the consolidator passes them
                    int[] crcs = new int[n + 2];
                    Crc32c.ofBlocks(ByteBuffer.wrap(data), crcs);
                    System.arraycopy(crcs, 0, crcs, 2, n);
                    byRun.addRun(first, seq, n, dst -> dst.put(data), crcs, 2);
                } else {
                    byRun.addRun(first, seq, n, dst -> dst.put(data));
                }
                assertEquals(byBlock.count(), byRun.count());
            }
            if (byRun.count() == 0) {
                continue;
            }
            assertEquals(byBlock.finish(), byRun.finish(), "round " + round + ", " + byRun.count() + " blocks");
        }
        ChunkBuilder b = new ChunkBuilder(1, 1);
        b.addRun(0, 1, 1000, dst -> dst.position(dst.limit()));
        assertEquals(24, b.free());
        assertThrows(IllegalStateException.class, () -> b.addRun(0, 1, 25, dst -> dst.position(dst.limit())));
        assertThrows(IllegalStateException.class, () -> b.addRun(0, 1, 0, dst -> { }));
        assertThrows(IllegalArgumentException.class, () -> b.addRun(-1, 1, 1, dst -> dst.position(dst.limit())));
        assertThrows(IllegalArgumentException.class, () -> b.addRun(0, 0, 1, dst -> dst.position(dst.limit())));
        b.addRun(5, 1, 24, dst -> dst.position(dst.limit()));
        assertTrue(b.isFull());
        b.finish();
        assertThrows(IllegalStateException.class, () -> b.addRun(0, 1, 1, dst -> dst.position(dst.limit())));
    }

    /** A WAL segment of random records as a version-2 chunk: the segment, zeros to a page boundary, the footer. */
    record Slotted(byte[] object, int slots, long[] blocks, int[] starts, int[] recordOf) {}

    static Slotted slotted(SplittableRandom r, long chunkSeq) {
        int length = 64;
        java.util.List<int[]> records = new java.util.ArrayList<>(); // {payload offset, blocks}
        for (int n = 1 + r.nextInt(12); n > 0; n--) {
            int count = 1 + r.nextInt(r.nextBoolean() ? 3 : 40);
            records.add(new int[] {length + 32, count});
            length += 32 + count * 4096;
        }
        int slots = (length + 4095) / 4096;
        byte[] object = new byte[(int) ChunkFooter.objectSize(slots)];
        byte[] segment = Seeds.bytes(r, length);
        System.arraycopy(segment, 0, object, 0, length);
        long[] blocks = new long[slots];
        Arrays.fill(blocks, -1);
        long[] seqs = new long[slots];
        int[] crcs = new int[slots];
        int[] shifts = new int[slots];
        int[] starts = new int[slots];
        int[] recordOf = new int[slots];
        for (int k = 0; k < records.size(); k++) {
            int[] rec = records.get(k);
            for (int j = 0; j < rec[1]; j++) {
                int at = rec[0] + j * 4096;
                if (r.nextInt(5) == 0) {
                    continue; // written again later in the segment: dead, so no entry
                }
                int slot = at / 4096;
                blocks[slot] = r.nextLong(1L << 40);
                seqs[slot] = 1 + r.nextLong(1L << 40);
                CRC32C crc = new CRC32C();
                crc.update(object, at, 4096);
                crcs[slot] = (int) crc.getValue();
                shifts[slot] = at % 4096;
                starts[slot] = at;
                recordOf[slot] = k;
            }
        }
        ByteBuffer footer = ChunkFooter.encodeSlots(chunkSeq, 7, slots, blocks, seqs, crcs, shifts);
        assertEquals(ChunkFooter.footerLength(slots), footer.remaining());
        footer.get(object, slots * 4096, footer.remaining());
        return new Slotted(object, slots, blocks, starts, recordOf);
    }

    @Test
    void chunksMadeFromWalSegmentsRoundTrip() throws CorruptFormatException {
        SplittableRandom r = Seeds.random("chunksMadeFromWalSegmentsRoundTrip");
        for (int round = 0; round < 40; round++) {
            Slotted c = slotted(r, 5);
            ByteBuffer obj = ByteBuffer.wrap(c.object());
            ChunkFooter f = ChunkFooter.parseObject(obj, 5, KEY);
            assertEquals(c.slots(), f.count());
            assertEquals(Arrays.stream(c.blocks()).filter(b -> b >= 0).count(), f.blocksHeld());
            f.verifyBlocks(obj, KEY);
            for (int i = 0; i < c.slots(); i++) {
                assertEquals(c.blocks()[i], f.block(i));
                if (c.blocks()[i] < 0) {
                    int slot = i;
                    assertThrows(CorruptFormatException.class, () -> f.verifyBlock(slot, ByteBuffer.allocate(4096), KEY));
                    continue;
                }
                assertEquals(c.starts()[i], f.dataOffset(i));
                f.verifyBlock(i, obj.slice(c.starts()[i], 4096), KEY);
                // back to back: the next slots hold the next blocks of the same record
                int expect = 1;
                while (i + expect < c.slots() && c.blocks()[i + expect] >= 0 && c.starts()[i + expect] == c.starts()[i] + expect * 4096) {
                    expect++;
                }
                assertEquals(expect, f.contiguous(i, c.slots() - i), "slot " + i);
                assertEquals(1, f.contiguous(i, 1));
            }
            // a flipped data byte of a live block is caught, at that block's offset
            int live = (int) Arrays.stream(c.blocks()).filter(b -> b >= 0).count();
            if (live > 0) {
                int[] slots = java.util.stream.IntStream.range(0, c.slots()).filter(i -> c.blocks()[i] >= 0).toArray();
                int i = slots[r.nextInt(slots.length)];
                byte[] flipped = c.object().clone();
                flipped[c.starts()[i] + r.nextInt(4096)] ^= (byte) (1 << r.nextInt(8));
                CorruptFormatException e = assertThrows(CorruptFormatException.class,
                        () -> ChunkFooter.parseObject(ByteBuffer.wrap(flipped), KEY).verifyBlocks(ByteBuffer.wrap(flipped), KEY));
                assertEquals(c.starts()[i], e.offset(), e.getMessage());
            }
            // every bit of the footer is covered
            byte[] flipped = c.object().clone();
            int at = c.slots() * 4096 + r.nextInt(ChunkFooter.footerLength(c.slots()));
            flipped[at] ^= (byte) (1 << r.nextInt(8));
            assertThrows(CorruptFormatException.class, () -> ChunkFooter.parseObject(ByteBuffer.wrap(flipped), KEY));
        }
    }

    @Test
    void badEntriesOfChunksMadeFromWalSegmentsAreRefused() throws CorruptFormatException {
        SplittableRandom r = Seeds.random("badEntriesOfChunksMadeFromWalSegmentsAreRefused");
        Slotted c;
        do {
            c = slotted(r, 5);
        } while (c.blocks()[c.slots() - 1] >= 0 || Arrays.stream(c.blocks()).noneMatch(b -> b >= 0));
        int footer = c.slots() * 4096;
        int live = 0;
        while (c.blocks()[live] < 0) {
            live++;
        }
        int e = footer + live * 24;
        assertFails(recrc(withInt(c.object(), e + 20, 4096)), e + 20, "bad shift 4096 in footer entry " + live);
        assertFails(recrc(withInt(c.object(), e + 20, -1)), e + 20, "bad shift -1 in footer entry " + live);
        assertFails(recrc(withLong(c.object(), e, -1)), e, "bad block number -1 in footer entry " + live);
        int empty = c.slots() - 1; // the last slot: no block starts there (its data would reach the footer)
        int x = footer + empty * 24;
        assertFails(recrc(withInt(c.object(), x + 16, 1)), x, "nonzero bytes in empty footer entry " + empty);
        byte[] lastLive = withLong(c.object(), x + 8, 1); // a block starting in the last slot, shift 0, ends at the footer: fine
        ChunkFooter.parseObject(ByteBuffer.wrap(recrc(lastLive)), KEY);
        assertFails(recrc(withInt(lastLive, x + 20, 1)), x + 20, "bad shift 1 in footer entry " + empty);
        assertFails(withInt(c.object(), c.object().length - 48 + 12, ChunkFooter.MAX_SLOTS + 1), c.object().length - 48 + 12,
                "bad block count " + (ChunkFooter.MAX_SLOTS + 1));
    }

    private static void assertFails(byte[] obj, long offset, String problem) {
        CorruptFormatException e = assertThrows(CorruptFormatException.class,
                () -> ChunkFooter.parseObject(ByteBuffer.wrap(obj), KEY));
        assertTrue(e.getMessage().startsWith("chunk " + KEY + ": " + problem), e.getMessage());
        assertEquals(offset, e.offset(), e.getMessage());
    }

    private static byte[] recrc(byte[] obj) {
        int n = ByteBuffer.wrap(obj).getInt(obj.length - 48 + 12);
        CRC32C crc = new CRC32C();
        crc.update(obj, n * 4096, n * 24 + 44);
        return withInt(obj, obj.length - 4, (int) crc.getValue());
    }

    private static byte[] with(byte[] b, int at, int v) {
        byte[] c = b.clone();
        c[at] = (byte) v;
        return c;
    }

    private static byte[] withInt(byte[] b, int at, int v) {
        byte[] c = b.clone();
        ByteBuffer.wrap(c).putInt(at, v);
        return c;
    }

    private static byte[] withLong(byte[] b, int at, long v) {
        byte[] c = b.clone();
        ByteBuffer.wrap(c).putLong(at, v);
        return c;
    }
}
