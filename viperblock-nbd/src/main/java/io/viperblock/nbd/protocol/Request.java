package io.viperblock.nbd.protocol;

import java.nio.ByteBuffer;

/**
 * The header of one transmission-phase request, sent by the client. A WRITE request is followed
 * by {@code length} bytes of data, which are not part of this record: {@link #decodeHeader}
 * returns as soon as the 28 header bytes are there, and the server then reads
 * {@link #payloadLength()} bytes itself (or, having judged the length too large, disconnects).
 *
 * <pre>
 * offset 0          4        6        8                  16                 24         28
 *        +----------+--------+--------+------------------+------------------+----------+==========+
 *        |  magic   | flags  |  type  |      cookie      |      offset      |  length  | payload  |
 *        | 25609513 |  u16   |  u16   |       u64        |       u64        |   u32    | (WRITE   |
 *        +----------+--------+--------+------------------+------------------+----------+  only)   |
 *                                                                                      +==========+
 *
 * flags: CMD_FLAG_*.  type: CMD_*.  cookie: opaque, echoed in every reply (once called "handle").
 * offset: unsigned byte offset.  length: unsigned; for WRITE also the number of payload bytes.
 * </pre>
 *
 * <p>Immutable record; its codec methods are stateless. Thread-safe.
 *
 * @param flags  16-bit command flags
 * @param type   16-bit command type
 * @param cookie 64-bit opaque cookie
 * @param offset 64-bit unsigned offset (a negative Java value means 2^63 or more)
 * @param length 32-bit unsigned length, 0 to 0xFFFFFFFF
 */
public record Request(int flags, int type, long cookie, long offset, long length) {

    /** Bytes of the header, before any WRITE payload. */
    public static final int HEADER_LENGTH = 28;

    public Request {
        Wire.checkU16(flags, "command flags");
        Wire.checkU16(type, "command type");
        Wire.checkU32(length, "length");
    }

    /** The number of payload bytes that follow the header on the wire: {@code length} for WRITE, 0 otherwise. */
    public long payloadLength() {
        return type == Nbd.CMD_WRITE ? length : 0;
    }

    public boolean hasFlag(int flag) {
        return (flags & flag) != 0;
    }

    /**
     * True if {@code [offset, offset + length)} lies within an export of {@code exportSize}
     * bytes, with {@code offset} read as unsigned and without overflow. A helper for the server;
     * the decoder itself does not judge offsets or lengths.
     */
    public boolean rangeWithin(long exportSize) {
        return offset >= 0 && exportSize >= 0 && offset <= exportSize && length <= exportSize - offset;
    }

    /** Client side: writes the 28-byte header at {@code dst}'s position and advances it. */
    public void encodeHeader(ByteBuffer dst) {
        Wire.requireRoom(dst, HEADER_LENGTH, "request header");
        int p = dst.position();
        Wire.put32(dst, p, Nbd.REQUEST_MAGIC);
        Wire.put16(dst, p + 4, flags);
        Wire.put16(dst, p + 6, type);
        Wire.put64(dst, p + 8, cookie);
        Wire.put64(dst, p + 16, offset);
        Wire.put32(dst, p + 24, (int) length);
        dst.position(p + HEADER_LENGTH);
    }

    /** The 28-byte header in a new heap buffer, ready to read. */
    public ByteBuffer encodeHeader() {
        ByteBuffer b = ByteBuffer.allocate(HEADER_LENGTH);
        encodeHeader(b);
        return b.flip();
    }

    /**
     * Decodes one request header at {@code src}'s position. Returns null, consuming nothing, while
     * fewer than 28 bytes are available; throws, consuming nothing, as soon as the 4 magic bytes
     * are there and wrong; otherwise consumes exactly 28 bytes, leaving {@code src} at the first
     * payload byte of a WRITE. Nothing is allocated from the length field, and no field other than
     * the magic is judged.
     *
     * @throws NbdProtocolException on a wrong magic; the server then closes the connection
     */
    public static Request decodeHeader(ByteBuffer src) throws NbdProtocolException {
        int p = src.position();
        int available = src.remaining();
        if (available >= 4) {
            int magic = Wire.i32(src, p);
            if (magic != Nbd.REQUEST_MAGIC) {
                throw new NbdProtocolException(magic == Nbd.EXTENDED_REQUEST_MAGIC
                        ? "extended request header received, but extended headers were not negotiated"
                        : "bad request magic " + Wire.hex(Integer.toUnsignedLong(magic), 8));
            }
        }
        if (available < HEADER_LENGTH) {
            return null;
        }
        Request r = new Request(Wire.u16(src, p + 4), Wire.u16(src, p + 6), Wire.i64(src, p + 8),
                Wire.i64(src, p + 16), Wire.u32(src, p + 24));
        src.position(p + HEADER_LENGTH);
        return r;
    }

    @Override
    public String toString() {
        return "Request[" + Nbd.commandName(type) + ", flags=" + Wire.hex(flags, 4) + ", cookie="
                + Wire.hex(cookie, 16) + ", offset=" + Long.toUnsignedString(offset) + ", length=" + length + "]";
    }
}
