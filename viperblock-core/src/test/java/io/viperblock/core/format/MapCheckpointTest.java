package io.viperblock.core.format;

import io.viperblock.core.testing.Seeds;
import static io.viperblock.core.format.MapDeltaTest.recrc;
import static io.viperblock.core.format.MapDeltaTest.withByte;
import static io.viperblock.core.format.MapDeltaTest.withInt;
import static io.viperblock.core.format.MapDeltaTest.withLong;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

class MapCheckpointTest {

    private static final String KEY = "volumes/db1/map/0000000000000020.ckpt";

    /** A checkpoint's contents, in columns. */
    static final class Contents {
        MapCheckpoint header;
        long[] chunkSeqs;
        int[] chunkBlocks;
        long[] starts;
        long[] lengths;
        long[] extentChunks;
        int[] offsets;
        int nChunks;
        int nExtents;
        boolean begun;

        Contents(int chunks, int extents) {
            chunkSeqs = new long[chunks];
            chunkBlocks = new int[chunks];
            starts = new long[extents];
            lengths = new long[extents];
            extentChunks = new long[extents];
            offsets = new int[extents];
        }

        MapCheckpoint.Visitor collector() {
            return new MapCheckpoint.Visitor() {
                @Override
                public void begin(MapCheckpoint h) {
                    assertEquals(0, nChunks + nExtents);
                    begun = true;
                    header = h;
                }

                @Override
                public void chunk(long chunkSeq, int blockCount) {
                    assertTrue(begun);
                    assertEquals(0, nExtents, "chunks come before extents");
                    chunkSeqs[nChunks] = chunkSeq;
                    chunkBlocks[nChunks++] = blockCount;
                }

                @Override
                public void extent(long startBlock, long length, long chunkSeq, int chunkOffset) {
                    starts[nExtents] = startBlock;
                    lengths[nExtents] = length;
                    extentChunks[nExtents] = chunkSeq;
                    offsets[nExtents++] = chunkOffset;
                }
            };
        }

        void assertSameAs(Contents o) {
            assertEquals(o.header, header);
            assertEquals(o.chunkSeqs.length, nChunks);
            assertEquals(o.starts.length, nExtents);
            assertArrayEquals(o.chunkSeqs, chunkSeqs);
            assertArrayEquals(o.chunkBlocks, chunkBlocks);
            assertArrayEquals(o.starts, starts);
            assertArrayEquals(o.lengths, lengths);
            assertArrayEquals(o.extentChunks, extentChunks);
            assertArrayEquals(o.offsets, offsets);
        }
    }

    static Contents random(SplittableRandom r, int chunks, int extents) {
        Contents c = new Contents(chunks, extents);
        long seq = 0;
        for (int i = 0; i < chunks; i++) {
            seq += 1 + r.nextInt(1000);
            c.chunkSeqs[i] = seq;
            c.chunkBlocks[i] = 1 + r.nextInt(1024);
        }
        long block = r.nextInt(100);
        for (int i = 0; i < extents; i++) {
            int k = r.nextInt(chunks);
            int off = r.nextInt(c.chunkBlocks[k]);
            c.starts[i] = block;
            c.lengths[i] = 1 + r.nextInt(c.chunkBlocks[k] - off);
            c.extentChunks[i] = c.chunkSeqs[k];
            c.offsets[i] = off;
            block += c.lengths[i] + (r.nextBoolean() ? 0 : r.nextInt(5000));
        }
        long ckpt = 1 + r.nextLong(Long.MAX_VALUE - 1);
        c.header = new MapCheckpoint(ckpt, r.nextLong(ckpt), r.nextLong(Long.MAX_VALUE), r.nextLong(Long.MAX_VALUE),
                r.nextLong(Long.MAX_VALUE), chunks, extents);
        return c;
    }

