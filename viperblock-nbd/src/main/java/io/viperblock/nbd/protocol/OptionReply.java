package io.viperblock.nbd.protocol;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Objects;

/**
 * One option reply, sent by the server during option haggling in answer to any option except
 * NBD_OPT_EXPORT_NAME (which gets an {@link ExportNameReply}). Some options get several replies;
 * the last one is ACK or an error, and the client sends nothing until it has that final reply.
 *
 * <pre>
 * offset 0                  8          12         16         20
 *        +------------------+----------+----------+----------+=================+
 *        |   reply magic    |  option  |   type   |  length  |      data       |
 *        | 0003e889045565a9 |   u32    |   u32    |   u32    |  length bytes   |
 *        +------------------+----------+----------+----------+=================+
 *
 * option: the option code the client sent.  type: REP_* (bit 31 set: an error).
 * </pre>
 *
 * Data by type (offsets relative to the start of the data):
 * <pre>
 * ACK            (no data)
 *
 * SERVER         +----------+================+====================+
 *                | name len |  export name   | description (opt.) |
 *                | u32 = N  |    N bytes     |  length-4-N bytes  |
 *                +----------+================+====================+
 *
 * INFO           +-----------+==========================+
 *                | info type |  information (length-2)  |
 *                |    u16    |                          |
 *                +-----------+==========================+
 *   INFO_EXPORT       0: +---------+------------------+-----------+   length = 12
 *                        | type=0  |   export size    |  tx flags |
 *                        |   u16   |       u64        |    u16    |
 *                        +---------+------------------+-----------+
 *   INFO_NAME         1: +---------+==================+              length = 2 + name
 *                        | type=1  |  canonical name  |
 *                        +---------+==================+
 *   INFO_DESCRIPTION  2: +---------+==================+              length = 2 + text
 *                        | type=2  |   description    |
 *                        +---------+==================+
 *   INFO_BLOCK_SIZE   3: +---------+----------+-----------+-----------+   length = 14
 *                        | type=3  | minimum  | preferred |  maximum  |
 *                        |   u16   |   u32    |    u32    |    u32    |
 *                        +---------+----------+-----------+-----------+
 *
 * META_CONTEXT   +------------+===================+
 *                | context id |   context name    |     length = 4 + name
 *                |    u32     |  length-4 bytes   |
 *                +------------+===================+
 *
 * ERR_*          +==============================+
 *                | optional message (UTF-8)     |     length = message bytes, may be 0
 *                +==============================+
 * </pre>
 *
 * <p>Immutable record (the data array is copied in and out); its codec methods are stateless.
 * Thread-safe.
 *
 * @param option    the option being answered
 * @param replyType the reply type, a {@code REP_*} value
 * @param data      the reply data (a copy)
 */
public record OptionReply(int option, int replyType, byte[] data) {

    /** Bytes before the data. */
    public static final int HEADER_LENGTH = 20;

    public OptionReply {
        data = Objects.requireNonNull(data, "data").clone();
    }

    // ------------------------------------------------------------------ factories (server side)

    /** NBD_REP_ACK: the option succeeded, or a list of replies is complete. */
    public static OptionReply ack(int option) {
        return new OptionReply(option, Nbd.REP_ACK, new byte[0]);
    }

    /** NBD_REP_SERVER: one export, in answer to NBD_OPT_LIST. {@code description} may be null. */
    public static OptionReply server(int option, String exportName, String description) {
        byte[] name = Wire.encodeName(exportName, "export name");
        byte[] desc = Wire.encodeMessage(description);
        ByteBuffer b = ByteBuffer.allocate(4 + name.length + desc.length);
        b.putInt(name.length).put(name).put(desc);
        return new OptionReply(option, Nbd.REP_SERVER, b.array());
    }

    /**
     * NBD_REP_INFO with NBD_INFO_EXPORT: the export's size and transmission flags. Mandatory
     * before the ACK of a successful INFO or GO. {@code exportSize} is unsigned.
     */
    public static OptionReply infoExport(int option, long exportSize, int transmissionFlags) {
        Wire.checkU16(transmissionFlags, "transmission flags");
        ByteBuffer b = ByteBuffer.allocate(12);
        b.putShort((short) Nbd.INFO_EXPORT).putLong(exportSize).putShort((short) transmissionFlags);
        return new OptionReply(option, Nbd.REP_INFO, b.array());
    }

    /** NBD_REP_INFO with NBD_INFO_NAME: the export's canonical name. */
    public static OptionReply infoName(int option, String canonicalName) {
        return infoString(option, Nbd.INFO_NAME, Wire.encodeName(canonicalName, "export name"));
    }

    /** NBD_REP_INFO with NBD_INFO_DESCRIPTION: text for a human (cut at 4096 UTF-8 bytes). */
    public static OptionReply infoDescription(int option, String description) {
        return infoString(option, Nbd.INFO_DESCRIPTION, Wire.encodeMessage(description));
    }

    private static OptionReply infoString(int option, int type, byte[] s) {
        ByteBuffer b = ByteBuffer.allocate(2 + s.length);
        b.putShort((short) type).put(s);
        return new OptionReply(option, Nbd.REP_INFO, b.array());
    }

