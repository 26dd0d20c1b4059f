package io.viperblock.core.format;

import io.viperblock.core.testing.Seeds;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class WalFormatTest {

    private static final String SRC = "/data/volumes/db1/wal/0000000000000001.wal";

    /** A record as written, and where it landed. */
    record Rec(int type, long seq, long firstBlock, int count, byte[] payload, long offset) {
        long length() {
            return WalRecord.RECORD_HEADER + (payload == null ? 0 : payload.length);
        }
    }

    /** A record as the scanner reported it. */
    record Seen(int type, long seq, long firstBlock, int count, long payloadPosition, long recordLength) {}

    static MemFsFile newSegment(long firstSeq) throws IOException {
        MemFsFile f = new MemFsFile();
        f.append(new WalHeader(UUID.randomUUID(), firstSeq, 7).encode());
        return f;
    }

    static Rec append(MemFsFile f, int type, long seq, long firstBlock, int count, byte[] payload) throws IOException {
        long offset = f.size();
        ByteBuffer h = ByteBuffer.allocate(WalRecord.RECORD_HEADER);
        ByteBuffer p = payload == null ? null : ByteBuffer.wrap(payload);
        WalRecord.encodeRecordHeader(h, type, seq, firstBlock, count, p);
        assertEquals(32, h.position());
        if (p != null) {
            assertEquals(0, p.position(), "payload position must not move");
        }
        h.flip();
        if (p != null) {
            f.append(h, p);
        } else {
            f.append(h);
        }
        return new Rec(type, seq, firstBlock, count, payload, offset);
    }

    static List<Rec> appendRandom(MemFsFile f, SplittableRandom r, int n, long firstSeq) throws IOException {
        List<Rec> recs = new ArrayList<>();
        long seq = firstSeq;
        for (int i = 0; i < n; i++) {
            int type = 1 + r.nextInt(3);
            int count = type == WalRecord.WRITE ? 1 + r.nextInt(4) : 1 + r.nextInt(Integer.MAX_VALUE);
            byte[] payload = type == WalRecord.WRITE ? Seeds.bytes(r, count * Formats.BLOCK_SIZE) : null;
            recs.add(append(f, type, seq, r.nextLong(1L << 40), count, payload));
            seq += 1 + r.nextInt(3);
        }
        return recs;
    }

    static WalScan.ScanResult scan(MemFsFile f, List<Seen> out) throws IOException {
        return WalScan.scan(f, SRC, WalHeader.LENGTH,
                (type, seq, firstBlock, count, payloadPosition, recordLength) ->
                        out.add(new Seen(type, seq, firstBlock, count, payloadPosition, recordLength)));
    }

    static void assertSeenMatches(List<Rec> recs, List<Seen> seen, int n) {
        assertEquals(n, seen.size());
        for (int i = 0; i < n; i++) {
            Rec w = recs.get(i);
            Seen s = seen.get(i);
            assertEquals(new Seen(w.type(), w.seq(), w.firstBlock(), w.count(), w.offset() + 32, w.length()), s);
        }
    }

    // ------------------------------------------------------------ header

    @Test
    void headerRoundTrips() throws IOException {
        SplittableRandom r = Seeds.random("headerRoundTrips");
        for (int i = 0; i < 200; i++) {
            WalHeader h = new WalHeader(new UUID(r.nextLong(), r.nextLong()), 1 + r.nextLong(Long.MAX_VALUE - 1),
                    r.nextLong(Long.MAX_VALUE), r.nextBoolean() ? 0 : 64 + r.nextLong(1L << 40));
            ByteBuffer b = h.encode();
            assertEquals(0, b.position());
            assertEquals(64, b.limit());
            assertEquals(h, WalHeader.decode(b, SRC));
            assertEquals(64, b.position());
            assertEquals(h, WalHeader.read(new MemFsFile(b.array()), SRC));
            assertEquals(h, WalHeader.decode(b.rewind().order(java.nio.ByteOrder.LITTLE_ENDIAN), SRC));
            ByteBuffer le = ByteBuffer.allocate(64).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            h.encode(le);
            assertEquals(b.rewind().order(java.nio.ByteOrder.BIG_ENDIAN), le.flip().order(java.nio.ByteOrder.BIG_ENDIAN));
        }
    }

    @Test
    void headerIsExactlyAsDrawn() {
        UUID id = new UUID(0x0102030405060708L, 0x090a0b0c0d0e0f10L);
        ByteBuffer b = new WalHeader(id, 0x1122, 0x33).encode();
        assertEquals("VBWALSEG", new String(b.array(), 0, 8, java.nio.charset.StandardCharsets.US_ASCII));
        assertEquals(1, b.getInt(8));
        assertEquals(64, b.getInt(12));
        assertEquals(0x0102030405060708L, b.getLong(16));
        assertEquals(0x090a0b0c0d0e0f10L, b.getLong(24));
        assertEquals(0x1122, b.getLong(32));
        assertEquals(0x33, b.getLong(40));
        for (int i = 48; i < 60; i++) {
            assertEquals(0, b.get(i));
        }
        assertEquals(0x4455, new WalHeader(id, 0x1122, 0x33, 0x4455).encode().getLong(48));
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(b.array(), 0, 60);
        assertEquals((int) crc.getValue(), b.getInt(60));
    }

    @Test
    void badHeadersAreRefusedNamingSourceAndOffset() {
        byte[] good = new WalHeader(UUID.randomUUID(), 5, 1).encode().array();
        assertHeaderFails(withByte(good, 0, 'X'), 0, "bad magic");
        assertHeaderFails(withInt(good, 8, 2), 8, "unsupported version 2");
        assertHeaderFails(withInt(good, 12, 65), 12, "bad header length 65");
        assertHeaderFails(withByte(good, 33, 1), 60, "bad header checksum");
        assertHeaderFails(withByte(good, 60, good[60] ^ 1), 60, "bad header checksum");
        assertHeaderFails(java.util.Arrays.copyOf(good, 63), 0, "truncated header");
        // fields checked after the checksum: recompute it so that only the field is wrong
        assertHeaderFails(recrc(withByte(good, 57, 1)), 56, "nonzero reserved bytes");
        assertHeaderFails(recrc(withLong(good, 48, 63)), 48, "bad synced length 63");
        assertHeaderFails(recrc(withLong(good, 48, -1)), 48, "bad synced length -1");
        assertHeaderFails(recrc(withLong(good, 32, 0)), 32, "bad first seq 0");
        assertHeaderFails(recrc(withLong(good, 40, -1)), 40, "bad epoch -1");
        // every single-bit flip is caught
        for (int bit = 0; bit < 64 * 8; bit++) {
            byte[] bad = good.clone();
            bad[bit / 8] ^= (byte) (1 << (bit % 8));
            assertThrows(CorruptFormatException.class, () -> WalHeader.decode(ByteBuffer.wrap(bad), SRC));
        }
    }

    @Test
    void readOfShortFileIsTruncatedHeader() throws IOException {
        MemFsFile f = new MemFsFile(new byte[10]);
        CorruptFormatException e = assertThrows(CorruptFormatException.class, () -> WalHeader.read(f, SRC));
        assertTrue(e.getMessage().contains("truncated header"), e.getMessage());
    }

    private static byte[] recrc(byte[] h) {
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(h, 0, 60);
        return withInt(h, 60, (int) crc.getValue());
    }

    private static void assertHeaderFails(byte[] bytes, long offset, String problem) {
        CorruptFormatException e = assertThrows(CorruptFormatException.class,
                () -> WalHeader.decode(ByteBuffer.wrap(bytes), SRC));
        assertTrue(e.getMessage().startsWith("WAL segment " + SRC + ": " + problem), e.getMessage());
        assertTrue(e.getMessage().contains(" at offset " + offset), e.getMessage());
        assertEquals(offset, e.offset());
        assertEquals(SRC, e.source());
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

    // ------------------------------------------------------------ record encoding

    @Test
    void recordHeaderIsExactlyAsDrawn() {
        byte[] payload = Seeds.bytes(new SplittableRandom(1), 8192);
        ByteBuffer dst = ByteBuffer.allocate(40).position(5);
        ByteBuffer p = ByteBuffer.wrap(payload);
        WalRecord.encodeRecordHeader(dst, WalRecord.WRITE, 0x0102, 0x0304, 2, p);
        assertEquals(37, dst.position());
        assertEquals(0, p.position());
        ByteBuffer h = dst.slice(5, 32);
        assertEquals(1, h.get(4));
        assertEquals(0, h.get(5) | h.get(6) | h.get(7));
        assertEquals(0x0102, h.getLong(8));
        assertEquals(0x0304, h.getLong(16));
        assertEquals(2, h.getInt(24));
        assertEquals(8192, h.getInt(28));
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(h.duplicate().position(4));
        crc.update(payload);
        assertEquals((int) crc.getValue(), h.getInt(0));
    }

    @Test
    void recordHeaderRefusesBadArguments() {
        ByteBuffer dst = ByteBuffer.allocate(32);
        ByteBuffer one = ByteBuffer.allocate(4096);
        assertThrows(IllegalArgumentException.class, () -> WalRecord.encodeRecordHeader(dst, 4, 1, 0, 1, null));
        assertThrows(IllegalArgumentException.class, () -> WalRecord.encodeRecordHeader(dst, 0, 1, 0, 1, null));
        assertThrows(IllegalArgumentException.class, () -> WalRecord.encodeRecordHeader(dst, 1, 1, 0, 0, ByteBuffer.allocate(0)));
        assertThrows(IllegalArgumentException.class, () -> WalRecord.encodeRecordHeader(dst, 1, 1, 0, 1025, ByteBuffer.allocate(1025 * 4096)));
        assertThrows(IllegalArgumentException.class, () -> WalRecord.encodeRecordHeader(dst, 1, 1, 0, 2, one));
        assertThrows(IllegalArgumentException.class, () -> WalRecord.encodeRecordHeader(dst, 1, 1, 0, 1, null));
        assertThrows(IllegalArgumentException.class, () -> WalRecord.encodeRecordHeader(dst, 2, 1, 0, 1, one));
        assertThrows(IllegalArgumentException.class, () -> WalRecord.encodeRecordHeader(dst, 3, 1, 0, 0, null));
        assertThrows(IllegalArgumentException.class, () -> WalRecord.encodeRecordHeader(dst, 3, 0, 0, 1, null));
        assertThrows(IllegalArgumentException.class, () -> WalRecord.encodeRecordHeader(dst, 3, 1, -1, 1, null));
        assertThrows(IllegalArgumentException.class, () -> WalRecord.encodeRecordHeader(dst, 3, 1, Long.MAX_VALUE, 1, null));
        assertThrows(IllegalArgumentException.class, () -> WalRecord.encodeRecordHeader(ByteBuffer.allocate(31), 3, 1, 0, 1, null));
        assertEquals(0, dst.position());
        WalRecord.encodeRecordHeader(dst, WalRecord.ZERO, 1, Long.MAX_VALUE - 5, 5, ByteBuffer.allocate(0));
        WalRecord.encodeRecordHeader(dst.clear(), WalRecord.TRIM, 1, 0, Integer.MAX_VALUE, null);
        WalRecord.encodeRecordHeader(dst.clear(), WalRecord.WRITE, 1, 0, 1024, ByteBuffer.allocateDirect(1024 * 4096));
    }

    // ------------------------------------------------------------ scanning

    @Test
    void scanOfCleanSegmentVisitsEveryRecord() throws IOException {
        SplittableRandom r = Seeds.random("scanOfCleanSegmentVisitsEveryRecord");
        for (int round = 0; round < 20; round++) {
            MemFsFile f = newSegment(100);
            int n = r.nextInt(30);
            List<Rec> recs = appendRandom(f, r, n, 100);
            List<Seen> seen = new ArrayList<>();
            WalScan.ScanResult res = scan(f, seen);
            assertTrue(res.clean(), res.toString());
            assertNull(res.problem());
            assertNull(res.toException(SRC));
            assertEquals(-1, res.problemOffset());
            assertEquals(f.size(), res.endOfValidData());
            assertEquals(n, res.records());
            assertEquals(n == 0 ? 0 : recs.get(n - 1).seq(), res.lastSeq());
            assertSeenMatches(recs, seen, n);
            byte[] file = f.contents();
            for (int i = 0; i < n; i++) {
                Rec w = recs.get(i);
                if (w.payload() != null) {
                    byte[] got = java.util.Arrays.copyOfRange(file, (int) seen.get(i).payloadPosition(),
                            (int) (seen.get(i).payloadPosition() + w.payload().length));
                    assertArrayEquals(w.payload(), got);
                }
            }
            assertTrue(f.largestRead <= WalScan.READ_BUFFER);
        }
    }

    @Test
    void scanOfBigWriteReadsInBoundedPieces() throws IOException {
        SplittableRandom r = Seeds.random("scanOfBigWriteReadsInBoundedPieces");
        MemFsFile f = newSegment(1);
        append(f, WalRecord.WRITE, 1, 0, 1024, Seeds.bytes(r, 1024 * 4096));
        Rec second = append(f, WalRecord.WRITE, 2, 0, 1024, Seeds.bytes(r, 1024 * 4096));
        WalScan.ScanResult res = scan(f, new ArrayList<>());
        assertTrue(res.clean());
        assertEquals(2, res.records());
        assertTrue(f.largestRead <= WalScan.READ_BUFFER, "largest read " + f.largestRead);
        // a flipped bit in the last MiB of the second payload
        byte[] bad = f.contents();
        int at = (int) second.offset() + 32 + 1024 * 4096 - 1 - r.nextInt(1 << 20);
        bad[at] ^= (byte) (1 << r.nextInt(8));
        res = scan(new MemFsFile(bad), new ArrayList<>());
        assertEquals(second.offset(), res.problemOffset());
        assertEquals(1, res.records());
        assertTrue(res.problem().startsWith("bad record checksum (stored 0x"), res.problem());
    }

    @Test
    void tornTailAtEveryByteOfTheLastRecord() throws IOException {
        SplittableRandom r = Seeds.random("tornTailAtEveryByteOfTheLastRecord");
        MemFsFile f = newSegment(1);
        List<Rec> recs = appendRandom(f, r, 1 + r.nextInt(5), 1);
        Rec last = append(f, WalRecord.WRITE, recs.get(recs.size() - 1).seq() + 1, 42, 2, Seeds.bytes(r, 8192));
        recs.add(last);
        byte[] full = f.contents();
        int n = recs.size();
        for (long cut = last.offset(); cut < full.length; cut++) {
            MemFsFile torn = new MemFsFile(java.util.Arrays.copyOf(full, (int) cut));
            List<Seen> seen = new ArrayList<>();
            WalScan.ScanResult res = scan(torn, seen);
            assertSeenMatches(recs, seen, n - 1);
            assertEquals(last.offset(), res.endOfValidData(), "cut at " + cut);
            assertEquals(n - 1, res.records());
            assertEquals(recs.get(n - 2).seq(), res.lastSeq());
            if (cut == last.offset()) {
                assertTrue(res.clean(), "cut at a record boundary is clean");
            } else {
                assertNotNull(res.problem(), "cut at " + cut);
                assertEquals(last.offset(), res.problemOffset(), "cut at " + cut);
                CorruptFormatException e = res.toException(SRC);
                assertEquals("WAL segment " + SRC + ": " + res.problem() + " at offset " + last.offset(), e.getMessage());
                if (cut - last.offset() >= 32) {
                    assertTrue(res.problem().startsWith("truncated record"), res.problem());
                }
            }
        }
    }

    @Test
    void everyBitFlipIsFoundAtItsRecord() throws IOException {
        SplittableRandom r = Seeds.random("everyBitFlipIsFoundAtItsRecord");
        MemFsFile f = newSegment(1);
        List<Rec> recs = appendRandom(f, r, 12, 1);
        byte[] good = f.contents();
        for (int round = 0; round < 400; round++) {
            int k = r.nextInt(recs.size());
            Rec victim = recs.get(k);
            // bias towards the header: half the flips land in its 32 bytes
            int at = (int) victim.offset() + (r.nextBoolean() ? r.nextInt(32) : r.nextInt((int) victim.length()));
            byte[] bad = good.clone();
            bad[at] ^= (byte) (1 << r.nextInt(8));
            List<Seen> seen = new ArrayList<>();
            WalScan.ScanResult res = scan(new MemFsFile(bad), seen);
            assertEquals(victim.offset(), res.problemOffset(), "flip at " + at + ": " + res.problem());
            assertEquals(victim.offset(), res.endOfValidData());
            assertEquals(k, res.records());
            assertSeenMatches(recs, seen, k);
        }
    }

    @Test
    void absurdLengthsAreRefusedBeforeReading() throws IOException {
        MemFsFile f = newSegment(1);
        append(f, WalRecord.TRIM, 1, 0, 10, null);
        long off = f.size();
        // WRITE claiming 0x7fffffff blocks and bytes
        assertProblem(withRecordHeader(f, WalRecord.WRITE, 2, 0, 0x7fffffff, 0x7fffffff), off, "bad block count 2147483647 for WRITE");
        // WRITE whose count and length disagree
        assertProblem(withRecordHeader(f, WalRecord.WRITE, 2, 0, 1, 0x7fffffff), off, "bad payload length 2147483647");
        assertProblem(withRecordHeader(f, WalRecord.WRITE, 2, 0, 1024, -1), off, "bad payload length 4294967295");
        assertProblem(withRecordHeader(f, WalRecord.WRITE, 2, 0, -1, -4096), off, "bad block count 4294967295");
        assertProblem(withRecordHeader(f, WalRecord.ZERO, 2, 0, 5, 0x7fffffff), off, "bad payload length 2147483647");
        assertProblem(withRecordHeader(f, WalRecord.TRIM, 2, 0, 0, 0), off, "bad block count 0");
        assertProblem(withRecordHeader(f, 9, 2, 0, 1, 4096), off, "bad record type 9");
        // a plausible WRITE of 4 MiB with nothing behind it: truncated, and no read sized by the
        // claimed length (the scan reads through a fixed 1 MiB window)
        MemFsFile g = withRecordHeader(f, WalRecord.WRITE, 2, 0, 1024, 1024 * 4096);
        assertProblem(g, off, "truncated record");
        assertTrue(g.largestRead <= WalScan.READ_BUFFER, "largest read " + g.largestRead);
    }

    @Test
    void checksumValidRecordsWithBadFieldsAreRefused() throws IOException {
        MemFsFile f = newSegment(1);
        append(f, WalRecord.TRIM, 10, 0, 10, null);
        long off = f.size();
        assertProblem(withValidRecord(f, WalRecord.ZERO, 9, 0, 1, b -> { }), off, "seq 9 does not follow seq 10");
        assertProblem(withValidRecord(f, WalRecord.ZERO, 10, 0, 1, b -> { }), off, "seq 10 does not follow seq 10");
        assertProblem(withValidRecord(f, WalRecord.ZERO, 11, -5, 1, b -> { }), off, "bad block range");
        assertProblem(withValidRecord(f, WalRecord.ZERO, 11, Long.MAX_VALUE, 1, b -> { }), off, "bad block range");
        assertProblem(withValidRecord(f, WalRecord.ZERO, 11, 0, 1, b -> b.put(6, (byte) 1)), off, "nonzero reserved bytes");
        MemFsFile ok = withValidRecord(f, WalRecord.ZERO, 11, 0, 1, b -> { });
        assertTrue(scan(ok, new ArrayList<>()).clean());

        // the first record's seq below the segment's first seq
        MemFsFile g = newSegment(50);
        append(g, WalRecord.TRIM, 49, 0, 1, null);
        WalScan.ScanResult res = WalScan.scan(g, SRC, 64, 50, (a, b, c, d, e, x) -> { });
        assertEquals(64, res.problemOffset());
        assertTrue(res.problem().contains("below the segment's first seq 50"), res.problem());
        // seq 0 in a record
        MemFsFile h = newSegment(1);
        assertProblem(withValidRecord(h, WalRecord.TRIM, 0, 0, 1, b -> { }), 64, "bad seq 0");
    }

    @Test
    void seqGoingBackwardsStopsTheScan() throws IOException {
        MemFsFile f = newSegment(1);
        append(f, WalRecord.TRIM, 5, 0, 1, null);
        append(f, WalRecord.ZERO, 6, 0, 1, null);
        Rec bad = append(f, WalRecord.WRITE, 4, 0, 1, new byte[4096]);
        append(f, WalRecord.TRIM, 7, 0, 1, null);
        WalScan.ScanResult res = scan(f, new ArrayList<>());
        assertEquals(bad.offset(), res.problemOffset());
        assertEquals(2, res.records());
        assertEquals(6, res.lastSeq());
        assertEquals("seq 4 does not follow seq 6", res.problem());
    }

    @Test
    void zeroFilledTailIsAProblem() throws IOException {
        SplittableRandom r = Seeds.random("zeroFilledTailIsAProblem");
        for (int zeros : new int[] {1, 7, 31, 32, 33, 4096, 100_000}) {
            MemFsFile f = newSegment(1);
            List<Rec> recs = appendRandom(f, r, 3, 1);
            long end = f.size();
            f.append(ByteBuffer.allocate(zeros));
            WalScan.ScanResult res = scan(f, new ArrayList<>());
            assertEquals(end, res.problemOffset());
            assertEquals(end, res.endOfValidData());
            assertEquals(3, res.records());
            assertEquals(recs.get(2).seq(), res.lastSeq());
            assertEquals("zero-filled tail", res.problem());
        }
        // a header of garbage shorter than 32 bytes
        MemFsFile f = newSegment(1);
        f.append(ByteBuffer.wrap(new byte[] {0, 0, 1}));
        assertEquals("truncated record header", scan(f, new ArrayList<>()).problem());
    }

    @Test
    void emptySegmentAndStartOffsets() throws IOException {
        MemFsFile f = newSegment(1);
        WalScan.ScanResult res = scan(f, new ArrayList<>());
        assertEquals(new WalScan.ScanResult(64, 0, 0, null, -1), res);
        Rec a = append(f, WalRecord.TRIM, 1, 0, 1, null);
        Rec b = append(f, WalRecord.TRIM, 2, 0, 1, null);
        List<Seen> seen = new ArrayList<>();
        res = WalScan.scan(f, SRC, b.offset(), (t, s, fb, c, p, l) -> seen.add(new Seen(t, s, fb, c, p, l)));
        assertTrue(res.clean());
        assertEquals(1, seen.size());
        assertEquals(2, seen.get(0).seq());
        assertEquals(a.offset() + 32, b.offset());
        res = WalScan.scan(f, SRC, f.size() + 10, (t, s, fb, c, p, l) -> { });
        assertFalse(res.clean());
        assertThrows(IllegalArgumentException.class, () -> WalScan.scan(f, SRC, -1, (t, s, fb, c, p, l) -> { }));
    }

    private interface Tweak {
        void apply(ByteBuffer header);
    }

    /** A copy of f plus a record header with the given raw fields and a correct CRC (no payload). */
    private static MemFsFile withValidRecord(MemFsFile f, int type, long seq, long firstBlock, int count, Tweak tweak)
            throws IOException {
        MemFsFile g = new MemFsFile(f.contents());
        ByteBuffer h = ByteBuffer.allocate(32);
        h.put(4, (byte) type).putLong(8, seq).putLong(16, firstBlock).putInt(24, count).putInt(28, 0);
        tweak.apply(h);
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(h.array(), 4, 28);
        h.putInt(0, (int) crc.getValue());
        g.append(h);
        return g;
    }

    /** A copy of f plus a raw record header (zero CRC) and 100 bytes of payload. */
    private static MemFsFile withRecordHeader(MemFsFile f, int type, long seq, long firstBlock, int count, int length)
            throws IOException {
        MemFsFile g = new MemFsFile(f.contents());
        ByteBuffer h = ByteBuffer.allocate(32);
        h.put(4, (byte) type).putLong(8, seq).putLong(16, firstBlock).putInt(24, count).putInt(28, length);
        g.append(h, ByteBuffer.allocate(100));
        g.largestRead = 0;
        return g;
    }

    private static void assertProblem(MemFsFile f, long offset, String problemStart) throws IOException {
        WalScan.ScanResult res = scan(f, new ArrayList<>());
        assertNotNull(res.problem());
        assertTrue(res.problem().startsWith(problemStart), res.problem());
        assertEquals(offset, res.problemOffset());
        assertEquals(offset, res.endOfValidData());
    }
}
