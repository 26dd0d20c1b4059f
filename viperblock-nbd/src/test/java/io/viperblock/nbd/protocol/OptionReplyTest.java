package io.viperblock.nbd.protocol;

import static io.viperblock.nbd.protocol.Frames.hex;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class OptionReplyTest {

    static final String MAGIC = "0003e889045565a9";

    /** Test-side reading of an INFO reply's payload. */
    record Info(int type, ByteBuffer rest) {
        static Info of(OptionReply r) {
            assertEquals(Nbd.REP_INFO, r.replyType());
            ByteBuffer b = r.dataBuffer();
            return new Info(Short.toUnsignedInt(b.getShort()), b.slice());
        }
    }

    static String utf8(ByteBuffer b) {
        byte[] a = new byte[b.remaining()];
        b.get(a);
        return new String(a, StandardCharsets.UTF_8);
    }

    @Test
    void bytesAreTheDocumentedOnes() {
        assertArrayEquals(hex(MAGIC + "00000007 00000001 00000000"), Frames.bytes(OptionReply.ack(Nbd.OPT_GO).encode()));
        assertArrayEquals(hex(MAGIC + "00000006 00000003 0000000c | 0000 0000000040000000 0105"),
                Frames.bytes(OptionReply.infoExport(Nbd.OPT_INFO, 1L << 30,
                        Nbd.FLAG_HAS_FLAGS | Nbd.FLAG_SEND_FLUSH | Nbd.FLAG_CAN_MULTI_CONN).encode()));
        assertArrayEquals(hex(MAGIC + "00000007 00000003 0000000e | 0003 00000200 00001000 02000000"),
                Frames.bytes(OptionReply.infoBlockSize(Nbd.OPT_GO, 512, 4096, 32 << 20).encode()));
        assertArrayEquals(hex(MAGIC + "00000007 00000003 00000004 | 0001 6462"),
                Frames.bytes(OptionReply.infoName(Nbd.OPT_GO, "db").encode()));
        assertArrayEquals(hex(MAGIC + "00000007 00000003 00000003 | 0002 78"),
                Frames.bytes(OptionReply.infoDescription(Nbd.OPT_GO, "x").encode()));
        assertArrayEquals(hex(MAGIC + "00000003 00000002 00000009 | 00000002 6462 616263"),
                Frames.bytes(OptionReply.server(Nbd.OPT_LIST, "db", "abc").encode()));
        assertArrayEquals(hex(MAGIC + "00000003 00000002 00000006 | 00000002 6462"),
                Frames.bytes(OptionReply.server(Nbd.OPT_LIST, "db", null).encode()));
        assertArrayEquals(hex(MAGIC + "0000000a 00000004 00000007 | 00000001 613a62"),
                Frames.bytes(OptionReply.metaContext(Nbd.OPT_SET_META_CONTEXT, 1, "a:b").encode()));
        assertArrayEquals(hex(MAGIC + "0000002a 80000001 00000000"),
                Frames.bytes(OptionReply.error(42, Nbd.REP_ERR_UNSUP, null).encode()));
        assertArrayEquals(hex(MAGIC + "00000007 80000006 00000002 | 6e6f"),
                Frames.bytes(OptionReply.error(Nbd.OPT_GO, Nbd.REP_ERR_UNKNOWN, "no").encode()));
    }

    static OptionReply randomReply(SplittableRandom r) {
        int option = r.nextInt(4) == 0 ? r.nextInt() : 1 + r.nextInt(11);
        return switch (r.nextInt(9)) {
            case 0 -> OptionReply.ack(option);
            case 1 -> OptionReply.server(option, Seeds.string(r, 100), r.nextBoolean() ? null : Seeds.string(r, 100));
            case 2 -> OptionReply.infoExport(option, r.nextLong(), r.nextInt(0x10000));
            case 3 -> OptionReply.infoName(option, Seeds.string(r, 200));
            case 4 -> OptionReply.infoDescription(option, Seeds.string(r, 200));
            case 5 -> {
                long min = 1L << r.nextInt(17);
                long pref = Math.max(min, 512) << r.nextInt(4);
                long max = r.nextBoolean() ? 0xFFFF_FFFFL : pref + r.nextInt(1 << 20);
                yield OptionReply.infoBlockSize(option, min, pref, max);
            }
            case 6 -> OptionReply.metaContext(option, r.nextInt(), Seeds.string(r, 100));
            case 7 -> OptionReply.error(option, Nbd.REP_FLAG_ERROR | (1 + r.nextInt(10)),
                    r.nextBoolean() ? null : Seeds.string(r, 300));
            default -> new OptionReply(option, r.nextInt(), Seeds.bytes(r, r.nextInt(50)));
        };
    }

    @Test
    void everyReplyRoundTripsAtEverySplit() throws Exception {
        SplittableRandom r = Seeds.random("everyReplyRoundTripsAtEverySplit");
        for (int i = 0; i < 400; i++) {
            OptionReply reply = randomReply(r);
            byte[] frame = Frames.bytes(reply.encode());
            assertEquals(reply.encodedLength(), frame.length);
            Frames.assertIncremental(frame, reply, b -> OptionReply.decode(b, 1 << 16));
        }
    }

    @Test
    void typedPayloadsReadBack() throws Exception {
        SplittableRandom r = Seeds.random("typedPayloadsReadBack");
        for (int i = 0; i < 300; i++) {
            String name = Seeds.string(r, 4096);
            String desc = Seeds.string(r, 300);
            long size = r.nextLong();
            int flags = r.nextInt(0x10000);
            int id = r.nextInt();

            OptionReply server = decoded(OptionReply.server(Nbd.OPT_LIST, name, desc));
            ByteBuffer s = server.dataBuffer();
            int n = s.getInt();
            assertEquals(name, utf8(s.slice(4, n)));
            assertEquals(desc, utf8(s.position(4 + n)));

            Info exp = Info.of(decoded(OptionReply.infoExport(Nbd.OPT_GO, size, flags)));
            assertEquals(Nbd.INFO_EXPORT, exp.type());
            assertEquals(size, exp.rest().getLong());
            assertEquals(flags, Short.toUnsignedInt(exp.rest().getShort()));
            assertEquals(0, exp.rest().remaining());

            Info nm = Info.of(decoded(OptionReply.infoName(Nbd.OPT_INFO, name)));
            assertEquals(Nbd.INFO_NAME, nm.type());
            assertEquals(name, utf8(nm.rest()));

            Info ds = Info.of(decoded(OptionReply.infoDescription(Nbd.OPT_INFO, desc)));
            assertEquals(Nbd.INFO_DESCRIPTION, ds.type());
            assertEquals(desc, utf8(ds.rest()));

            OptionReply meta = decoded(OptionReply.metaContext(Nbd.OPT_SET_META_CONTEXT, id, name));
            assertEquals(Nbd.REP_META_CONTEXT, meta.replyType());
            ByteBuffer m = meta.dataBuffer();
            assertEquals(id, m.getInt());
            assertEquals(name, utf8(m));

            OptionReply err = decoded(OptionReply.error(Nbd.OPT_GO, Nbd.REP_ERR_POLICY, desc));
            assertTrue(err.isError());
            assertEquals(desc, utf8(err.dataBuffer()));
        }
        Info bs = Info.of(decoded(OptionReply.infoBlockSize(Nbd.OPT_GO, 1, 512, 0xFFFF_FFFFL)));
        assertEquals(Nbd.INFO_BLOCK_SIZE, bs.type());
        assertEquals(1, bs.rest().getInt());
        assertEquals(512, bs.rest().getInt());
        assertEquals(-1, bs.rest().getInt());
        assertFalse(OptionReply.ack(1).isError());
    }

    private static OptionReply decoded(OptionReply reply) throws NbdProtocolException {
        return Frames.decodeWhole(Frames.bytes(reply.encode()), b -> OptionReply.decode(b, 1 << 16));
    }

    @Test
    void blockSizeRulesAreEnforced() {
        OptionReply.infoBlockSize(1, 1, 512, 512);
        OptionReply.infoBlockSize(1, 65536, 65536, 0xFFFF_FFFFL);
        OptionReply.infoBlockSize(1, 4096, 4096, 4096);
        long[][] bad = {
            {0, 512, 512}, {3, 512, 512}, {131072, 131072, 131072},   // minimum: power of two <= 64 KiB
            {1, 256, 512}, {4096, 2048, 4096}, {512, 768, 1024},      // preferred: power of two >= max(min, 512)
            {512, 4096, 2048}, {512, 512, 1L << 32},                 // maximum: >= preferred, fits u32
        };
        for (long[] v : bad) {
            assertThrows(IllegalArgumentException.class, () -> OptionReply.infoBlockSize(1, v[0], v[1], v[2]),
                    java.util.Arrays.toString(v));
        }
    }

    @Test
    void stringsAreCheckedOrCut() {
        assertThrows(IllegalArgumentException.class, () -> OptionReply.error(1, Nbd.REP_ACK, "x"),
                "an error needs bit 31");
        assertThrows(IllegalArgumentException.class, () -> OptionReply.server(1, "a\0", null));
        assertThrows(IllegalArgumentException.class, () -> OptionReply.infoName(1, "n".repeat(4097)));
        assertThrows(IllegalArgumentException.class, () -> OptionReply.metaContext(1, 0, "\uDC00"));
        assertThrows(IllegalArgumentException.class, () -> OptionReply.infoExport(1, 0, 0x10000));
        // messages are cut at 4096 bytes, on a character boundary
        OptionReply e = OptionReply.error(1, Nbd.REP_ERR_INVALID, "€".repeat(2000));
        assertEquals(4095, e.dataLength());
        assertEquals("€".repeat(1365), utf8(e.dataBuffer()));
        OptionReply nul = OptionReply.error(1, Nbd.REP_ERR_INVALID, "a\0b");
        assertEquals("a b", utf8(nul.dataBuffer()));
        assertEquals(4096, OptionReply.infoDescription(1, "d".repeat(5000)).dataLength() - 2);
    }

    @Test
    void decoderRejectsWrongMagicAndHostileLengths() throws Exception {
        OptionReply.decode(OptionReply.ack(1).encode(), 10); // warm up
        byte[] good = Frames.bytes(OptionReply.ack(1).encode());
        for (int i = 0; i < 8; i++) {
            byte[] bad = good.clone();
            bad[i] ^= 0x40;
            ByteBuffer b = ByteBuffer.wrap(bad, 0, 8);
            assertThrows(NbdProtocolException.class, () -> OptionReply.decode(b, 100));
            assertEquals(0, b.position());
        }
        ByteBuffer hostile = ByteBuffer.allocate(20).putLong(Nbd.OPTION_REPLY_MAGIC).putInt(1).putInt(Nbd.REP_SERVER)
                .putInt(-1).flip();
        Frames.assertRejectedWithoutAllocating(NbdProtocolException.class, 16 * 1024, "reply length 0xffffffff",
                () -> OptionReply.decode(hostile, 1 << 20));
        assertEquals(0, hostile.position());
        assertNull(OptionReply.decode(ByteBuffer.wrap(good, 0, 19), 0));
    }

    @Test
    void anEncoderWritesIntoTheCallersBufferAtItsPosition() {
        SplittableRandom r = Seeds.random("anEncoderWritesIntoTheCallersBufferAtItsPosition");
        ByteBuffer pooled = ByteBuffer.allocateDirect(1 << 16);
        List<byte[]> expected = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            OptionReply reply = randomReply(r);
            expected.add(Frames.bytes(reply.encode()));
            reply.encode(pooled);
        }
        pooled.flip();
        for (byte[] e : expected) {
            byte[] got = new byte[e.length];
            pooled.get(got);
            assertArrayEquals(e, got);
        }
        assertEquals(0, pooled.remaining());
        ByteBuffer tight = ByteBuffer.allocate(20);
        assertThrows(IllegalArgumentException.class, () -> OptionReply.error(1, Nbd.REP_ERR_INVALID, "x").encode(tight));
        assertEquals(0, tight.position());
    }
}
