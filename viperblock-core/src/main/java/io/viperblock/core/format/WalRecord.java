package io.viperblock.core.format;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * Encoding of the records that follow the {@link WalHeader} in a WAL segment: a 32-byte record
 * header, then the payload. Records are written back to back; {@link WalScan} reads them.
 *
 * <pre>
 * offset  size
 * +------+----+------------------------------------------------------------+
 * |    0 |  4 | CRC32C of bytes [4, 32 + payload length): the rest of the  |
 * |      |    | header and the payload                                     |
 * |    4 |  1 | type: 1 = WRITE, 2 = ZERO, 3 = TRIM                        |
 * |    5 |  3 | reserved, zero                                             |
 * |    8 |  8 | seq (>= 1, strictly increasing within a segment)           |
 * |   16 |  8 | first block number (>= 0)                                  |
 * |   24 |  4 | block count: WRITE 1..1024, ZERO/TRIM 1..2^31-1            |
 * |   28 |  4 | payload length: WRITE count*4096, ZERO/TRIM 0              |
 * |   32 |  . | payload: the blocks' data, for WRITE                       |
 * +------+----+------------------------------------------------------------+
 * </pre>
 *
 * first block + count must not exceed 2^63-1; whether the range lies inside the volume is for
 * the caller to check.
 *
 * <p>Stateless, hence thread-safe.
 */
public final class WalRecord {

    /** Size of a record header. */
    public static final int RECORD_HEADER = 32;
    /** Most blocks in one WRITE record (4 MiB of payload). */
    public static final int MAX_WRITE_BLOCKS = 1024;
    /** Largest payload of any record. */
    public static final int MAX_PAYLOAD = MAX_WRITE_BLOCKS * Formats.BLOCK_SIZE;

    /** Data for {@code count} blocks follows. */
    public static final int WRITE = 1;
    /** The blocks read as zeros from now on (and stay allocated). */
    public static final int ZERO = 2;
    /** The blocks were discarded: they read as zeros and need no storage. */
    public static final int TRIM = 3;

    private WalRecord() {}

    /**
     * Writes the 32-byte record header at {@code dst32}'s position, advancing it by 32, with the
     * CRC32C computed over header bytes [4, 32) and the remaining bytes of {@code payloadOrNull}.
     * The payload is not copied and its position is not changed; the caller writes it right after
     * the header.
     *
     * @param payloadOrNull for WRITE exactly {@code count * 4096} bytes remaining; for ZERO and
     *                      TRIM null or empty
     * @throws IllegalArgumentException if any argument breaks the rules in the class comment
     */
    public static void encodeRecordHeader(ByteBuffer dst32, int type, long seq, long firstBlock, int count,
                                          ByteBuffer payloadOrNull) {
        int payloadLength = payloadOrNull == null ? 0 : payloadOrNull.remaining();
        encodeRecordHeader(dst32, type, seq, firstBlock, count, payloadLength, payloadLength == 0 ? 0 : Crc32c.of(payloadOrNull));
    }

    /**
     * As {@link #encodeRecordHeader(ByteBuffer, int, long, long, int, ByteBuffer)}, for a payload
     * of {@code payloadLength} bytes whose CRC32C the caller has computed (0 for none): the
     * header's CRC is combined with it ({@link Crc32c#combine}), the payload is not read.
     */
    public static void encodeRecordHeader(ByteBuffer dst32, int type, long seq, long firstBlock, int count,
                                          int payloadLength, int payloadCrc) {
        String bad = check(type, seq, firstBlock, count, payloadLength);
        if (bad != null) {
            throw new IllegalArgumentException(bad);
        }
        if (dst32.remaining() < RECORD_HEADER) {
            throw new IllegalArgumentException("need " + RECORD_HEADER + " bytes, have " + dst32.remaining());
        }
        ByteBuffer h = dst32.slice(dst32.position(), RECORD_HEADER).order(ByteOrder.BIG_ENDIAN);
        h.putInt(4, type << 24) // type byte, then three reserved zero bytes
                .putLong(8, seq)
                .putLong(16, firstBlock)
                .putInt(24, count)
                .putInt(28, payloadLength);
        CRC32C crc = new CRC32C();
        crc.update(h.duplicate().position(4));
        h.putInt(0, Crc32c.combine((int) crc.getValue(), payloadCrc, payloadLength));
        dst32.position(dst32.position() + RECORD_HEADER);
    }

    /** The payload length a record of this type and count must have. */
    public static long payloadLength(int type, int count) {
        return type == WRITE ? (long) count * Formats.BLOCK_SIZE : 0;
    }

    /** Human name of a record type, for messages. */
    public static String typeName(int type) {
        return switch (type) {
            case WRITE -> "WRITE";
            case ZERO -> "ZERO";
            case TRIM -> "TRIM";
            default -> "type " + type;
        };
    }

    /**
     * Null if a record of these fields is valid (whatever its sequence number), else what is
     * wrong: for a writer to refuse a record before it joins a group commit.
     */
    public static String problem(int type, long firstBlock, int count, long payloadLength) {
        return check(type, 1, firstBlock, count, payloadLength);
    }

    /** Null if the fields make a valid record, else what is wrong. */
    static String check(int type, long seq, long firstBlock, int count, long payloadLength) {
        String structural = checkShape(type, count, payloadLength);
        if (structural != null) {
            return structural;
        }
        return checkRange(seq, firstBlock, count);
    }

    /** The checks that bound the record's length: type, count, payload length. */
    static String checkShape(int type, int count, long payloadLength) {
        if (type != WRITE && type != ZERO && type != TRIM) {
            return "bad record type " + type;
        }
        if (count < 1 || (type == WRITE && count > MAX_WRITE_BLOCKS)) {
            return "bad block count " + Integer.toUnsignedString(count) + " for " + typeName(type);
        }
        if (payloadLength != payloadLength(type, count)) {
            return "bad payload length " + payloadLength + " for " + typeName(type) + " of " + count
                    + " blocks (expected " + payloadLength(type, count) + ")";
        }
        return null;
    }

    /** The checks on seq and block range. */
    static String checkRange(long seq, long firstBlock, int count) {
        if (seq < 1) {
            return "bad seq " + seq;
        }
        if (firstBlock < 0 || firstBlock > Long.MAX_VALUE - count) {
            return "bad block range: first block " + firstBlock + ", count " + count;
        }
        return null;
    }
}