    /**
     * NBD_REP_INFO with NBD_INFO_BLOCK_SIZE. The protocol's rules are enforced: minimum a power of
     * two from 1 to 65536; preferred a power of two at least max(minimum, 512); maximum at least
     * preferred and at most 0xFFFFFFFF (which means "no fixed limit").
     *
     * @throws IllegalArgumentException if a rule is broken
     */
    public static OptionReply infoBlockSize(int option, long minimum, long preferred, long maximum) {
        if (minimum < 1 || minimum > 65536 || Long.bitCount(minimum) != 1) {
            throw new IllegalArgumentException("minimum block size must be a power of two in [1, 65536]: " + minimum);
        }
        if (preferred < Math.max(minimum, 512) || preferred > 0xFFFF_FFFFL || Long.bitCount(preferred) != 1) {
            throw new IllegalArgumentException("preferred block size must be a power of two >= max(minimum, 512): "
                    + preferred);
        }
        if (maximum < preferred || maximum > 0xFFFF_FFFFL) {
            throw new IllegalArgumentException("maximum payload must be in [preferred, 0xffffffff]: " + maximum);
        }
        ByteBuffer b = ByteBuffer.allocate(14);
        b.putShort((short) Nbd.INFO_BLOCK_SIZE).putInt((int) minimum).putInt((int) preferred).putInt((int) maximum);
        return new OptionReply(option, Nbd.REP_INFO, b.array());
    }

    /**
     * NBD_REP_META_CONTEXT: one metadata context. For LIST_META_CONTEXT the id SHOULD be 0; for
     * SET_META_CONTEXT it is the id the BLOCK_STATUS chunks will carry. {@code contextId} is u32.
     */
    public static OptionReply metaContext(int option, int contextId, String contextName) {
        byte[] name = Wire.encodeName(contextName, "context name");
        ByteBuffer b = ByteBuffer.allocate(4 + name.length);
        b.putInt(contextId).put(name);
        return new OptionReply(option, Nbd.REP_META_CONTEXT, b.array());
    }

    /**
     * An error reply. {@code errorType} must have bit 31 set (an {@code REP_ERR_*} value).
     * {@code message} may be null; it is cut at 4096 UTF-8 bytes.
     */
    public static OptionReply error(int option, int errorType, String message) {
        if (!Nbd.isErrorReply(errorType)) {
            throw new IllegalArgumentException("not an error reply type: " + Nbd.replyTypeName(errorType));
        }
        return new OptionReply(option, errorType, Wire.encodeMessage(message));
    }

    // ------------------------------------------------------------------ accessors

    /** The data, as a copy. */
    @Override
    public byte[] data() {
        return data.clone();
    }

    /** The data as a read-only big-endian buffer, without a copy. */
    public ByteBuffer dataBuffer() {
        return ByteBuffer.wrap(data).asReadOnlyBuffer();
    }

    public int dataLength() {
        return data.length;
    }

    public boolean isError() {
        return Nbd.isErrorReply(replyType);
    }

    /** Bytes on the wire: header plus data. */
    public int encodedLength() {
        return HEADER_LENGTH + data.length;
    }

    // ------------------------------------------------------------------ codec

    /** Writes the reply at {@code dst}'s position and advances it; IllegalArgumentException if it does not fit. */
    public void encode(ByteBuffer dst) {
        Wire.requireRoom(dst, encodedLength(), "option reply");
        int p = dst.position();
        Wire.put64(dst, p, Nbd.OPTION_REPLY_MAGIC);
        Wire.put32(dst, p + 8, option);
        Wire.put32(dst, p + 12, replyType);
        Wire.put32(dst, p + 16, data.length);
        dst.put(p + HEADER_LENGTH, data);
        dst.position(p + encodedLength());
    }

    /** The reply in a new heap buffer, ready to read. */
    public ByteBuffer encode() {
        ByteBuffer b = ByteBuffer.allocate(encodedLength());
        encode(b);
        return b.flip();
    }

    /**
     * Client side: decodes one option reply at {@code src}'s position. Returns null, consuming
     * nothing, while the frame is incomplete; throws, consuming nothing, on a wrong magic (once 8
     * bytes are there) or a length above {@code maxDataLength} (once the 20-byte header is there);
     * otherwise consumes exactly the frame. The data is not interpreted.
     */
    public static OptionReply decode(ByteBuffer src, int maxDataLength) throws NbdProtocolException {
        if (maxDataLength < 0 || maxDataLength > Integer.MAX_VALUE - HEADER_LENGTH) {
            throw new IllegalArgumentException("maxDataLength out of range: " + maxDataLength);
        }
        int p = src.position();
        int available = src.remaining();
        if (available >= 8) {
            long magic = Wire.i64(src, p);
            if (magic != Nbd.OPTION_REPLY_MAGIC) {
                throw new NbdProtocolException("bad option reply magic " + Wire.hex(magic, 16));
            }
        }
        if (available < HEADER_LENGTH) {
            return null;
        }
        int option = Wire.i32(src, p + 8);
        int type = Wire.i32(src, p + 12);
        long length = Wire.u32(src, p + 16);
        if (length > maxDataLength) {
            throw new NbdProtocolException("option reply " + Nbd.replyTypeName(type) + " has " + length
                    + " bytes of data, the limit is " + maxDataLength);
        }
        if (available - HEADER_LENGTH < length) {
            return null;
        }
        byte[] d = new byte[(int) length];
        src.get(p + HEADER_LENGTH, d);
        src.position(p + HEADER_LENGTH + d.length);
        return new OptionReply(option, type, d);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof OptionReply r && r.option == option && r.replyType == replyType
                && Arrays.equals(r.data, data);
    }

    @Override
    public int hashCode() {
        return (31 * option + replyType) * 31 + Arrays.hashCode(data);
    }

    @Override
    public String toString() {
        return "OptionReply[" + Nbd.optionName(option) + ", " + Nbd.replyTypeName(replyType) + ", "
                + data.length + " bytes]";
    }
}
