package io.viperblock.core.format;

import io.viperblock.core.io.FsFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Objects;
import java.util.UUID;

/**
 * The 64-byte header at offset 0 of every WAL segment file {@code <firstSeq 16 hex>.wal}.
 * Records ({@link WalRecord}) follow from offset 64.
 *
 * <pre>
 * offset  size
 * +------+----+------------------------------------------------------------+
 * |    0 |  8 | magic "VBWALSEG" (ASCII)                                   |
 * |    8 |  4 | version = 1                                                |
 * |   12 |  4 | header length = 64                                         |
 * |   16 |  8 | volume id, high 64 bits (UUID msb)                         |
 * |   24 |  8 | volume id, low 64 bits (UUID lsb)                          |
 * |   32 |  8 | first seq of the segment (>= 1)                            |
 * |   40 |  8 | writer epoch (>= 0)                                        |
 * |   48 |  8 | synced length: bytes [0, this) were fsynced (0 = unknown)  |
 * |   56 |  4 | reserved, zero                                             |
 * |   60 |  4 | CRC32C of bytes [0, 60)                                    |
 * +------+----+------------------------------------------------------------+
 * </pre>
 *
 * The header is written and fsynced when the segment is created, with synced length 0, and
 * rewritten with the segment's whole length at the seal and at the close, each after an
 * fdatasync. In between, after each fdatasync of the active segment, the writer writes a copy of
 * this header with the length that fdatasync covered to the WAL's sync mark
 * ({@link Formats#WAL_SYNC_MARK}), a file of its own, so that the fdatasyncs of the records do
 * not also write this page. Whatever value of either survives a crash is a length that was
 * fsynced, and replay treats damage below the larger one that names the segment as corruption of
 * flushed records rather than as a torn tail.
 *
 * <p>Decoding checks, in this order: length, magic, version, header length, checksum, then the
 * fields (first seq >= 1, epoch >= 0, synced length 0 or >= 64, reserved bytes zero).
 *
 * <p>Immutable, hence thread-safe.
 */
public record WalHeader(UUID volumeId, long firstSeq, long epoch, long syncedLength) {

    /** Size of the header, and the offset of the first record. */
    public static final int LENGTH = 64;
    private static final int CRC_OFFSET = 60;
    private static final String KIND = "WAL segment";

    public WalHeader {
        Objects.requireNonNull(volumeId, "volumeId");
        if (firstSeq < 1) {
            throw new IllegalArgumentException("first seq must be >= 1: " + firstSeq);
        }
        if (epoch < 0) {
            throw new IllegalArgumentException("epoch must be >= 0: " + epoch);
        }
        if (syncedLength != 0 && syncedLength < LENGTH) {
            throw new IllegalArgumentException("synced length must be 0 or >= " + LENGTH + ": " + syncedLength);
        }
    }

    /** A new segment's header: nothing synced yet. */
    public WalHeader(UUID volumeId, long firstSeq, long epoch) {
        this(volumeId, firstSeq, epoch, 0);
    }

    /** This header with {@code length} as the synced length. */
    public WalHeader withSyncedLength(long length) {
        return new WalHeader(volumeId, firstSeq, epoch, length);
    }

    /** The 64 header bytes in a new heap buffer (position 0, limit 64). */
    public ByteBuffer encode() {
        ByteBuffer b = ByteBuffer.allocate(LENGTH);
        encode(b);
        return b.flip();
    }

    /** Writes the 64 header bytes at {@code dst}'s position, advancing it by 64. */
    public void encode(ByteBuffer dst) {
        if (dst.remaining() < LENGTH) {
            throw new IllegalArgumentException("need " + LENGTH + " bytes, have " + dst.remaining());
        }
        ByteBuffer b = dst.slice().order(ByteOrder.BIG_ENDIAN);
        b.putLong(0, Formats.WAL_MAGIC)
                .putInt(8, Formats.WAL_VERSION)
                .putInt(12, LENGTH)
                .putLong(16, volumeId.getMostSignificantBits())
                .putLong(24, volumeId.getLeastSignificantBits())
                .putLong(32, firstSeq)
                .putLong(40, epoch)
                .putLong(48, syncedLength);
        for (int i = 56; i < CRC_OFFSET; i++) {
            b.put(i, (byte) 0);
        }
        b.putInt(CRC_OFFSET, Formats.crc32c(b, 0, CRC_OFFSET));
        dst.position(dst.position() + LENGTH);
    }

    /**
     * Decodes and checks the header at {@code src}'s position (which is taken to be file offset 0),
     * advancing the position by 64 on success only.
     *
     * @param source the file's path, for messages
     */
    public static WalHeader decode(ByteBuffer src, String source) throws CorruptFormatException {
        if (src.remaining() < LENGTH) {
            throw new CorruptFormatException(KIND, source, "truncated header: " + src.remaining()
                    + " of " + LENGTH + " bytes", 0);
        }
        ByteBuffer b = src.slice().order(ByteOrder.BIG_ENDIAN);
        long magic = b.getLong(0);
        if (magic != Formats.WAL_MAGIC) {
            throw new CorruptFormatException(KIND, source, "bad magic", 0,
                    "found " + Formats.describeMagic(magic) + ", expected \"VBWALSEG\"");
        }
        int version = b.getInt(8);
        if (version != Formats.WAL_VERSION) {
            throw new CorruptFormatException(KIND, source, "unsupported version " + version, 8,
                    "this build reads version " + Formats.WAL_VERSION);
        }
        int headerLength = b.getInt(12);
        if (headerLength != LENGTH) {
            throw new CorruptFormatException(KIND, source, "bad header length " + headerLength, 12,
                    "expected " + LENGTH);
        }
        int stored = b.getInt(CRC_OFFSET);
        int computed = Formats.crc32c(b, 0, CRC_OFFSET);
        if (stored != computed) {
            throw new CorruptFormatException(KIND, source, "bad header checksum", CRC_OFFSET,
                    "stored " + Formats.hex32(stored) + ", computed " + Formats.hex32(computed));
        }
        long firstSeq = b.getLong(32);
        if (firstSeq < 1) {
            throw new CorruptFormatException(KIND, source, "bad first seq " + firstSeq, 32);
        }
        long epoch = b.getLong(40);
        if (epoch < 0) {
            throw new CorruptFormatException(KIND, source, "bad epoch " + epoch, 40);
        }
        long synced = b.getLong(48);
        if (synced != 0 && synced < LENGTH) {
            throw new CorruptFormatException(KIND, source, "bad synced length " + synced, 48);
        }
        if (!Formats.allZero(b, 56, CRC_OFFSET)) {
            throw new CorruptFormatException(KIND, source, "nonzero reserved bytes", 56);
        }
        src.position(src.position() + LENGTH);
        return new WalHeader(new UUID(b.getLong(16), b.getLong(24)), firstSeq, epoch, synced);
    }

    /**
     * Reads and decodes the header at offset 0 of {@code file}; a file shorter than 64 bytes is
     * reported as a truncated header.
     */
    public static WalHeader read(FsFile file, String source) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(LENGTH);
        readFully(file, b, 0);
        b.flip();
        return decode(b, source);
    }

    /** Reads until {@code dst} is full or the file ends. */
    static void readFully(FsFile file, ByteBuffer dst, long position) throws IOException {
        while (dst.hasRemaining()) {
            int n = file.read(dst, position);
            if (n <= 0) {
                return;
            }
            position += n;
        }
    }
}
