package io.viperblock.nbd.protocol;

import static io.viperblock.nbd.protocol.Frames.hex;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.WritableByteChannel;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class TransmissionTest {

    static final int[] COMMANDS = {
        Nbd.CMD_READ, Nbd.CMD_WRITE, Nbd.CMD_DISC, Nbd.CMD_FLUSH, Nbd.CMD_TRIM, Nbd.CMD_CACHE,
        Nbd.CMD_WRITE_ZEROES, Nbd.CMD_BLOCK_STATUS, Nbd.CMD_RESIZE, 9, 0xFFFF
    };

    static Request randomRequest(SplittableRandom r) {
        int type = COMMANDS[r.nextInt(COMMANDS.length)];
        long length = switch (r.nextInt(3)) {
            case 0 -> r.nextInt(1 << 20);
            case 1 -> 0xFFFF_FFFFL - r.nextInt(3);
            default -> r.nextLong() >>> 32;
        };
        return new Request(r.nextInt(0x10000), type, r.nextLong(), r.nextLong(), length);
    }

    @Test
    void requestBytesAreTheDocumentedOnes() throws Exception {
        Request w = new Request(Nbd.CMD_FLAG_FUA, Nbd.CMD_WRITE, 0x1122334455667788L, 4096, 512);
        byte[] h = hex("25609513 0001 0001 1122334455667788 0000000000001000 00000200");
        assertArrayEquals(h, Frames.bytes(w.encodeHeader()));
        assertEquals(w, Request.decodeHeader(ByteBuffer.wrap(h)));
        assertEquals(512, w.payloadLength());
        assertTrue(w.hasFlag(Nbd.CMD_FLAG_FUA));
        assertFalse(w.hasFlag(Nbd.CMD_FLAG_DF));
        assertTrue(w.toString().contains("WRITE"), w.toString());
    }

    @Test
    void requestHeadersRoundTripAtEverySplit() throws Exception {
        SplittableRandom r = Seeds.random("requestHeadersRoundTripAtEverySplit");
        for (int i = 0; i < 500; i++) {
            Request req = randomRequest(r);
            byte[] frame = Frames.bytes(req.encodeHeader());
            assertEquals(Request.HEADER_LENGTH, frame.length);
            Frames.assertIncremental(frame, req, Request::decodeHeader);
        }
    }

    @Test
    void theHeaderComesOutBeforeTheWritePayloadIsThere() throws Exception {
        SplittableRandom r = Seeds.random("theHeaderComesOutBeforeTheWritePayloadIsThere");
        byte[] payload = Seeds.bytes(r, 4096);
        Request w = new Request(0, Nbd.CMD_WRITE, 7, 8192, payload.length);
        Request next = new Request(0, Nbd.CMD_FLUSH, 8, 0, 0);
        ByteBuffer stream = ByteBuffer.allocate(2 * 28 + payload.length);
        w.encodeHeader(stream);
        stream.put(payload);
        next.encodeHeader(stream);
        stream.flip();
        // only the header and 100 payload bytes have arrived
        stream.limit(28 + 100);
        Request got = Request.decodeHeader(stream);
        assertEquals(w, got);
        assertEquals(28, stream.position(), "positioned at the first payload byte");
        assertEquals(4096, got.payloadLength());
        // the server reads the payload itself, then the next header
        stream.limit(stream.capacity());
        byte[] read = new byte[(int) got.payloadLength()];
        stream.get(read);
        assertArrayEquals(payload, read);
        assertEquals(next, Request.decodeHeader(stream));
        assertEquals(0, stream.remaining());
        // only WRITE carries a payload
        for (int type : COMMANDS) {
            assertEquals(type == Nbd.CMD_WRITE ? 99 : 0, new Request(0, type, 0, 0, 99).payloadLength(),
                    Nbd.commandName(type));
        }
    }

    @Test
    void wrongRequestMagicIsRejectedAfterFourBytes() throws Exception {
        Request.decodeHeader(new Request(0, 0, 0, 0, 0).encodeHeader()); // warm up
        byte[] good = Frames.bytes(new Request(0, Nbd.CMD_READ, 1, 0, 512).encodeHeader());
        for (int i = 0; i < 4; i++) {
            for (int bit = 0; bit < 8; bit++) {
                byte[] bad = good.clone();
                bad[i] ^= (byte) (1 << bit);
                ByteBuffer b = ByteBuffer.wrap(bad, 0, 4);
                assertThrows(NbdProtocolException.class, () -> Request.decodeHeader(b));
                assertEquals(0, b.position());
            }
        }
        ByteBuffer ext = ByteBuffer.allocate(32).putInt(Nbd.EXTENDED_REQUEST_MAGIC).flip();
        NbdProtocolException e = assertThrows(NbdProtocolException.class, () -> Request.decodeHeader(ext));
        assertTrue(e.getMessage().contains("extended"), e.getMessage());
        // an option arriving after transmission started
        assertThrows(NbdProtocolException.class, () -> Request.decodeHeader(OptionRequest.of(Nbd.OPT_LIST).encode()));
        assertNull(Request.decodeHeader(ByteBuffer.wrap(good, 0, 27)));
        // a hostile WRITE length is the server's to judge; decoding it allocates nothing
        ByteBuffer huge = new Request(0, Nbd.CMD_WRITE, 1, 0, 0xFFFF_FFFFL).encodeHeader();
        Request h = null;
        long allocated = 0;
        for (int i = 0; i < 3; i++) {
            huge.position(0);
            long before = Frames.allocatedBytes();
            h = Request.decodeHeader(huge);
            allocated = Frames.allocatedBytes() - before;
        }
        assertTrue(allocated < 4096, "allocated " + allocated);
        assertEquals(0xFFFF_FFFFL, h.payloadLength());
    }

    @Test
    void rangeWithinIsUnsignedAndOverflowSafe() {
        long size = 1L << 30;
        assertTrue(new Request(0, 0, 0, 0, 0).rangeWithin(size));
        assertTrue(new Request(0, 0, 0, size - 512, 512).rangeWithin(size));
        assertTrue(new Request(0, 0, 0, size, 0).rangeWithin(size));
        assertFalse(new Request(0, 0, 0, size - 512, 513).rangeWithin(size));
        assertFalse(new Request(0, 0, 0, size + 1, 0).rangeWithin(size));
        assertFalse(new Request(0, 0, 0, Long.MAX_VALUE, 0xFFFF_FFFFL).rangeWithin(Long.MAX_VALUE));
        assertFalse(new Request(0, 0, 0, -1L, 1).rangeWithin(Long.MAX_VALUE), "offset 2^64-1 is huge, not -1");
        assertFalse(new Request(0, 0, 0, Long.MIN_VALUE, 0).rangeWithin(Long.MAX_VALUE));
        assertThrows(IllegalArgumentException.class, () -> new Request(0, 0, 0, 0, 1L << 32));
        assertThrows(IllegalArgumentException.class, () -> new Request(0x10000, 0, 0, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new Request(0, -1, 0, 0, 0));
    }

    // ------------------------------------------------------------------ simple replies

    @Test
    void simpleReplyBytesAndRoundTrip() throws Exception {
        assertArrayEquals(hex("67446698 00000005 0102030405060708"), Frames.bytes(new SimpleReply(Nbd.EIO, 0x0102030405060708L).encode()));
        SplittableRandom r = Seeds.random("simpleReplyBytesAndRoundTrip");
        for (int i = 0; i < 200; i++) {
            SimpleReply s = new SimpleReply(i < 10 ? 0 : r.nextInt(), r.nextLong());
            Frames.assertIncremental(Frames.bytes(s.encode()), s, SimpleReply::decode);
        }
        ByteBuffer bad = ByteBuffer.wrap(hex("668e33ef"));
        assertThrows(NbdProtocolException.class, () -> SimpleReply.decode(bad), "a structured reply is not a simple one");
    }

    @Test
    void simpleReplyHeaderAndReadDataGoOutInOneGatheringWrite() throws Exception {
        SplittableRandom r = Seeds.random("simpleReplyHeaderAndReadDataGoOutInOneGatheringWrite");
        byte[] data = Seeds.bytes(r, 4096);
        ByteBuffer header = ByteBuffer.allocateDirect(SimpleReply.HEADER_LENGTH);
        SimpleReply.encode(header, 0, 77);
        header.flip();
        ByteBuffer dataBuf = ByteBuffer.wrap(data);
        ByteArrayOutputStream wire = new ByteArrayOutputStream();
        try (WritableByteChannel ch = Channels.newChannel(wire)) {
            for (ByteBuffer b : new ByteBuffer[] {header, dataBuf}) { // a GatheringByteChannel writes the array at once
                while (b.hasRemaining()) {
                    ch.write(b);
                }
            }
        }
        ByteBuffer in = ByteBuffer.wrap(wire.toByteArray());
        assertEquals(new SimpleReply(0, 77), SimpleReply.decode(in));
        assertEquals(ByteBuffer.wrap(data), in);
    }

    // ------------------------------------------------------------------ structured replies

    /** Test-side decoder of a whole chunk: header then payload. */
    record Chunk(StructuredReplyHeader header, byte[] payload) {
        static Chunk decode(ByteBuffer b) throws NbdProtocolException {
            StructuredReplyHeader h = StructuredReplyHeader.decode(b);
            byte[] p = new byte[(int) h.length()];
            b.get(p);
            return new Chunk(h, p);
        }

        ByteBuffer body() {
            return ByteBuffer.wrap(payload);
        }
    }

    static Chunk chunk(ByteBuffer encoded) throws NbdProtocolException {
        ByteBuffer b = encoded.duplicate();
        Chunk c = Chunk.decode(b);
        assertEquals(0, b.remaining(), "the length field covers exactly the payload");
        return c;
    }

    @Test
    void structuredChunkBytesAreTheDocumentedOnes() {
        long cookie = 0x0102030405060708L;
        assertArrayEquals(hex("668e33ef 0001 0000 0102030405060708 00000000"), Frames.bytes(StructuredReply.none(cookie)));
        assertArrayEquals(hex("668e33ef 0000 0001 0102030405060708 00001008 | 0000000000002000"),
                Frames.bytes(StructuredReply.offsetDataHeader(false, cookie, 8192, 4096)));
        assertArrayEquals(hex("668e33ef 0001 0002 0102030405060708 0000000c | 0000000000002000 00001000"),
                Frames.bytes(StructuredReply.offsetHole(true, cookie, 8192, 4096)));
        assertArrayEquals(hex("668e33ef 0001 8001 0102030405060708 00000008 | 00000005 0002 6f77"),
                Frames.bytes(StructuredReply.error(true, cookie, Nbd.EIO, "ow")));
        assertArrayEquals(hex("668e33ef 0000 8002 0102030405060708 0000000e | 00000016 0000 0000000000000200"),
                Frames.bytes(StructuredReply.errorOffset(false, cookie, Nbd.EINVAL, null, 512)));
        assertArrayEquals(hex("668e33ef 0001 0005 0102030405060708 00000014 | 00000001"
                        + " 00010000 00000003 fffff000 00000000"),
                Frames.bytes(StructuredReply.blockStatus(true, cookie, 1, java.util.List.of(
                        new BlockStatusDescriptor(65536, Nbd.STATE_HOLE | Nbd.STATE_ZERO),
                        new BlockStatusDescriptor(0xFFFFF000L, 0)))));
    }

    @Test
    void structuredChunksRoundTrip() throws Exception {
        SplittableRandom r = Seeds.random("structuredChunksRoundTrip");
        for (int i = 0; i < 300; i++) {
            long cookie = r.nextLong();
            long offset = r.nextLong();
            boolean done = r.nextBoolean();
            int flags = done ? Nbd.REPLY_FLAG_DONE : 0;

            Chunk none = chunk(StructuredReply.none(cookie));
            assertEquals(new StructuredReplyHeader(Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_NONE, cookie, 0), none.header());

            // OFFSET_DATA: the header-only encoder, then the data written apart
            byte[] data = Seeds.bytes(r, 1 + r.nextInt(3000));
            ByteBuffer wire = ByteBuffer.allocate(StructuredReply.OFFSET_DATA_HEADER_LENGTH + data.length);
            StructuredReply.offsetDataHeader(wire, done, cookie, offset, data.length);
            assertEquals(28, wire.position());
            wire.put(data).flip();
            Chunk od = chunk(wire);
            assertEquals(new StructuredReplyHeader(flags, Nbd.REPLY_TYPE_OFFSET_DATA, cookie, 8L + data.length), od.header());
            assertEquals(offset, od.body().getLong());
            assertEquals(ByteBuffer.wrap(data), od.body().position(8));

            long hole = 1 + (r.nextLong() >>> 32) % 0xFFFF_FFFFL;
            Chunk oh = chunk(StructuredReply.offsetHole(done, cookie, offset, hole));
            assertEquals(new StructuredReplyHeader(flags, Nbd.REPLY_TYPE_OFFSET_HOLE, cookie, 12), oh.header());
            assertEquals(offset, oh.body().getLong());
            assertEquals(hole, Integer.toUnsignedLong(oh.body().getInt(8)));

            int errno = 1 + r.nextInt(200);
            String msg = Seeds.string(r, r.nextInt(4) == 0 ? 4096 : 100);
            Chunk er = chunk(StructuredReply.error(done, cookie, errno, msg));
            assertEquals(Nbd.REPLY_TYPE_ERROR, er.header().type());
            assertTrue(er.header().isError());
            assertEquals(done, er.header().done());
            ByteBuffer eb = er.body();
            assertEquals(errno, eb.getInt());
            int mlen = Short.toUnsignedInt(eb.getShort());
            assertEquals(6 + mlen, er.header().length(), "ERROR: message length is header length - 6");
            assertEquals(msg, OptionReplyTest.utf8(eb));

            Chunk eo = chunk(StructuredReply.errorOffset(done, cookie, errno, msg, offset));
            assertEquals(Nbd.REPLY_TYPE_ERROR_OFFSET, eo.header().type());
            ByteBuffer ob = eo.body();
            assertEquals(errno, ob.getInt());
            int olen = Short.toUnsignedInt(ob.getShort());
            assertEquals(14 + olen, eo.header().length(), "ERROR_OFFSET: message length is header length - 14");
            assertEquals(msg, OptionReplyTest.utf8(ob.slice(6, olen)));
            assertEquals(offset, ob.getLong(6 + olen));

            int n = 1 + r.nextInt(r.nextInt(10) == 0 ? 5000 : 10);
            java.util.List<BlockStatusDescriptor> ds = new java.util.ArrayList<>();
            for (int k = 0; k < n; k++) {
                ds.add(new BlockStatusDescriptor(1 + (r.nextLong() >>> 33), r.nextInt(4)));
            }
            int ctx = r.nextInt();
            Chunk bs = chunk(StructuredReply.blockStatus(done, cookie, ctx, ds));
            assertEquals(new StructuredReplyHeader(flags, Nbd.REPLY_TYPE_BLOCK_STATUS, cookie, 4 + 8L * n), bs.header());
            ByteBuffer bb = bs.body();
            assertEquals(ctx, bb.getInt());
            for (BlockStatusDescriptor d : ds) {
                assertEquals(d, new BlockStatusDescriptor(Integer.toUnsignedLong(bb.getInt()), bb.getInt()));
            }
        }
    }

    @Test
    void structuredHeaderDecodesAtEverySplit() throws Exception {
        SplittableRandom r = Seeds.random("structuredHeaderDecodesAtEverySplit");
        for (int i = 0; i < 200; i++) {
            StructuredReplyHeader h = new StructuredReplyHeader(r.nextInt(0x10000), r.nextInt(0x10000), r.nextLong(),
                    r.nextLong() >>> 32);
            ByteBuffer b = ByteBuffer.allocate(20);
            h.encode(b);
            Frames.assertIncremental(Frames.bytes(b.flip()), h, StructuredReplyHeader::decode);
        }
        assertThrows(NbdProtocolException.class, () -> StructuredReplyHeader.decode(new SimpleReply(0, 1).encode()));
    }

    @Test
    void structuredEncodersRefuseBadValuesAndShortBuffers() {
        ByteBuffer b = ByteBuffer.allocate(1 << 16);
        assertThrows(IllegalArgumentException.class, () -> StructuredReply.offsetDataHeader(b, true, 1, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> StructuredReply.offsetHole(b, true, 1, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> StructuredReply.offsetHole(b, true, 1, 0, 1L << 32));
        assertThrows(IllegalArgumentException.class, () -> StructuredReply.error(b, true, 1, 0, "x"));
        assertThrows(IllegalArgumentException.class, () -> StructuredReply.errorOffset(b, true, 1, 0, "x", 0));
        assertThrows(IllegalArgumentException.class, () -> StructuredReply.blockStatus(b, true, 1, 0, java.util.List.of()));
        assertThrows(IllegalArgumentException.class, () -> StructuredReply.blockStatusHeader(b, true, 1, 0,
                StructuredReply.MAX_DESCRIPTORS + 1));
        assertThrows(IllegalArgumentException.class, () -> new BlockStatusDescriptor(0, 0));
        assertThrows(IllegalArgumentException.class, () -> StructuredReply.descriptor(b, 1L << 32, 0));
        assertEquals(0, b.position(), "nothing written by a refused call");
        ByteBuffer small = ByteBuffer.allocate(StructuredReply.blockStatusLength(3) - 1);
        assertThrows(IllegalArgumentException.class, () -> StructuredReply.blockStatusHeader(small, true, 1, 0, 3),
                "the header checks room for every descriptor it announces");
        assertEquals(0, small.position());
        ByteBuffer tiny = ByteBuffer.allocate(27);
        assertThrows(IllegalArgumentException.class, () -> StructuredReply.offsetDataHeader(tiny, true, 1, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> StructuredReply.error(tiny, true, 1, Nbd.EIO, "xy"));
        assertEquals(0, tiny.position());
        // a 4096-byte message with an offset is the longest error chunk
        ByteBuffer max = ByteBuffer.allocate(StructuredReply.MAX_ERROR_LENGTH);
        StructuredReply.errorOffset(max, true, 1, Nbd.EIO, "m".repeat(10_000), 0);
        assertFalse(max.hasRemaining());
        // NONE always carries DONE
        assertEquals(Nbd.REPLY_FLAG_DONE, Short.toUnsignedInt(StructuredReply.none(5).getShort(4)));
    }

    @Test
    void streamedBlockStatusEqualsTheListForm() {
        ByteBuffer a = ByteBuffer.allocate(StructuredReply.blockStatusLength(2));
        StructuredReply.blockStatusHeader(a, true, 9, 3, 2);
        StructuredReply.descriptor(a, 4096, Nbd.STATE_ZERO);
        StructuredReply.descriptor(a, 8192, 0);
        assertFalse(a.hasRemaining());
        ByteBuffer b = StructuredReply.blockStatus(true, 9, 3, java.util.List.of(
                new BlockStatusDescriptor(4096, Nbd.STATE_ZERO), new BlockStatusDescriptor(8192, 0)));
        assertEquals(a.flip(), b);
    }
}
