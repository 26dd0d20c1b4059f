package io.viperblock.nbd.protocol;

import java.nio.ByteBuffer;

/**
 * The header of a simple reply, the only reply form unless structured replies were negotiated.
 * For a successful READ the {@code length} bytes of data follow; the encoder writes only the 16
 * header bytes so the server can gather-write header and data without copying. No data follows
 * an error (or the server must disconnect instead), and a simple reply MUST NOT be used for READ
 * once structured replies are negotiated.
 *
 * <pre>
 * offset 0          4          8                  16
 *        +----------+----------+------------------+==================+
 *        |  magic   |  error   |      cookie      |   READ data      |
 *        | 67446698 |   u32    |       u64        | (success only,   |
 *        +----------+----------+------------------+  written apart)  |
 *                                                 +==================+
 *
 * error: 0 or an NBD errno (EPERM 1, EIO 5, ENOMEM 12, EINVAL 22, ENOSPC 28, EOVERFLOW 75,
 *        ENOTSUP 95, ESHUTDOWN 108).  cookie: the request's, echoed.
 * </pre>
 *
 * <p>Immutable record; its codec methods are stateless. Thread-safe.
 *
 * @param error  0 for success, else an NBD error value (u32)
 * @param cookie the cookie of the request answered
 */
public record SimpleReply(int error, long cookie) {

    /** Bytes of the header. */
    public static final int HEADER_LENGTH = 16;

    /** Writes the 16-byte header at {@code dst}'s position and advances it. */
    public void encode(ByteBuffer dst) {
        encode(dst, error, cookie);
    }

    /** Writes the 16-byte header at {@code dst}'s position and advances it, without a record. */
    public static void encode(ByteBuffer dst, int error, long cookie) {
        Wire.requireRoom(dst, HEADER_LENGTH, "simple reply");
        int p = dst.position();
        Wire.put32(dst, p, Nbd.SIMPLE_REPLY_MAGIC);
        Wire.put32(dst, p + 4, error);
        Wire.put64(dst, p + 8, cookie);
        dst.position(p + HEADER_LENGTH);
    }

    /** The 16-byte header in a new heap buffer, ready to read. */
    public ByteBuffer encode() {
        ByteBuffer b = ByteBuffer.allocate(HEADER_LENGTH);
        encode(b);
        return b.flip();
    }

    /**
     * Client side: decodes a simple reply header at {@code src}'s position. Null, consuming
     * nothing, while fewer than 16 bytes are there; throws, consuming nothing, on a wrong magic
     * once its 4 bytes are there; otherwise consumes 16 bytes (any READ data is the caller's).
     */
    public static SimpleReply decode(ByteBuffer src) throws NbdProtocolException {
        int p = src.position();
        int available = src.remaining();
        if (available >= 4) {
            int magic = Wire.i32(src, p);
            if (magic != Nbd.SIMPLE_REPLY_MAGIC) {
                throw new NbdProtocolException("bad simple reply magic " + Wire.hex(Integer.toUnsignedLong(magic), 8));
            }
        }
        if (available < HEADER_LENGTH) {
            return null;
        }
        SimpleReply r = new SimpleReply(Wire.i32(src, p + 4), Wire.i64(src, p + 8));
        src.position(p + HEADER_LENGTH);
        return r;
    }

    @Override
    public String toString() {
        return "SimpleReply[" + Nbd.errorName(error) + ", cookie=" + Wire.hex(cookie, 16) + "]";
    }
}
