package io.viperblock.nbd.protocol;

import java.nio.ByteBuffer;

/**
 * The first thing the server sends on a connection (newstyle negotiation): two magics and the
 * 16-bit handshake flags. The client answers with its {@link ClientFlags}.
 *
 * <pre>
 * offset 0                 8                 16        18
 *        +-----------------+-----------------+---------+
 *        |    NBDMAGIC     |    IHAVEOPT     | hs flags|
 *        | 4e42444d41474943| 49484156454f5054|   u16   |
 *        |  "NBDMAGIC" u64 |  "IHAVEOPT" u64 |         |
 *        +-----------------+-----------------+---------+
 *
 * hs flags: bit 0 FIXED_NEWSTYLE (a server MUST set it), bit 1 NO_ZEROES; no other bit may be set.
 * </pre>
 *
 * <p>Immutable record; its codec methods are stateless. Thread-safe.
 *
 * @param handshakeFlags the 16-bit handshake flags
 */
public record ServerGreeting(int handshakeFlags) {

    /** Size on the wire. */
    public static final int LENGTH = 18;

    /** The greeting a Viperblock server sends: FIXED_NEWSTYLE and NO_ZEROES. */
    public static final ServerGreeting DEFAULT = new ServerGreeting(Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES);

    public ServerGreeting {
        Wire.checkU16(handshakeFlags, "handshake flags");
    }

    /** Writes the 18 bytes at {@code dst}'s position and advances it; IllegalArgumentException if they do not fit. */
    public void encode(ByteBuffer dst) {
        Wire.requireRoom(dst, LENGTH, "server greeting");
        int p = dst.position();
        Wire.put64(dst, p, Nbd.NBDMAGIC);
        Wire.put64(dst, p + 8, Nbd.IHAVEOPT);
        Wire.put16(dst, p + 16, handshakeFlags);
        dst.position(p + LENGTH);
    }

    /** The 18 bytes in a new heap buffer, ready to read. */
    public ByteBuffer encode() {
        ByteBuffer b = ByteBuffer.allocate(LENGTH);
        encode(b);
        return b.flip();
    }

    /**
     * Client side: decodes a greeting at {@code src}'s position. Returns null, consuming nothing,
     * while fewer than 18 bytes are available; otherwise consumes 18 bytes.
     *
     * @throws NbdProtocolException on a wrong magic (including an oldstyle server's), consuming nothing
     */
    public static ServerGreeting decode(ByteBuffer src) throws NbdProtocolException {
        int p = src.position();
        if (src.remaining() >= 8 && Wire.i64(src, p) != Nbd.NBDMAGIC) {
            throw new NbdProtocolException("bad greeting magic " + Wire.hex(Wire.i64(src, p), 16)
                    + ", expected NBDMAGIC");
        }
        if (src.remaining() < LENGTH) {
            return null;
        }
        long second = Wire.i64(src, p + 8);
        if (second == Nbd.CLISERV_MAGIC) {
            throw new NbdProtocolException("oldstyle negotiation is not supported");
        }
        if (second != Nbd.IHAVEOPT) {
            throw new NbdProtocolException("bad greeting magic " + Wire.hex(second, 16) + ", expected IHAVEOPT");
        }
        int flags = Wire.u16(src, p + 16);
        src.position(p + LENGTH);
        return new ServerGreeting(flags);
    }

    public boolean fixedNewstyle() {
        return (handshakeFlags & Nbd.FLAG_FIXED_NEWSTYLE) != 0;
    }

    public boolean noZeroes() {
        return (handshakeFlags & Nbd.FLAG_NO_ZEROES) != 0;
    }
}
