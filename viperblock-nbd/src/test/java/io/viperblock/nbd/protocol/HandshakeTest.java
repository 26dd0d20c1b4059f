package io.viperblock.nbd.protocol;

import static io.viperblock.nbd.protocol.Frames.hex;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class HandshakeTest {

    @Test
    void greetingBytesAreTheDocumentedOnes() {
        byte[] b = Frames.bytes(ServerGreeting.DEFAULT.encode());
        assertArrayEquals(hex("4e42444d41474943 49484156454f5054 0003"), b);
        assertEquals("NBDMAGICIHAVEOPT", new String(b, 0, 16, StandardCharsets.US_ASCII));
        assertTrue(ServerGreeting.DEFAULT.fixedNewstyle());
        assertTrue(ServerGreeting.DEFAULT.noZeroes());
        assertFalse(new ServerGreeting(Nbd.FLAG_FIXED_NEWSTYLE).noZeroes());
    }

    @Test
    void greetingRoundTripsAtEverySplit() throws Exception {
        for (int flags : new int[] {0, 1, 2, 3, 0xFFFF, 0x8000}) {
            ServerGreeting g = new ServerGreeting(flags);
            Frames.assertIncremental(Frames.bytes(g.encode()), g, ServerGreeting::decode);
        }
    }

    @Test
    void greetingWithWrongMagicsIsRejected() {
        byte[] good = Frames.bytes(ServerGreeting.DEFAULT.encode());
        for (int i = 0; i < 16; i++) {
            byte[] bad = good.clone();
            bad[i] ^= 0x10;
            ByteBuffer b = ByteBuffer.wrap(bad);
            assertThrows(NbdProtocolException.class, () -> ServerGreeting.decode(b), "byte " + i);
            assertEquals(0, b.position(), "nothing consumed on error");
        }
        // a wrong first magic is seen as soon as its 8 bytes are there
        byte[] bad = good.clone();
        bad[3] = 'x';
        assertThrows(NbdProtocolException.class, () -> ServerGreeting.decode(ByteBuffer.wrap(bad, 0, 8)));
        // oldstyle server
        ByteBuffer old = ByteBuffer.allocate(18).putLong(Nbd.NBDMAGIC).putLong(Nbd.CLISERV_MAGIC).putShort((short) 0).flip();
        NbdProtocolException e = assertThrows(NbdProtocolException.class, () -> ServerGreeting.decode(old));
        assertTrue(e.getMessage().contains("oldstyle"), e.getMessage());
    }

    @Test
    void greetingRejectsFlagsWiderThan16Bits() {
        assertThrows(IllegalArgumentException.class, () -> new ServerGreeting(0x10000));
        assertThrows(IllegalArgumentException.class, () -> new ServerGreeting(-1));
    }

    @Test
    void encodersRefuseAShortBufferWithoutWriting() {
        ByteBuffer small = ByteBuffer.allocate(17);
        assertThrows(IllegalArgumentException.class, () -> ServerGreeting.DEFAULT.encode(small));
        assertEquals(0, small.position());
        ByteBuffer three = ByteBuffer.allocate(3);
        assertThrows(IllegalArgumentException.class, () -> new ClientFlags(1).encode(three));
        assertEquals(0, three.position());
    }

    @Test
    void encodersWriteBigEndianIntoALittleEndianBuffer() {
        ByteBuffer le = ByteBuffer.allocateDirect(18).order(ByteOrder.LITTLE_ENDIAN);
        ServerGreeting.DEFAULT.encode(le);
        le.flip();
        assertArrayEquals(Frames.bytes(ServerGreeting.DEFAULT.encode()), Frames.bytes(le));
        assertEquals(ByteOrder.LITTLE_ENDIAN, le.order(), "the caller's byte order is left alone");
    }

    @Test
    void clientFlagsRoundTripAtEverySplit() throws Exception {
        SplittableRandom r = Seeds.random("clientFlagsRoundTripAtEverySplit");
        for (int i = 0; i < 50; i++) {
            ClientFlags f = new ClientFlags(i < 4 ? i : r.nextInt());
            byte[] frame = Frames.bytes(f.encode());
            assertEquals(4, frame.length);
            Frames.assertIncremental(frame, f, ClientFlags::decode);
        }
        assertArrayEquals(hex("00000003"), Frames.bytes(new ClientFlags(3).encode()));
    }

    @Test
    void clientFlagsAreCheckedAgainstWhatTheServerOffered() {
        int offered = Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES;
        assertDoesNotThrow(() -> new ClientFlags(0).check(offered));
        assertDoesNotThrow(() -> new ClientFlags(1).check(offered));
        assertDoesNotThrow(() -> new ClientFlags(3).check(offered));
        assertDoesNotThrow(() -> new ClientFlags(1).check(Nbd.FLAG_FIXED_NEWSTYLE));
        assertThrows(NbdProtocolException.class, () -> new ClientFlags(2).check(Nbd.FLAG_FIXED_NEWSTYLE),
                "C_NO_ZEROES without the server's NO_ZEROES");
        for (int bit = 2; bit < 32; bit++) {
            int f = 1 << bit;
            assertThrows(NbdProtocolException.class, () -> new ClientFlags(f).check(offered), "bit " + bit);
        }
        assertTrue(new ClientFlags(3).noZeroes());
        assertTrue(new ClientFlags(3).fixedNewstyle());
        assertFalse(new ClientFlags(0).fixedNewstyle());
    }

    @Test
    void exportNameReplyHasTheZeroesUnlessNoZeroes() throws Exception {
        ExportNameReply r = new ExportNameReply(0x0123456789abcdefL, Nbd.FLAG_HAS_FLAGS | Nbd.FLAG_SEND_FLUSH);
        byte[] shortForm = Frames.bytes(r.encode(true));
        assertArrayEquals(hex("0123456789abcdef 0005"), shortForm);
        ByteBuffer dirty = ByteBuffer.allocate(200);
        while (dirty.hasRemaining()) {
            dirty.put((byte) 0xFF);
        }
        dirty.clear();
        r.encode(dirty, false);
        assertEquals(134, dirty.position());
        byte[] longForm = Frames.bytes(dirty.flip());
        assertArrayEquals(shortForm, java.util.Arrays.copyOf(longForm, 10));
        for (int i = 10; i < 134; i++) {
            assertEquals(0, longForm[i], "reserved byte " + i + " must be zero");
        }
        Frames.assertIncremental(shortForm, r, b -> ExportNameReply.decode(b, true));
        Frames.assertIncremental(longForm, r, b -> ExportNameReply.decode(b, false));
        ExportNameReply big = new ExportNameReply(-1L, 0xFFFF);
        assertEquals(big, Frames.decodeWhole(Frames.bytes(big.encode(true)), b -> ExportNameReply.decode(b, true)));
        assertNull(ExportNameReply.decode(ByteBuffer.allocate(133), false));
        assertThrows(IllegalArgumentException.class, () -> new ExportNameReply(1, 0x10000));
    }
}
