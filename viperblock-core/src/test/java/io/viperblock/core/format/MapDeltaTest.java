package io.viperblock.core.format;

import io.viperblock.core.testing.Seeds;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.core.format.MapDelta.ChunkRef;
import io.viperblock.core.format.MapDelta.Entry;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

class MapDeltaTest {

    private static final String KEY = "volumes/db1/map/0000000000000010.delta";

    static MapDelta random(SplittableRandom r, int maxChunks, int maxEntries) {
        Set<Long> seqs = new LinkedHashSet<>();
        int c = r.nextInt(maxChunks + 1);
        while (seqs.size() < c) {
            seqs.add(1 + r.nextLong(1L << 50));
        }
        List<ChunkRef> chunks = new ArrayList<>();
        for (long s : seqs) {
            chunks.add(new ChunkRef(s, 1 + r.nextInt(1024)));
        }
        List<Entry> entries = new ArrayList<>();
        int e = r.nextInt(maxEntries + 1);
        for (int i = 0; i < e; i++) {
            long start = r.nextLong(1L << 40);
            if (r.nextInt(4) == 0) {
                entries.add(Entry.hole(start, 1 + r.nextLong(1L << 30)));
            } else if (!chunks.isEmpty() && r.nextBoolean()) {
                ChunkRef ch = chunks.get(r.nextInt(chunks.size()));
                int off = r.nextInt(ch.blockCount());
                entries.add(Entry.data(start, 1 + r.nextInt(ch.blockCount() - off), ch.chunkSeq(), off));
            } else { // a chunk uploaded earlier
                int off = r.nextInt(1024);
                entries.add(Entry.data(start, 1 + r.nextInt(1024 - off), 1 + r.nextLong(1L << 50), off));
            }
        }
        long seq = 1 + r.nextLong(Long.MAX_VALUE - 1);
        return new MapDelta(seq, r.nextLong(seq), r.nextLong(Long.MAX_VALUE), r.nextLong(Long.MAX_VALUE), chunks, entries);
    }

    @Test
    void roundTrips() throws CorruptFormatException {
        SplittableRandom r = Seeds.random("MapDelta.roundTrips");
        for (int i = 0; i < 300; i++) {
            MapDelta d = random(r, 20, 200);
            ByteBuffer b = d.encode();
            assertEquals(0, b.position());
            assertEquals(MapDelta.objectSize(d.chunks().size(), d.entries().size()), b.limit());
            assertEquals(64 + 12 * d.chunks().size() + 32 * d.entries().size() + 4, b.limit());
            assertEquals(d, MapDelta.decode(b, KEY));
            assertEquals(0, b.position());
            assertEquals(d, MapDelta.decode(b, d.deltaSeq(), KEY));
            // the caller's byte order and position do not matter
            ByteBuffer shifted = ByteBuffer.allocate(b.limit() + 3).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            shifted.position(3).mark();
            shifted.put(b.duplicate()).reset();
            assertEquals(d, MapDelta.decode(shifted, KEY));
        }
        MapDelta empty = new MapDelta(1, 0, 0, 0, List.of(), List.of());
        assertEquals(empty, MapDelta.decode(empty.encode(), KEY));
    }

