package io.viperblock.nbd.protocol;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Objects;

/**
 * One option request, sent by the client during option haggling (fixed newstyle).
 *
 * <pre>
 * offset 0                  8          12         16
 *        +------------------+----------+----------+=================+
 *        |     IHAVEOPT     |  option  |  length  |      data       |
 *        | 49484156454f5054 |   u32    |   u32    |  length bytes   |
 *        +------------------+----------+----------+=================+
 * </pre>
 *
 * What the data holds depends on the option:
 * <ul>
 * <li>EXPORT_NAME: the export name, the whole data ({@link #parseExportName()});
 * <li>INFO, GO: see {@link ExportInfoRequest} ({@link #parseInfo()});
 * <li>LIST_META_CONTEXT, SET_META_CONTEXT: see {@link MetaContextRequest} ({@link #parseMetaContext()});
 * <li>ABORT: nothing, and the server ignores any data that comes anyway;
 * <li>LIST, STARTTLS, STRUCTURED_REPLY: nothing; the server SHOULD answer data with ERR_INVALID;
 * <li>any other option: opaque. The server answers it with ERR_UNSUP and reads on, which the
 *     length field makes possible.
 * </ul>
 *
 * <p>{@link #decode(ByteBuffer, int)} is incremental and checks the length against a bound before
 * it allocates anything.
 *
 * <p>Immutable record (the data array is copied in and out); its codec methods are stateless.
 * Thread-safe.
 *
 * @param option the option code, e.g. {@link Nbd#OPT_GO}
 * @param data   the option data (a copy)
 */
public record OptionRequest(int option, byte[] data) {

    /** Bytes before the data. */
    public static final int HEADER_LENGTH = 16;

    /**
     * Default bound on an option's data: 64 KiB. It is ample for every option the protocol defines
     * (an INFO/GO with a 4096-byte name and every info type asked for is 4 + 4096 + 2 + 8 bytes).
     */
    public static final int DEFAULT_MAX_DATA_LENGTH = 64 * 1024;

    public OptionRequest {
        data = Objects.requireNonNull(data, "data").clone();
    }

    /** An option without data. */
    public static OptionRequest of(int option) {
        return new OptionRequest(option, new byte[0]);
    }

    /** An NBD_OPT_EXPORT_NAME option (client side). */
    public static OptionRequest exportName(String name) {
        return new OptionRequest(Nbd.OPT_EXPORT_NAME, Wire.encodeName(name, "export name"));
    }

    /** The data, as a copy. */
    @Override
    public byte[] data() {
        return data.clone();
    }

    /** Number of data bytes. */
    public int dataLength() {
        return data.length;
    }

    /** The data as a read-only buffer, without a copy. */
    public ByteBuffer dataBuffer() {
        return ByteBuffer.wrap(data).asReadOnlyBuffer();
    }

    /** Bytes on the wire: header plus data. */
    public int encodedLength() {
        return HEADER_LENGTH + data.length;
    }

    /** Writes the option at {@code dst}'s position and advances it; IllegalArgumentException if it does not fit. */
    public void encode(ByteBuffer dst) {
        Wire.requireRoom(dst, encodedLength(), "option request");
        int p = dst.position();
        Wire.put64(dst, p, Nbd.IHAVEOPT);
        Wire.put32(dst, p + 8, option);
        Wire.put32(dst, p + 12, data.length);
        dst.put(p + HEADER_LENGTH, data);
        dst.position(p + encodedLength());
    }

    /** The option in a new heap buffer, ready to read. */
    public ByteBuffer encode() {
        ByteBuffer b = ByteBuffer.allocate(encodedLength());
        encode(b);
        return b.flip();
    }

