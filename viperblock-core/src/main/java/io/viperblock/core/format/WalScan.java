package io.viperblock.core.format;

import io.viperblock.core.io.FsFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * Reads the records of a WAL segment (layout in {@link WalRecord}) for replay, checking each one
 * completely before handing it to the visitor:
 *
 * <ol>
 *   <li>an all-zero 32-byte header is a problem ("zero-filled tail"), as is a header cut off by
 *       the end of the file ("truncated record header");</li>
 *   <li>type, block count and payload length are checked against each other before anything is
 *       read on their account, so a damaged length never causes a large allocation or read;</li>
 *   <li>a record reaching past the end of the file is a problem ("truncated record");</li>
 *   <li>the CRC32C over header bytes [4, 32) and the payload is verified, the payload read in
 *       pieces of at most 1 MiB through one reused buffer;</li>
 *   <li>reserved bytes zero, seq >= 1 and above the previous record's seq (and the {@code minSeq}
 *       given), block range not overflowing.</li>
 * </ol>
 *
 * The scan stops at the first problem and reports it with its offset in the {@link ScanResult};
 * whether that is a torn tail (the last segment: truncate at {@code endOfValidData}) or
 * corruption (any other segment: refuse to open) is for the caller to decide.
 *
 * <p>Stateless, hence thread-safe; each scan uses its own buffers.
 */
public final class WalScan {
    /** The problem of a scan that stops at a 32-byte header of zeros (or fewer bytes, all zero). */
    public static final String ZERO_FILLED_TAIL = "zero-filled tail";

    /** Size of the buffer payloads are checksummed through. */
    static final int READ_BUFFER = 1 << 20;

    private WalScan() {}

    /** Receives each record that passed every check, in file order. */
    @FunctionalInterface
    public interface Visitor {
        /**
         * @param type            {@link WalRecord#WRITE}, {@link WalRecord#ZERO} or {@link WalRecord#TRIM}
         * @param payloadPosition file offset of the payload (the record starts 32 bytes earlier)
         * @param recordLength    32 + payload length
         */
        void record(int type, long seq, long firstBlock, int count, long payloadPosition, long recordLength)
                throws IOException;
    }

    /**
     * How a scan ended.
     *
     * @param endOfValidData offset just past the last good record (where the next record would go)
     * @param records        number of good records visited
     * @param lastSeq        seq of the last good record, 0 if none
     * @param problem        null if the file ended exactly at a record boundary, else what is
     *                       wrong with the record at {@code problemOffset}
     * @param problemOffset  offset of the bad record (equal to endOfValidData), -1 if no problem
     */
    public record ScanResult(long endOfValidData, long records, long lastSeq, String problem, long problemOffset) {
        /** True if the file ended cleanly at a record boundary. */
        public boolean clean() {
            return problem == null;
        }

        /**
         * The problem as an exception naming {@code source} and the offset, for a caller that
         * refuses the segment; null if the scan ended cleanly.
         */
        public CorruptFormatException toException(String source) {
            return problem == null ? null : new CorruptFormatException("WAL segment", source, problem, problemOffset);
        }
    }

    /** {@link #scan(FsFile, String, long, long, Visitor)} with no lower bound on the first seq. */
    public static ScanResult scan(FsFile file, String source, long startOffset, Visitor visitor) throws IOException {
        return scan(file, source, startOffset, 1, visitor);
    }

