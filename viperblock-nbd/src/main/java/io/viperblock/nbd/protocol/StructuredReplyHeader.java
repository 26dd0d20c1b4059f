package io.viperblock.nbd.protocol;

import java.nio.ByteBuffer;

/**
 * The 20-byte header every structured reply chunk starts with; {@code length} payload bytes
 * follow, laid out by {@code type}. The server writes chunks with {@link StructuredReply}; this
 * record is the generic form, and {@link #decode} is the client-side (and test) decoder.
 *
 * <pre>
 * offset 0          4        6        8                  16         20
 *        +----------+--------+--------+------------------+----------+=================+
 *        |  magic   | flags  |  type  |      cookie      |  length  |     payload     |
 *        | 668e33ef |  u16   |  u16   |       u64        |   u32    |  length bytes   |
 *        +----------+--------+--------+------------------+----------+=================+
 *
 * flags: bit 0 REPLY_FLAG_DONE (last chunk of this reply).  type: REPLY_TYPE_*; bit 15 set = an
 * error chunk.  cookie: the request's, echoed.
 * </pre>
 *
 * <p>Immutable record; its codec methods are stateless. Thread-safe.
 *
 * @param flags  16-bit reply flags
 * @param type   16-bit chunk type
 * @param cookie the cookie of the request answered
 * @param length payload length, 0 to 0xFFFFFFFF
 */
public record StructuredReplyHeader(int flags, int type, long cookie, long length) {

    /** Bytes of the header. */
    public static final int LENGTH = 20;

    public StructuredReplyHeader {
        Wire.checkU16(flags, "reply flags");
        Wire.checkU16(type, "chunk type");
        Wire.checkU32(length, "payload length");
    }

    public boolean done() {
        return (flags & Nbd.REPLY_FLAG_DONE) != 0;
    }

    public boolean isError() {
        return Nbd.isErrorChunk(type);
    }

    /** Writes the 20 header bytes at {@code dst}'s position and advances it. */
    public void encode(ByteBuffer dst) {
        Wire.requireRoom(dst, LENGTH, "structured reply header");
        put(dst, dst.position(), flags, type, cookie, (int) length);
        dst.position(dst.position() + LENGTH);
    }

    static void put(ByteBuffer dst, int p, int flags, int type, long cookie, int length) {
        Wire.put32(dst, p, Nbd.STRUCTURED_REPLY_MAGIC);
        Wire.put16(dst, p + 4, flags);
        Wire.put16(dst, p + 6, type);
        Wire.put64(dst, p + 8, cookie);
        Wire.put32(dst, p + 16, length);
    }

    /**
     * Client side: decodes a chunk header at {@code src}'s position. Null, consuming nothing,
     * while fewer than 20 bytes are there; throws, consuming nothing, on a wrong magic once its 4
     * bytes are there; otherwise consumes 20 bytes and leaves the payload to the caller.
     */
    public static StructuredReplyHeader decode(ByteBuffer src) throws NbdProtocolException {
        int p = src.position();
        int available = src.remaining();
        if (available >= 4) {
            int magic = Wire.i32(src, p);
            if (magic != Nbd.STRUCTURED_REPLY_MAGIC) {
                throw new NbdProtocolException("bad structured reply magic " + Wire.hex(Integer.toUnsignedLong(magic), 8));
            }
        }
        if (available < LENGTH) {
            return null;
        }
        StructuredReplyHeader h = new StructuredReplyHeader(Wire.u16(src, p + 4), Wire.u16(src, p + 6),
                Wire.i64(src, p + 8), Wire.u32(src, p + 16));
        src.position(p + LENGTH);
        return h;
    }

    @Override
    public String toString() {
        return "StructuredReplyHeader[" + Nbd.chunkTypeName(type) + (done() ? ", DONE" : "") + ", flags="
                + Wire.hex(flags, 4) + ", cookie=" + Wire.hex(cookie, 16) + ", length=" + length + "]";
    }
}