    static byte[] write(Contents c, boolean channel) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        MapCheckpoint.Writer w = channel ? new MapCheckpoint.Writer(Channels.newChannel(out), c.header)
                : new MapCheckpoint.Writer(out, c.header);
        for (int i = 0; i < c.chunkSeqs.length; i++) {
            w.chunk(c.chunkSeqs[i], c.chunkBlocks[i]);
        }
        for (int i = 0; i < c.starts.length; i++) {
            w.extent(c.starts[i], c.lengths[i], c.extentChunks[i], c.offsets[i]);
        }
        long size = w.finish();
        assertEquals(size, out.size());
        assertEquals(size, w.bytesWritten());
        assertEquals(c.header.objectSize(), size);
        return out.toByteArray();
    }

    static Contents decode(byte[] obj, Contents like) throws CorruptFormatException {
        Contents got = new Contents(like.chunkSeqs.length, like.starts.length);
        ByteBuffer b = ByteBuffer.wrap(obj).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        MapCheckpoint h = MapCheckpoint.decode(b, KEY, got.collector());
        assertEquals(0, b.position());
        assertEquals(h, got.header);
        return got;
    }

    @Test
    void roundTrips() throws IOException {
        SplittableRandom r = Seeds.random("MapCheckpoint.roundTrips");
        for (int round = 0; round < 50; round++) {
            int chunks = 1 + r.nextInt(300);
            Contents c = random(r, chunks, r.nextInt(3000));
            byte[] a = write(c, false);
            byte[] b = write(c, true);
            assertArrayEquals(a, b);
            assertEquals(80 + 12L * chunks + 32L * c.starts.length + 4, a.length);
            decode(a, c).assertSameAs(c);
            MapCheckpoint.decode(ByteBuffer.wrap(a), c.header.ckptSeq(), KEY, new Contents(chunks, c.starts.length).collector());
        }
    }

    @Test
    void largeCheckpointStreams() throws IOException {
        SplittableRandom r = Seeds.random("MapCheckpoint.largeCheckpointStreams");
        Contents c = random(r, 20_000, 500_000);
        long t0 = System.nanoTime();
        byte[] a = write(c, false);
        long t1 = System.nanoTime();
        Contents got = decode(a, c);
        long t2 = System.nanoTime();
        got.assertSameAs(c);
        System.out.printf("checkpoint of %d extents, %d bytes: write %d ms, decode %d ms%n", c.starts.length, a.length,
                (t1 - t0) / 1_000_000, (t2 - t1) / 1_000_000);
    }

    @Test
    void emptyCheckpoint() throws IOException {
        Contents c = new Contents(0, 0);
        c.header = new MapCheckpoint(1, 0, 0, 0, 0, 0, 0);
        byte[] a = write(c, false);
        assertEquals(84, a.length);
        decode(a, c).assertSameAs(c);
    }

    @Test
    void layoutIsExactlyAsDrawn() throws IOException {
        Contents c = new Contents(2, 1);
        c.header = new MapCheckpoint(0x20, 0x1f, 0x30, 0x40, 5, 2, 1);
        c.chunkSeqs = new long[] {3, 9};
        c.chunkBlocks = new int[] {4, 1024};
        c.starts = new long[] {100};
        c.lengths = new long[] {6};
        c.extentChunks = new long[] {9};
        c.offsets = new int[] {1000};
        ByteBuffer b = ByteBuffer.wrap(write(c, false));
        assertEquals("VBCKPT01", new String(b.array(), 0, 8, java.nio.charset.StandardCharsets.US_ASCII));
        assertEquals(1, b.getInt(8));
        assertEquals(80, b.getInt(12));
        assertEquals(0x20, b.getLong(16));
        assertEquals(0x1f, b.getLong(24));
        assertEquals(0x30, b.getLong(32));
        assertEquals(0x40, b.getLong(40));
        assertEquals(5, b.getLong(48));
        assertEquals(2, b.getInt(56));
        assertEquals(1, b.getLong(60));
        for (int i = 68; i < 80; i++) {
            assertEquals(0, b.get(i));
        }
        assertEquals(3, b.getLong(80));
        assertEquals(4, b.getInt(88));
        assertEquals(9, b.getLong(92));
        assertEquals(1024, b.getInt(100));
        assertEquals(0x01000000, b.getInt(104));
        assertEquals(1000, b.getInt(108));
        assertEquals(100, b.getLong(112));
        assertEquals(6, b.getLong(120));
        assertEquals(9, b.getLong(128));
        assertEquals(140, b.limit());
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, 136);
        assertEquals((int) crc.getValue(), b.getInt(136));
    }

    @Test
    void truncatedFlippedAndWrongObjectsAreRefusedWithoutVisiting() throws IOException {
        SplittableRandom r = Seeds.random("MapCheckpoint.truncatedFlippedAndWrongObjectsAreRefusedWithoutVisiting");
        Contents c = random(r, 3, 5);
        byte[] good = write(c, false);
        for (int len = 0; len < good.length; len++) {
            assertRefusedUnvisited(Arrays.copyOf(good, len));
        }
        assertRefusedUnvisited(Arrays.copyOf(good, good.length + 1));
        for (int bit = 0; bit < good.length * 8; bit++) {
            byte[] bad = good.clone();
            bad[bit / 8] ^= (byte) (1 << (bit % 8));
            assertRefusedUnvisited(bad);
        }
        assertFails(withByte(good, 7, '2'), 0, "bad magic");
        assertFails(withInt(good, 8, 2), 8, "unsupported version 2");
        assertFails(withInt(good, 12, 64), 12, "bad header length 64");
        CorruptFormatException e = assertThrows(CorruptFormatException.class,
                () -> MapCheckpoint.decode(ByteBuffer.wrap(withByte(good, 200, good[200] ^ 1)), KEY, noVisits()));
        assertTrue(e.getMessage().matches("map checkpoint " + KEY + ": bad checksum at offset " + (good.length - 4)
                + " \\(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\\)"), e.getMessage());
        e = assertThrows(CorruptFormatException.class,
                () -> MapCheckpoint.decode(ByteBuffer.wrap(good), c.header.ckptSeq() + 1, KEY, noVisits()));
        assertTrue(e.getMessage().contains("does not match its name"), e.getMessage());
    }

    @Test
    void absurdCountsAreRefusedBeforeAllocating() throws IOException {
        Contents c = new Contents(0, 0);
        c.header = new MapCheckpoint(1, 0, 0, 0, 0, 0, 0);
        byte[] good = write(c, false);
        long[][] counts = {{-1, 0}, {0, Long.MAX_VALUE}, {0, -1}, {0, Long.MIN_VALUE}, {-1, Long.MAX_VALUE / 32},
            {1, 0}, {0, 1}, {0, 1L << 58}};
        for (long[] cnt : counts) {
            byte[] bad = recrc(withLong(withInt(good, 56, (int) cnt[0]), 60, cnt[1]));
            CorruptFormatException e = assertThrows(CorruptFormatException.class,
                    () -> MapCheckpoint.decode(ByteBuffer.wrap(bad), KEY, noVisits()));
            assertEquals(56, e.offset(), e.getMessage());
            assertTrue(e.getMessage().contains("object size 84 does not match"), e.getMessage());
        }
    }

    @Test
    void badContentsBehindAValidChecksumAreRefusedWithoutVisiting() throws IOException {
        Contents c = new Contents(2, 2);
        c.header = new MapCheckpoint(0x20, 0x1f, 0x30, 0x40, 5, 2, 2);
        c.chunkSeqs = new long[] {3, 9};
        c.chunkBlocks = new int[] {4, 1024};
        c.starts = new long[] {100, 106};
        c.lengths = new long[] {6, 3};
        c.extentChunks = new long[] {9, 3};
        c.offsets = new int[] {1000, 1};
        byte[] good = write(c, false);
        decode(good, c).assertSameAs(c);
        int c0 = 80;
        int c1 = 92;
        int e0 = 104;
        int e1 = 136;
        assertFails(recrc(withLong(good, c1, 3)), c1, "chunk seq 3 does not follow 3 in chunk ref 1");
        assertFails(recrc(withLong(good, c0, 10)), c1, "chunk seq 9 does not follow 10 in chunk ref 1");
        assertFails(recrc(withLong(good, c0, 0)), c0, "bad chunk seq 0 in chunk ref 0");
        assertFails(recrc(withInt(good, c0 + 8, 0)), c0, "bad block count 0 of chunk 3");
        assertFails(recrc(withByte(good, e1, 2)), e1, "entry kind 2 (only DATA is allowed) in entry 1");
        assertFails(recrc(withByte(good, e1 + 3, 2)), e1, "nonzero reserved bytes in entry 1");
        assertFails(recrc(withLong(good, e1 + 8, 105)), e1, "extent at block 105 overlaps or precedes the previous one, which ends at 106");
        assertFails(recrc(withLong(good, e1 + 8, 0)), e1, "extent at block 0 overlaps");
        assertFails(recrc(withLong(good, e1 + 24, 4)), e1, "chunk 4 is not in the chunk table in entry 1");
        assertFails(recrc(withInt(good, e1 + 4, 2)), e1, "extent reaches past the end of chunk 3 of 4 blocks");
        assertFails(recrc(withLong(good, e0 + 16, 0)), e0, "bad block range: start 100, length 0 in entry 0");
        assertFails(recrc(withByte(good, 70, 1)), 68, "nonzero reserved bytes");
        assertFails(recrc(withLong(good, 16, 0)), 16, "bad checkpoint seq 0");
        assertFails(recrc(withLong(good, 24, -1)), 16, "bad last delta seq -1");
        assertFails(recrc(withLong(good, 40, -1)), 16, "bad max seq used -1");
        assertFails(recrc(withLong(good, 48, -1)), 16, "bad epoch -1");
        // adjacent extents are fine, so is a gap
        decode(recrc(withLong(good, e1 + 8, 107)), c);
    }

    @Test
    void writerRefusesWhatDecodeRefuses() throws IOException {
        MapCheckpoint h = new MapCheckpoint(1, 0, 0, 0, 0, 2, 2);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        MapCheckpoint.Writer w = new MapCheckpoint.Writer(out, h);
        assertThrows(IllegalArgumentException.class, () -> w.chunk(0, 1));
        assertThrows(IllegalArgumentException.class, () -> w.chunk(1, ChunkFooter.MAX_SLOTS + 1));
        assertThrows(IllegalStateException.class, () -> w.extent(0, 1, 1, 0));
        w.chunk(5, 10);
        assertThrows(IllegalArgumentException.class, () -> w.chunk(5, 10));
        assertThrows(IllegalArgumentException.class, () -> w.chunk(4, 10));
        w.chunk(6, 2);
        assertThrows(IllegalStateException.class, () -> w.chunk(7, 10));
        assertThrows(IllegalArgumentException.class, () -> w.extent(0, 1, 7, 0));
        assertThrows(IllegalArgumentException.class, () -> w.extent(0, 3, 6, 0));
        assertThrows(IllegalArgumentException.class, () -> w.extent(0, 0, 6, 0));
        assertThrows(IllegalStateException.class, w::finish);
        w.extent(10, 2, 6, 0);
        assertThrows(IllegalArgumentException.class, () -> w.extent(11, 1, 5, 0));
        assertThrows(IllegalArgumentException.class, () -> w.extent(9, 1, 5, 0));
        w.extent(12, 10, 5, 0);
        assertThrows(IllegalStateException.class, () -> w.extent(30, 1, 5, 0));
        w.finish();
        assertThrows(IllegalStateException.class, w::finish);
        assertThrows(IllegalArgumentException.class, () -> new MapCheckpoint(0, 0, 0, 0, 0, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new MapCheckpoint(1, 0, 0, 0, 0, 1L << 32, 0));
        assertThrows(IllegalArgumentException.class, () -> new MapCheckpoint(1, 0, 0, 0, 0, 0, -1));
        assertThrows(IllegalArgumentException.class, () -> new MapCheckpoint(1, -1, 0, 0, 0, 0, 0));
        List<Long> seen = new ArrayList<>();
        MapCheckpoint.decode(ByteBuffer.wrap(out.toByteArray()), KEY, new MapCheckpoint.Visitor() {
            @Override
            public void chunk(long chunkSeq, int blockCount) {
                seen.add(chunkSeq);
            }

            @Override
            public void extent(long startBlock, long length, long chunkSeq, int chunkOffset) {
                seen.add(startBlock);
            }
        });
        assertEquals(List.of(5L, 6L, 10L, 12L), seen);
    }

    private static MapCheckpoint.Visitor noVisits() {
        return new MapCheckpoint.Visitor() {
            @Override
            public void begin(MapCheckpoint header) {
                throw new AssertionError("visited a bad checkpoint");
            }

            @Override
            public void chunk(long chunkSeq, int blockCount) {
                throw new AssertionError("visited a bad checkpoint");
            }

            @Override
            public void extent(long startBlock, long length, long chunkSeq, int chunkOffset) {
                throw new AssertionError("visited a bad checkpoint");
            }
        };
    }

    private static void assertRefusedUnvisited(byte[] obj) {
        assertThrows(CorruptFormatException.class, () -> MapCheckpoint.decode(ByteBuffer.wrap(obj), KEY, noVisits()));
    }

    private static void assertFails(byte[] obj, long offset, String problem) {
        CorruptFormatException e = assertThrows(CorruptFormatException.class,
                () -> MapCheckpoint.decode(ByteBuffer.wrap(obj), KEY, noVisits()));
        assertTrue(e.getMessage().startsWith("map checkpoint " + KEY + ": " + problem), e.getMessage());
        assertEquals(offset, e.offset(), e.getMessage());
    }
}