    /**
     * Decodes one option request at {@code src}'s position.
     *
     * <ul>
     * <li>Returns null and consumes nothing while the frame is incomplete.
     * <li>Throws, consuming nothing, as soon as the first 8 bytes are there and are not IHAVEOPT,
     *     and as soon as the 16-byte header is there and its length exceeds {@code maxDataLength}:
     *     never waits for, nor allocates, an oversized frame.
     * <li>Otherwise consumes exactly the frame ({@code 16 + length} bytes) and returns it.
     * </ul>
     *
     * A frame is only returned once it is complete, so the caller's read buffer must hold at least
     * {@code 16 + maxDataLength} bytes.
     *
     * @param maxDataLength the largest data length accepted, 0 to {@code Integer.MAX_VALUE - 16}
     * @throws NbdProtocolException on a wrong magic or an oversized length; the server then closes
     */
    public static OptionRequest decode(ByteBuffer src, int maxDataLength) throws NbdProtocolException {
        if (maxDataLength < 0 || maxDataLength > Integer.MAX_VALUE - HEADER_LENGTH) {
            throw new IllegalArgumentException("maxDataLength out of range: " + maxDataLength);
        }
        int p = src.position();
        int available = src.remaining();
        if (available >= 8) {
            long magic = Wire.i64(src, p);
            if (magic != Nbd.IHAVEOPT) {
                throw new NbdProtocolException("bad option magic " + Wire.hex(magic, 16) + ", expected IHAVEOPT");
            }
        }
        if (available < HEADER_LENGTH) {
            return null;
        }
        int option = Wire.i32(src, p + 8);
        long length = Wire.u32(src, p + 12);
        if (length > maxDataLength) {
            throw new NbdProtocolException("option " + Nbd.optionName(option) + " has " + length
                    + " bytes of data, the limit is " + maxDataLength);
        }
        if (available - HEADER_LENGTH < length) {
            return null;
        }
        byte[] d = new byte[(int) length];
        src.get(p + HEADER_LENGTH, d);
        src.position(p + HEADER_LENGTH + d.length);
        return new OptionRequest(option, d);
    }

    /** Decodes with {@link #DEFAULT_MAX_DATA_LENGTH}. */
    public static OptionRequest decode(ByteBuffer src) throws NbdProtocolException {
        return decode(src, DEFAULT_MAX_DATA_LENGTH);
    }

    /**
     * The export name of an NBD_OPT_EXPORT_NAME (the whole data). The empty name selects the
     * default export.
     *
     * @throws InvalidOptionException if the data is not a protocol string (strict UTF-8, no NUL,
     *         at most 4096 bytes). NBD_OPT_EXPORT_NAME cannot be answered with an error: the
     *         server must terminate the session.
     * @throws IllegalStateException if this is another option
     */
    public String parseExportName() throws InvalidOptionException {
        requireOption(Nbd.OPT_EXPORT_NAME);
        String name = Wire.decodeString(data, 0, data.length);
        if (name == null) {
            throw new InvalidOptionException(option, "export name is not a valid string (UTF-8, no NUL, at most "
                    + Nbd.MAX_STRING_LENGTH + " bytes)");
        }
        return name;
    }

    /** The data of an NBD_OPT_INFO or NBD_OPT_GO; see {@link ExportInfoRequest#parse(OptionRequest)}. */
    public ExportInfoRequest parseInfo() throws InvalidOptionException {
        return ExportInfoRequest.parse(this);
    }

    /** The data of an NBD_OPT_LIST_META_CONTEXT or SET_META_CONTEXT; see {@link MetaContextRequest#parse(OptionRequest)}. */
    public MetaContextRequest parseMetaContext() throws InvalidOptionException {
        return MetaContextRequest.parse(this);
    }

    void requireOption(int... expected) {
        for (int e : expected) {
            if (option == e) {
                return;
            }
        }
        throw new IllegalStateException("not the right option for this parser: " + Nbd.optionName(option));
    }

    /** Package access to the data without a copy, for the payload parsers. */
    byte[] rawData() {
        return data;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof OptionRequest r && r.option == option && Arrays.equals(r.data, data);
    }

    @Override
    public int hashCode() {
        return 31 * option + Arrays.hashCode(data);
    }

    @Override
    public String toString() {
        return "OptionRequest[" + Nbd.optionName(option) + ", " + data.length + " bytes]";
    }
}
