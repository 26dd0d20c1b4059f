package io.viperblock.nbd.protocol;

import static io.viperblock.nbd.protocol.Frames.hex;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class OptionRequestTest {

    static final int[] OPTIONS = {
        Nbd.OPT_EXPORT_NAME, Nbd.OPT_ABORT, Nbd.OPT_LIST, Nbd.OPT_STARTTLS, Nbd.OPT_INFO, Nbd.OPT_GO,
        Nbd.OPT_STRUCTURED_REPLY, Nbd.OPT_LIST_META_CONTEXT, Nbd.OPT_SET_META_CONTEXT, Nbd.OPT_EXTENDED_HEADERS,
        0, 42, 0x7FFFFFFF, 0x80000000, -1
    };

    static ByteBuffer header(int option, long length) {
        return ByteBuffer.allocate(16).putLong(Nbd.IHAVEOPT).putInt(option).putInt((int) length).flip();
    }

    @Test
    void bytesAreTheDocumentedOnes() {
        OptionRequest go = new ExportInfoRequest("db", List.of(Nbd.INFO_BLOCK_SIZE)).toOption(Nbd.OPT_GO);
        assertArrayEquals(hex("49484156454f5054 00000007 0000000a | 00000002 6462 0001 0003"), Frames.bytes(go.encode()));
        assertArrayEquals(hex("49484156454f5054 00000001 00000002 6462"),
                Frames.bytes(OptionRequest.exportName("db").encode()));
        assertArrayEquals(hex("49484156454f5054 00000003 00000000"), Frames.bytes(OptionRequest.of(Nbd.OPT_LIST).encode()));
        OptionRequest meta = new MetaContextRequest("db", List.of("base:allocation")).toOption(Nbd.OPT_SET_META_CONTEXT);
        assertArrayEquals(hex("49484156454f5054 0000000a 0000001d | 00000002 6462 00000001 | 0000000f"
                + HexFormat.of().formatHex("base:allocation".getBytes(StandardCharsets.US_ASCII))),
                Frames.bytes(meta.encode()));
    }

    @Test
    void randomOptionsRoundTripAtEverySplit() throws Exception {
        SplittableRandom r = Seeds.random("randomOptionsRoundTripAtEverySplit");
        for (int i = 0; i < 300; i++) {
            int option = r.nextInt(3) == 0 ? r.nextInt() : OPTIONS[r.nextInt(OPTIONS.length)];
            int len = switch (r.nextInt(4)) {
                case 0 -> 0;
                case 1 -> r.nextInt(8);
                case 2 -> r.nextInt(100);
                default -> r.nextInt(600);
            };
            OptionRequest o = new OptionRequest(option, Seeds.bytes(r, len));
            byte[] frame = Frames.bytes(o.encode());
            assertEquals(16 + len, frame.length);
            assertEquals(o.encodedLength(), frame.length);
            Frames.assertIncremental(frame, o, OptionRequest::decode);
        }
    }

    @Test
    void aFrameExactlyAtTheBoundIsAcceptedAndOneByteMoreIsNot() throws Exception {
        OptionRequest o = new OptionRequest(Nbd.OPT_GO, new byte[100]);
        byte[] frame = Frames.bytes(o.encode());
        assertEquals(o, Frames.decodeWhole(frame, b -> OptionRequest.decode(b, 100)));
        ByteBuffer b = ByteBuffer.wrap(frame);
        NbdProtocolException e = assertThrows(NbdProtocolException.class, () -> OptionRequest.decode(b, 99));
        assertTrue(e.getMessage().contains("GO"), e.getMessage());
        assertEquals(0, b.position());
        // the default bound is 64 KiB
        OptionRequest max = new OptionRequest(42, new byte[OptionRequest.DEFAULT_MAX_DATA_LENGTH]);
        assertEquals(max, Frames.decodeWhole(Frames.bytes(max.encode()), OptionRequest::decode));
        assertThrows(NbdProtocolException.class, () -> OptionRequest.decode(header(42, 65537)));
        assertThrows(IllegalArgumentException.class, () -> OptionRequest.decode(header(42, 0), -1));
    }

    @Test
    void hostileLengthsAreRejectedFromTheHeaderAloneWithoutAllocating() throws Exception {
        OptionRequest.decode(OptionRequest.of(1).encode()); // warm up: class loading allocates
        assertThrows(NbdProtocolException.class, () -> OptionRequest.decode(header(Nbd.OPT_GO, 0xFFFF_FFFFL)));
        for (long len : new long[] {0xFFFF_FFFFL, 0x8000_0000L, 0x7FFF_FFFFL, 1L << 24, 65537}) {
            for (int option : OPTIONS) {
                ByteBuffer b = header(option, len);
                Frames.assertRejectedWithoutAllocating(NbdProtocolException.class, 16 * 1024,
                        "length " + len + " with only the 16 header bytes available", () -> OptionRequest.decode(b));
                assertEquals(0, b.position(), "nothing consumed");
            }
        }
    }

    @Test
    void wrongMagicIsRejectedAsSoonAsItsEightBytesAreThere() {
        byte[] good = Frames.bytes(OptionRequest.of(Nbd.OPT_LIST).encode());
        for (int i = 0; i < 8; i++) {
            byte[] bad = good.clone();
            bad[i] ^= 0x01;
            assertThrows(NbdProtocolException.class, () -> OptionRequest.decode(ByteBuffer.wrap(bad, 0, 8)), "byte " + i);
        }
        // a client that skipped the handshake and sent a transmission request
        ByteBuffer req = new Request(0, Nbd.CMD_READ, 1, 0, 512).encodeHeader();
        assertThrows(NbdProtocolException.class, () -> OptionRequest.decode(req));
    }

    @Test
    void dataIsCopiedInAndOut() {
        byte[] d = {1, 2, 3};
        OptionRequest o = new OptionRequest(5, d);
        d[0] = 9;
        assertEquals(1, o.data()[0]);
        o.data()[1] = 9;
        assertEquals(2, o.data()[1]);
        assertEquals(new OptionRequest(5, new byte[] {1, 2, 3}), o);
        assertEquals(new OptionRequest(5, new byte[] {1, 2, 3}).hashCode(), o.hashCode());
        assertNotEquals(new OptionRequest(6, new byte[] {1, 2, 3}), o);
        assertThrows(java.nio.ReadOnlyBufferException.class, () -> o.dataBuffer().put((byte) 1));
        assertTrue(o.toString().contains("STARTTLS"));
    }

    // ------------------------------------------------------------------ EXPORT_NAME

    @Test
    void exportNameIsTheWholePayload() throws Exception {
        SplittableRandom r = Seeds.random("exportNameIsTheWholePayload");
        for (int i = 0; i < 200; i++) {
            String name = Seeds.string(r, i < 5 ? 0 : 4096);
            OptionRequest o = OptionRequest.exportName(name);
            OptionRequest back = Frames.decodeWhole(Frames.bytes(o.encode()), OptionRequest::decode);
            assertEquals(name, back.parseExportName());
        }
        assertEquals("", OptionRequest.of(Nbd.OPT_EXPORT_NAME).parseExportName(), "the default export");
    }

    @Test
    void exportNameMustBeAProtocolString() throws Exception {
        for (byte[] bad : List.of(new byte[] {'a', 0, 'b'}, new byte[] {(byte) 0xC0, (byte) 0x80},
                new byte[] {(byte) 0xED, (byte) 0xA0, (byte) 0x80}, new byte[] {(byte) 0xFF}, new byte[] {'a', (byte) 0xE2},
                "x".repeat(4097).getBytes(StandardCharsets.UTF_8))) {
            InvalidOptionException e = assertThrows(InvalidOptionException.class,
                    () -> new OptionRequest(Nbd.OPT_EXPORT_NAME, bad).parseExportName());
            assertEquals(Nbd.OPT_EXPORT_NAME, e.option());
        }
        assertEquals("x".repeat(4096), new OptionRequest(Nbd.OPT_EXPORT_NAME,
                "x".repeat(4096).getBytes(StandardCharsets.UTF_8)).parseExportName());
        assertThrows(IllegalStateException.class, () -> OptionRequest.of(Nbd.OPT_GO).parseExportName());
        assertThrows(IllegalArgumentException.class, () -> OptionRequest.exportName("a\0b"));
        assertThrows(IllegalArgumentException.class, () -> OptionRequest.exportName("\uD800"));
        assertThrows(IllegalArgumentException.class, () -> OptionRequest.exportName("é".repeat(2049)));
    }

    // ------------------------------------------------------------------ INFO / GO

    static ExportInfoRequest randomInfo(SplittableRandom r) {
        List<Integer> infos = new ArrayList<>();
        int k = r.nextInt(6);
        for (int j = 0; j < k; j++) {
            infos.add(r.nextInt(4) == 0 ? r.nextInt(0x10000) : r.nextInt(4));
        }
        return new ExportInfoRequest(Seeds.string(r, r.nextInt(8) == 0 ? 4096 : 40), infos);
    }

    @Test
    void infoAndGoRoundTrip() throws Exception {
        SplittableRandom r = Seeds.random("infoAndGoRoundTrip");
        for (int i = 0; i < 500; i++) {
            ExportInfoRequest req = randomInfo(r);
            int option = r.nextBoolean() ? Nbd.OPT_INFO : Nbd.OPT_GO;
            OptionRequest o = req.toOption(option);
            OptionRequest back = Frames.decodeWhole(Frames.bytes(o.encode()), OptionRequest::decode);
            assertEquals(req, back.parseInfo());
            assertEquals(req, ExportInfoRequest.parse(back));
        }
        ExportInfoRequest e = new OptionRequest(Nbd.OPT_GO, hex("00000000 0000")).parseInfo();
        assertEquals(new ExportInfoRequest("", List.of()), e);
        assertTrue(new ExportInfoRequest("a", List.of(3, 0)).requested(Nbd.INFO_BLOCK_SIZE));
        assertThrows(IllegalStateException.class, () -> OptionRequest.of(Nbd.OPT_LIST).parseInfo());
        assertThrows(IllegalArgumentException.class, () -> e.toOption(Nbd.OPT_LIST));
    }

    @Test
    void infoLengthsAreCheckedExactly() throws Exception {
        SplittableRandom r = Seeds.random("infoLengthsAreCheckedExactly");
        for (int i = 0; i < 200; i++) {
            int option = r.nextBoolean() ? Nbd.OPT_INFO : Nbd.OPT_GO;
            byte[] valid = randomInfo(r).toOption(option).data();
            // every strict prefix is invalid, and so is any extra byte
            for (int cut = 0; cut < valid.length; cut++) {
                byte[] prefix = Arrays.copyOf(valid, cut);
                assertThrows(InvalidOptionException.class, () -> new OptionRequest(option, prefix).parseInfo(),
                        "prefix of " + cut + " of " + valid.length);
            }
            byte[] longer = Arrays.copyOf(valid, valid.length + 1 + r.nextInt(3));
            assertThrows(InvalidOptionException.class, () -> new OptionRequest(option, longer).parseInfo());
        }
    }

    @Test
    void hostileInfoNameLengthsAreRejectedWithoutAllocating() throws Exception {
        new OptionRequest(Nbd.OPT_GO, hex("00000000 0000")).parseInfo(); // warm up
        for (long nameLen : new long[] {0xFFFF_FFFFL, 0x8000_0000L, 0x7FFF_FFFFL, 7, 3}) {
            // 10 bytes of data: name length, 4 name bytes, count 0 -> only names of length 4 fit
            ByteBuffer d = ByteBuffer.allocate(10).putInt((int) nameLen).put("abcd".getBytes(StandardCharsets.US_ASCII))
                    .putShort((short) 0);
            OptionRequest o = new OptionRequest(Nbd.OPT_INFO, d.array());
            InvalidOptionException e = Frames.assertRejectedWithoutAllocating(InvalidOptionException.class, 16 * 1024,
                    "INFO name length " + nameLen, o::parseInfo);
            assertEquals(Nbd.REP_ERR_INVALID, e.replyType());
            assertEquals(Nbd.OPT_INFO, e.option());
        }
        // name length = data length - 5: one byte short of the count
        assertThrows(InvalidOptionException.class, () -> new OptionRequest(Nbd.OPT_GO, hex("00000002 6162 00")).parseInfo());
        // count says 2 requests, 1 is there; count says 0, 1 is there
        assertThrows(InvalidOptionException.class, () -> new OptionRequest(Nbd.OPT_GO, hex("00000000 0002 0003")).parseInfo());
        assertThrows(InvalidOptionException.class, () -> new OptionRequest(Nbd.OPT_GO, hex("00000000 0000 0003")).parseInfo());
        assertThrows(InvalidOptionException.class, () -> new OptionRequest(Nbd.OPT_GO, hex("00000000 ffff")).parseInfo());
        // a name that is not UTF-8, or holds a NUL
        assertThrows(InvalidOptionException.class, () -> new OptionRequest(Nbd.OPT_GO, hex("00000001 ff 0000")).parseInfo());
        assertThrows(InvalidOptionException.class, () -> new OptionRequest(Nbd.OPT_GO, hex("00000001 00 0000")).parseInfo());
    }

    // ------------------------------------------------------------------ LIST_META_CONTEXT / SET_META_CONTEXT

    static MetaContextRequest randomMeta(SplittableRandom r) {
        List<String> qs = new ArrayList<>();
        int k = r.nextInt(5);
        for (int j = 0; j < k; j++) {
            qs.add(r.nextInt(3) == 0 ? "base:allocation" : r.nextInt(8) == 0 ? "" : Seeds.string(r, 60));
        }
        return new MetaContextRequest(Seeds.string(r, 40), qs);
    }

    @Test
    void metaContextRoundTrip() throws Exception {
        SplittableRandom r = Seeds.random("metaContextRoundTrip");
        for (int i = 0; i < 500; i++) {
            MetaContextRequest req = randomMeta(r);
            int option = r.nextBoolean() ? Nbd.OPT_LIST_META_CONTEXT : Nbd.OPT_SET_META_CONTEXT;
            OptionRequest o = req.toOption(option);
            OptionRequest back = Frames.decodeWhole(Frames.bytes(o.encode()), OptionRequest::decode);
            assertEquals(req, back.parseMetaContext());
        }
        assertEquals(new MetaContextRequest("", List.of()),
                new OptionRequest(Nbd.OPT_SET_META_CONTEXT, new byte[8]).parseMetaContext());
        assertThrows(IllegalStateException.class, () -> OptionRequest.of(Nbd.OPT_GO).parseMetaContext());
    }

    @Test
    void metaContextLengthsAreCheckedExactly() throws Exception {
        SplittableRandom r = Seeds.random("metaContextLengthsAreCheckedExactly");
        for (int i = 0; i < 200; i++) {
            int option = r.nextBoolean() ? Nbd.OPT_LIST_META_CONTEXT : Nbd.OPT_SET_META_CONTEXT;
            byte[] valid = randomMeta(r).toOption(option).data();
            for (int cut = 0; cut < valid.length; cut++) {
                byte[] prefix = Arrays.copyOf(valid, cut);
                assertThrows(InvalidOptionException.class, () -> new OptionRequest(option, prefix).parseMetaContext(),
                        "prefix of " + cut + " of " + valid.length);
            }
            byte[] longer = Arrays.copyOf(valid, valid.length + 1 + r.nextInt(3));
            assertThrows(InvalidOptionException.class, () -> new OptionRequest(option, longer).parseMetaContext());
        }
    }

    @Test
    void hostileMetaContextCountsAndLengthsAreRejectedWithoutAllocating() throws Exception {
        new OptionRequest(Nbd.OPT_SET_META_CONTEXT, new byte[8]).parseMetaContext(); // warm up
        List<byte[]> hostile = List.of(
                hex("00000000 ffffffff"),                              // 4 billion queries in 0 bytes
                hex("00000000 7fffffff 00000000"),                     // 2^31-1 queries in 4 bytes
                hex("00000000 00100000 00000000 00000000"),            // 2^20 queries in 8 bytes
                hex("00000000 00000003 00000000 00000000"),            // 3 empty queries in 8 bytes
                hex("00000000 00000001 ffffffff 6162"),                // a query of 4 GiB in 2 bytes
                hex("00000000 00000001 00000003 6162"),                // a query one byte too long
                hex("ffffffff 00000000"),                              // a name of 4 GiB
                hex("00000001 00000000"),                              // a name that eats the count
                hex("00000000 00000001 00000000 00"),                  // a trailing byte
                hex("00000000 00000001 0000 10"));                      // a query length cut short
        for (byte[] d : hostile) {
            OptionRequest o = new OptionRequest(Nbd.OPT_LIST_META_CONTEXT, d);
            Frames.assertRejectedWithoutAllocating(InvalidOptionException.class, 16 * 1024,
                    "meta context data " + Arrays.toString(d), o::parseMetaContext);
        }
        // the one query of 4097 bytes is longer than any protocol string
        ByteBuffer d = ByteBuffer.allocate(12 + 4097).putInt(0).putInt(1).putInt(4097);
        assertThrows(InvalidOptionException.class,
                () -> new OptionRequest(Nbd.OPT_SET_META_CONTEXT, d.array()).parseMetaContext());
    }

    @Test
    void aPartialHeaderIsNotYetAnError() throws Exception {
        assertNull(OptionRequest.decode(ByteBuffer.allocate(0)));
        assertNull(OptionRequest.decode(ByteBuffer.wrap(hex("4948415645"))));
        assertNull(OptionRequest.decode(ByteBuffer.wrap(hex("49484156454f5054 00000007 ffff"))));
    }
}