    /**
     * Scans the records of {@code file} from {@code startOffset} (normally
     * {@link WalHeader#LENGTH}) to the end of the file as it is when the scan starts.
     *
     * @param source  the file's path (the result's problem text does not repeat it; see
     *                {@link ScanResult#toException(String)})
     * @param minSeq  the first record's seq must be at least this (e.g. the header's first seq)
     * @throws IOException only if reading the file fails or the visitor throws; bad data is
     *                     reported in the result
     */
    public static ScanResult scan(FsFile file, String source, long startOffset, long minSeq, Visitor visitor)
            throws IOException {
        if (startOffset < 0) {
            throw new IllegalArgumentException("negative start offset " + startOffset);
        }
        long size = file.size();
        if (startOffset > size) {
            return new ScanResult(size, 0, 0,
                    "file is shorter (" + size + " bytes) than the start offset " + startOffset + "", size);
        }
        // One large read serves many records (replay is bound by read calls, not bytes, for
        // small records); each record is still checked whole before the visitor sees it.
        Window window = new Window(file);
        CRC32C crc = new CRC32C();
        long offset = startOffset;
        long records = 0;
        long lastSeq = 0;
        while (offset < size) {
            String problem = null;
            int h = window.at(offset, WalRecord.RECORD_HEADER);
            if (h < 0) {
                int got = window.available(offset);
                problem = Formats.allZero(window.buf, window.index(offset), window.index(offset) + got) ? ZERO_FILLED_TAIL : "truncated record header";
                return result(offset, records, lastSeq, problem);
            }
            ByteBuffer header = window.buf.slice(h, WalRecord.RECORD_HEADER).order(ByteOrder.BIG_ENDIAN);
            if (Formats.allZero(header, 0, WalRecord.RECORD_HEADER)) {
                return result(offset, records, lastSeq, ZERO_FILLED_TAIL);
            }
            int stored = header.getInt(0);
            int type = header.get(4) & 0xff;
            long seq = header.getLong(8);
            long firstBlock = header.getLong(16);
            int count = header.getInt(24);
            long payloadLength = Integer.toUnsignedLong(header.getInt(28));
            problem = WalRecord.checkShape(type, count, payloadLength);
            if (problem != null) {
                return result(offset, records, lastSeq, problem);
            }
            long recordLength = WalRecord.RECORD_HEADER + payloadLength;
            if (recordLength > size - offset) {
                return result(offset, records, lastSeq, "truncated record: " + WalRecord.typeName(type) + " of "
                        + recordLength + " bytes, " + (size - offset) + " left in the file");
            }
            crc.reset();
            crc.update(header.slice(4, WalRecord.RECORD_HEADER - 4));
            // copy what the checks below need: reading the payload may move the window
            boolean reservedZero = Formats.allZero(header, 5, 8);
            long pos = offset + WalRecord.RECORD_HEADER;
            long left = payloadLength;
            while (left > 0) {
                int piece = (int) Math.min(left, READ_BUFFER);
                int at = window.at(pos, piece);
                if (at < 0) { // the file shrank under us
                    return result(offset, records, lastSeq, "truncated record: payload cut off at "
                            + (pos + window.available(pos)));
                }
                crc.update(window.buf.slice(at, piece));
                pos += piece;
                left -= piece;
            }
            int computed = (int) crc.getValue();
            if (computed != stored) {
                return result(offset, records, lastSeq, "bad record checksum (stored " + Formats.hex32(stored)
                        + ", computed " + Formats.hex32(computed) + ")");
            }
            if (!reservedZero) {
                return result(offset, records, lastSeq, "nonzero reserved bytes");
            }
            problem = WalRecord.checkRange(seq, firstBlock, count);
            if (problem != null) {
                return result(offset, records, lastSeq, problem);
            }
            if (seq <= lastSeq) {
                return result(offset, records, lastSeq, "seq " + seq + " does not follow seq " + lastSeq);
            }
            if (seq < minSeq) {
                return result(offset, records, lastSeq, "seq " + seq + " is below the segment's first seq "
                        + minSeq);
            }
            visitor.record(type, seq, firstBlock, count, offset + WalRecord.RECORD_HEADER, recordLength);
            records++;
            lastSeq = seq;
            offset += recordLength;
        }
        return new ScanResult(offset, records, lastSeq, null, -1);
    }

    /**
     * A read-ahead window over the file: bytes [start, start + length) are in {@code buf}.
     * Confined to one scan.
     */
    private static final class Window {
        final FsFile file;
        final ByteBuffer buf = ByteBuffer.allocate(READ_BUFFER);
        long start = -1;
        int length;

        Window(FsFile file) {
            this.file = file;
        }

        /** Makes [offset, offset + n) available (n <= buffer size); its index in buf, or -1 if the file ends first. */
        int at(long offset, int n) throws IOException {
            if (start < 0 || offset < start || offset + n > start + length) {
                buf.clear();
                WalHeader.readFully(file, buf, offset);
                start = offset;
                length = buf.position();
            }
            return offset + n <= start + length ? (int) (offset - start) : -1;
        }

        /** Bytes available from offset (after a failed {@link #at}, the ones before the end). */
        int available(long offset) {
            return (int) Math.max(0, start + length - offset);
        }

        int index(long offset) {
            return (int) (offset - start);
        }
    }

    private static ScanResult result(long offset, long records, long lastSeq, String problem) {
        return new ScanResult(offset, records, lastSeq, problem, offset);
    }
}