    @Test
    void layoutIsExactlyAsDrawn() {
        MapDelta d = new MapDelta(0x10, 0xf, 0x99, 3, List.of(new ChunkRef(0x55, 7)),
                List.of(Entry.data(100, 4, 0x55, 2), Entry.hole(200, 9)));
        ByteBuffer b = d.encode();
        assertEquals(64 + 12 + 64 + 4, b.limit());
        assertEquals(Formats.DELTA_MAGIC, b.getLong(0));
        assertEquals("VBDELTA1", new String(b.array(), 0, 8, java.nio.charset.StandardCharsets.US_ASCII));
        assertEquals(1, b.getInt(8));
        assertEquals(64, b.getInt(12));
        assertEquals(0x10, b.getLong(16));
        assertEquals(0xf, b.getLong(24));
        assertEquals(0x99, b.getLong(32));
        assertEquals(3, b.getLong(40));
        assertEquals(1, b.getInt(48));
        assertEquals(2, b.getInt(52));
        assertEquals(0, b.getLong(56));
        assertEquals(0x55, b.getLong(64));
        assertEquals(7, b.getInt(72));
        int e = 76;
        assertEquals(0x01000000, b.getInt(e));
        assertEquals(2, b.getInt(e + 4));
        assertEquals(100, b.getLong(e + 8));
        assertEquals(4, b.getLong(e + 16));
        assertEquals(0x55, b.getLong(e + 24));
        assertEquals(0x02000000, b.getInt(e + 32));
        assertEquals(0, b.getInt(e + 36));
        assertEquals(200, b.getLong(e + 40));
        assertEquals(9, b.getLong(e + 48));
        assertEquals(0, b.getLong(e + 56));
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, b.limit() - 4);
        assertEquals((int) crc.getValue(), b.getInt(b.limit() - 4));
    }

    @Test
    void truncatedExtendedAndFlippedObjectsAreRefused() {
        SplittableRandom r = Seeds.random("MapDelta.truncatedExtendedAndFlippedObjectsAreRefused");
        MapDelta d = new MapDelta(9, 8, 7, 1, List.of(new ChunkRef(3, 10)),
                List.of(Entry.data(5, 3, 3, 1), Entry.hole(20, 2), Entry.data(40, 1, 77, 1023)));
        byte[] good = bytes(d.encode());
        for (int len = 0; len < good.length; len++) {
            byte[] cut = Arrays.copyOf(good, len);
            assertThrows(CorruptFormatException.class, () -> MapDelta.decode(ByteBuffer.wrap(cut), KEY), "length " + len);
        }
        byte[] longer = Arrays.copyOf(good, good.length + 1 + r.nextInt(100));
        assertThrows(CorruptFormatException.class, () -> MapDelta.decode(ByteBuffer.wrap(longer), KEY));
        for (int bit = 0; bit < good.length * 8; bit++) {
            byte[] bad = good.clone();
            bad[bit / 8] ^= (byte) (1 << (bit % 8));
            assertThrows(CorruptFormatException.class, () -> MapDelta.decode(ByteBuffer.wrap(bad), KEY), "bit " + bit);
        }
        CorruptFormatException e = assertThrows(CorruptFormatException.class,
                () -> MapDelta.decode(ByteBuffer.wrap(withByte(good, 100, good[100] ^ 4)), KEY));
        assertTrue(e.getMessage().matches("map delta " + KEY + ": bad checksum at offset " + (good.length - 4)
                + " \\(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\\)"), e.getMessage());
    }

    @Test
    void headerProblemsNameTheirOffsets() {
        byte[] good = bytes(new MapDelta(9, 8, 7, 1, List.of(), List.of(Entry.hole(1, 1))).encode());
        assertFails(withByte(good, 3, 'x'), 0, "bad magic");
        assertFails(withInt(good, 8, 7), 8, "unsupported version 7");
        assertFails(withInt(good, 12, 80), 12, "bad header length 80");
        assertFails(withInt(good, 52, 2), 48, "object size");
        assertFails(recrc(withLong(good, 16, 0)), 16, "bad delta seq 0");
        assertFails(recrc(withLong(good, 24, 9)), 16, "bad previous delta seq 9 for delta seq 9");
        assertFails(recrc(withLong(good, 24, -1)), 16, "bad previous delta seq -1");
        assertFails(recrc(withLong(good, 32, -1)), 16, "bad wal covered seq -1");
        assertFails(recrc(withLong(good, 40, -1)), 16, "bad epoch -1");
        assertFails(recrc(withByte(good, 60, 1)), 56, "nonzero reserved bytes");
        CorruptFormatException e = assertThrows(CorruptFormatException.class,
                () -> MapDelta.decode(ByteBuffer.wrap(good), 10, KEY));
        assertTrue(e.getMessage().contains("delta seq 9 does not match its name at offset 16 (expected 10)"), e.getMessage());
    }

    @Test
    void absurdCountsAreRefusedBeforeAllocating() {
        byte[] good = bytes(new MapDelta(9, 8, 7, 1, List.of(), List.of()).encode());
        for (int[] counts : new int[][] {{-1, -1}, {-1, 0}, {0, -1}, {0x7fffffff, 0x7fffffff}, {1, 0}, {0, 1}}) {
            byte[] bad = recrc(withInt(withInt(good, 48, counts[0]), 52, counts[1]));
            CorruptFormatException e = assertThrows(CorruptFormatException.class,
                    () -> MapDelta.decode(ByteBuffer.wrap(bad), KEY));
            assertEquals(48, e.offset());
            assertTrue(e.getMessage().contains("object size 68 does not match " + Integer.toUnsignedString(counts[0])
                    + " chunks and " + Integer.toUnsignedString(counts[1]) + " entries"), e.getMessage());
        }
    }

    @Test
    void badRecordsBehindAValidChecksumAreRefused() {
        MapDelta d = new MapDelta(9, 8, 7, 1, List.of(new ChunkRef(3, 10), new ChunkRef(4, 1)),
                List.of(Entry.data(5, 3, 3, 1), Entry.hole(20, 2)));
        byte[] good = bytes(d.encode());
        int c0 = 64;
        int c1 = 76;
        int e0 = 88;
        int e1 = 120;
        assertFails(recrc(withLong(good, c1, 3)), c1, "chunk 3 listed twice in chunk ref 1");
        assertFails(recrc(withLong(good, c0, 0)), c0, "bad chunk seq 0 in chunk ref 0");
        assertFails(recrc(withInt(good, c1 + 8, 0)), c1, "bad block count 0 of chunk 4 in chunk ref 1");
        assertFails(recrc(withInt(good, c1 + 8, ChunkFooter.MAX_SLOTS + 1)), c1, "bad block count " + (ChunkFooter.MAX_SLOTS + 1));
        assertFails(recrc(withByte(good, e0, 3)), e0, "bad entry kind 3 in entry 0");
        assertFails(recrc(withByte(good, e0 + 2, 1)), e0, "nonzero reserved bytes in entry 0");
        assertFails(recrc(withLong(good, e0 + 16, 0)), e0, "bad block range: start 5, length 0");
        assertFails(recrc(withLong(good, e0 + 8, -1)), e0, "bad block range: start -1");
        assertFails(recrc(withLong(good, e0 + 8, Long.MAX_VALUE - 1)), e0, "bad block range");
        assertFails(recrc(withInt(good, e0 + 4, 8)), e0, "DATA reaching past the end of chunk 3 of 10 blocks");
        assertFails(recrc(withInt(good, e0 + 4, ChunkFooter.MAX_SLOTS - 2)), e0, "DATA reaching past the largest chunk");
        assertFails(recrc(withInt(good, e0 + 4, -1)), e0, "DATA reaching past the largest chunk");
        assertFails(recrc(withLong(good, e0 + 24, 0)), e0, "DATA with bad chunk seq 0");
        assertFails(recrc(withLong(good, e1 + 24, 3)), e1, "HOLE with chunk seq 3");
        assertFails(recrc(withInt(good, e1 + 4, 1)), e1, "HOLE with chunk seq 0, chunk offset 1 in entry 1");
    }

    @Test
    void constructorRefusesWhatDecodeRefuses() {
        assertThrows(IllegalArgumentException.class, () -> new ChunkRef(0, 1));
        assertThrows(IllegalArgumentException.class, () -> new ChunkRef(1, 0));
        assertThrows(IllegalArgumentException.class, () -> new ChunkRef(1, ChunkFooter.MAX_SLOTS + 1));
        assertThrows(IllegalArgumentException.class, () -> Entry.data(0, 0, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> Entry.data(0, 1, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> Entry.data(0, 2, 1, ChunkFooter.MAX_SLOTS - 1));
        assertThrows(IllegalArgumentException.class, () -> Entry.data(-1, 1, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> Entry.hole(Long.MAX_VALUE, 1));
        assertThrows(IllegalArgumentException.class, () -> new Entry(2, 0, 1, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> new Entry(0, 0, 1, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> new MapDelta(0, 0, 0, 0, List.of(), List.of()));
        assertThrows(IllegalArgumentException.class, () -> new MapDelta(5, 5, 0, 0, List.of(), List.of()));
        assertThrows(IllegalArgumentException.class, () -> new MapDelta(5, 4, -1, 0, List.of(), List.of()));
        assertThrows(IllegalArgumentException.class, () -> new MapDelta(5, 4, 0, -1, List.of(), List.of()));
        assertThrows(IllegalArgumentException.class,
                () -> new MapDelta(5, 4, 0, 0, List.of(new ChunkRef(1, 1), new ChunkRef(1, 2)), List.of()));
        assertThrows(IllegalArgumentException.class,
                () -> new MapDelta(5, 4, 0, 0, List.of(new ChunkRef(1, 4)), List.of(Entry.data(0, 2, 1, 3))));
        new MapDelta(5, 4, 0, 0, List.of(new ChunkRef(1, 4)), List.of(Entry.data(0, 2, 1, 2), Entry.data(0, 2, 2, 3)));
    }

    private static void assertFails(byte[] obj, long offset, String problem) {
        CorruptFormatException e = assertThrows(CorruptFormatException.class,
                () -> MapDelta.decode(ByteBuffer.wrap(obj), KEY));
        assertTrue(e.getMessage().startsWith("map delta " + KEY + ": " + problem), e.getMessage());
        assertEquals(offset, e.offset(), e.getMessage());
    }

    static byte[] bytes(ByteBuffer b) {
        byte[] a = new byte[b.remaining()];
        b.duplicate().get(a);
        return a;
    }

    /** Recomputes the 4-byte CRC32C trailer. */
    static byte[] recrc(byte[] obj) {
        CRC32C crc = new CRC32C();
        crc.update(obj, 0, obj.length - 4);
        return withInt(obj, obj.length - 4, (int) crc.getValue());
    }

    static byte[] withByte(byte[] b, int at, int v) {
        byte[] c = b.clone();
        c[at] = (byte) v;
        return c;
    }

    static byte[] withInt(byte[] b, int at, int v) {
        byte[] c = b.clone();
        ByteBuffer.wrap(c).putInt(at, v);
        return c;
    }

    static byte[] withLong(byte[] b, int at, long v) {
        byte[] c = b.clone();
        ByteBuffer.wrap(c).putLong(at, v);
        return c;
    }
}
