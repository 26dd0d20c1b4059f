package io.viperblock.nbd.protocol;

import java.nio.ByteBuffer;

/**
 * The client's 32-bit flags, its answer to the {@link ServerGreeting}. Option requests follow.
 *
 * <pre>
 * offset 0              4
 *        +--------------+
 *        | client flags |
 *        |     u32      |
 *        +--------------+
 *
 * bit 0 C_FIXED_NEWSTYLE, bit 1 C_NO_ZEROES (only if the server set NO_ZEROES); no other bit may be set.
 * </pre>
 *
 * <p>The server MUST drop the connection if the client sets an unknown flag or one the server did
 * not advertise: {@link #check(int)} tells. Immutable record; its codec methods are stateless.
 * Thread-safe.
 *
 * @param flags the 32 bits as sent
 */
public record ClientFlags(int flags) {

    /** Size on the wire. */
    public static final int LENGTH = 4;

    public void encode(ByteBuffer dst) {
        Wire.requireRoom(dst, LENGTH, "client flags");
        int p = dst.position();
        Wire.put32(dst, p, flags);
        dst.position(p + LENGTH);
    }

    public ByteBuffer encode() {
        ByteBuffer b = ByteBuffer.allocate(LENGTH);
        encode(b);
        return b.flip();
    }

    /**
     * Decodes the flags at {@code src}'s position: null, consuming nothing, while fewer than 4
     * bytes are available; otherwise consumes 4 bytes. Never throws: every value is framed
     * correctly; use {@link #check(int)} for the meaning.
     */
    public static ClientFlags decode(ByteBuffer src) {
        if (src.remaining() < LENGTH) {
            return null;
        }
        int p = src.position();
        int f = Wire.i32(src, p);
        src.position(p + LENGTH);
        return new ClientFlags(f);
    }

    /**
     * Checks the flags against the handshake flags the server sent.
     *
     * @throws NbdProtocolException if an unknown bit is set, or C_NO_ZEROES without the server's NO_ZEROES
     */
    public void check(int serverHandshakeFlags) throws NbdProtocolException {
        if ((flags & ~Nbd.KNOWN_CLIENT_FLAGS) != 0) {
            throw new NbdProtocolException("client set unknown flags " + Wire.hex(Integer.toUnsignedLong(flags), 8));
        }
        if (noZeroes() && (serverHandshakeFlags & Nbd.FLAG_NO_ZEROES) == 0) {
            throw new NbdProtocolException("client set C_NO_ZEROES, which the server did not offer");
        }
    }

    public boolean fixedNewstyle() {
        return (flags & Nbd.FLAG_C_FIXED_NEWSTYLE) != 0;
    }

    public boolean noZeroes() {
        return (flags & Nbd.FLAG_C_NO_ZEROES) != 0;
    }
}
