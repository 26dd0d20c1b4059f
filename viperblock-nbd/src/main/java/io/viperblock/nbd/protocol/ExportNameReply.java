package io.viperblock.nbd.protocol;

import java.nio.ByteBuffer;

/**
 * The server's answer to NBD_OPT_EXPORT_NAME when it accepts the export; transmission starts right
 * after it. It is not an {@link OptionReply}: there is no magic and no way to report an error (if
 * the server refuses the export it MUST terminate the session instead).
 *
 * <pre>
 * offset 0                  8          10                                  134
 *        +------------------+----------+===================================+
 *        |   export size    | tx flags |        zeroes (reserved)          |
 *        |       u64        |   u16    | 124 bytes, omitted if C_NO_ZEROES |
 *        +------------------+----------+===================================+
 * </pre>
 *
 * The 124 zero bytes are left out exactly when the client set {@link Nbd#FLAG_C_NO_ZEROES} (which
 * it may only do when the server offered {@link Nbd#FLAG_NO_ZEROES}). NBD_OPT_GO never sends them.
 *
 * <p>Immutable record; its codec methods are stateless. Thread-safe.
 *
 * @param exportSize        size of the export in bytes (unsigned)
 * @param transmissionFlags 16-bit transmission flags ({@link Nbd#FLAG_HAS_FLAGS} must be set)
 */
public record ExportNameReply(long exportSize, int transmissionFlags) {

    /** Size and flags. */
    public static final int SHORT_LENGTH = 10;
    /** Size, flags and the 124 zero bytes. */
    public static final int LONG_LENGTH = SHORT_LENGTH + 124;

    public ExportNameReply {
        Wire.checkU16(transmissionFlags, "transmission flags");
    }

    public static int encodedLength(boolean noZeroes) {
        return noZeroes ? SHORT_LENGTH : LONG_LENGTH;
    }

    /**
     * Writes the reply at {@code dst}'s position and advances it; IllegalArgumentException if it
     * does not fit. {@code noZeroes}: the client set C_NO_ZEROES.
     */
    public void encode(ByteBuffer dst, boolean noZeroes) {
        int n = encodedLength(noZeroes);
        Wire.requireRoom(dst, n, "export name reply");
        int p = dst.position();
        Wire.put64(dst, p, exportSize);
        Wire.put16(dst, p + 8, transmissionFlags);
        for (int i = SHORT_LENGTH; i < n; i++) {
            dst.put(p + i, (byte) 0);
        }
        dst.position(p + n);
    }

    /** The reply in a new heap buffer, ready to read. */
    public ByteBuffer encode(boolean noZeroes) {
        ByteBuffer b = ByteBuffer.allocate(encodedLength(noZeroes));
        encode(b, noZeroes);
        return b.flip();
    }

    /**
     * Client side: decodes the reply at {@code src}'s position. Null, consuming nothing, while
     * incomplete; otherwise consumes 10 or 134 bytes. The reserved bytes are not checked (they
     * carry no meaning), so this never throws.
     */
    public static ExportNameReply decode(ByteBuffer src, boolean noZeroes) {
        int n = encodedLength(noZeroes);
        if (src.remaining() < n) {
            return null;
        }
        int p = src.position();
        ExportNameReply r = new ExportNameReply(Wire.i64(src, p), Wire.u16(src, p + 8));
        src.position(p + n);
        return r;
    }
}
