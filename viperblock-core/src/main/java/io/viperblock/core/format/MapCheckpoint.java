package io.viperblock.core.format;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.WritableByteChannel;
import java.util.Objects;
import java.util.zip.CRC32C;

/**
 * A map checkpoint object {@code volumes/<vol>/map/<ckptSeq 16 hex>.ckpt}: the whole block map
 * at one point (every delta up to {@code lastDeltaSeq} applied), as a sorted list of DATA
 * extents, with the table of every chunk those extents use. This record holds the header; the
 * chunks and extents are streamed by {@link Writer} and {@link #decode} (a checkpoint of 10M
 * extents is 320 MB, so no list of objects is ever built).
 *
 * <pre>
 * header (80 bytes)
 * +------+----+------------------------------------------------------------+
 * |    0 |  8 | magic "VBCKPT01" (ASCII)                                   |
 * |    8 |  4 | version = 1                                                |
 * |   12 |  4 | header length = 80                                         |
 * |   16 |  8 | checkpoint seq (>= 1), as in the object key                |
 * |   24 |  8 | last delta seq included (>= 0; 0 = none)                   |
 * |   32 |  8 | wal covered seq: every WAL record with seq &lt;= this is in   |
 * |      |    | the map (>= 0)                                             |
 * |   40 |  8 | max seq used: the highest seq the volume had used (>= 0)   |
 * |   48 |  8 | writer epoch (>= 0)                                        |
 * |   56 |  4 | chunk count c (unsigned)                                   |
 * |   60 |  8 | entry count e (>= 0)                                       |
 * |   68 | 12 | reserved, zero                                             |
 * +------+----+------------------------------------------------------------+
 * then c chunk refs (12 bytes each), at 80 + 12*i, chunk seq strictly ascending
 * +------+----+------------------------------------------------------------+
 * |    0 |  8 | chunk seq (>= 1)                                           |
 * |    8 |  4 | block count of that chunk (1..2^18; version 1: 1..1024)    |
 * +------+----+------------------------------------------------------------+
 * then e entries (32 bytes each), at 80 + 12*c + 32*i: all DATA, sorted by start block,
 * not overlapping, each in a chunk of the table
 * +------+----+------------------------------------------------------------+
 * |    0 |  1 | kind = 1 (DATA)                                            |
 * |    1 |  3 | reserved, zero                                             |
 * |    4 |  4 | chunk offset: index of the first block within the chunk    |
 * |    8 |  8 | start block (>= end of the previous entry)                 |
 * |   16 |  8 | length in blocks (>= 1; chunk offset + length &lt;= the       |
 * |      |    | chunk's block count)                                       |
 * |   24 |  8 | chunk seq (in the chunk table)                             |
 * +------+----+------------------------------------------------------------+
 * then the trailer, at 80 + 12*c + 32*e
 * +------+----+------------------------------------------------------------+
 * |    0 |  4 | CRC32C of every byte before it                             |
 * +------+----+------------------------------------------------------------+
 * object size = 80 + 12*c + 32*e + 4
 * </pre>
 *
 * <p>Immutable, hence thread-safe. (A {@link Writer} is used by one thread.)
 *
 * @param chunkCount number of chunk refs, 0..2^32-1
 * @param entryCount number of extents
 */
public record MapCheckpoint(long ckptSeq, long lastDeltaSeq, long walCoveredSeq, long maxSeqUsed, long epoch,
                            long chunkCount, long entryCount) {

    public static final int HEADER_LENGTH = 80;
    private static final String KIND = "map checkpoint";

    public MapCheckpoint {
        String p = headerProblem(ckptSeq, lastDeltaSeq, walCoveredSeq, maxSeqUsed, epoch, chunkCount, entryCount);
        if (p != null) {
            throw new IllegalArgumentException(p);
        }
    }

    /** Size of a checkpoint object with {@code c} chunk refs and {@code e} extents. */
    public static long objectSize(long c, long e) {
        return Math.addExact(Math.addExact(HEADER_LENGTH + MapDelta.TRAILER_LENGTH,
                Math.multiplyExact(c, MapDelta.CHUNK_REF_LENGTH)), Math.multiplyExact(e, MapDelta.ENTRY_LENGTH));
    }

    /** Size of this checkpoint's object. */
    public long objectSize() {
        return objectSize(chunkCount, entryCount);
    }

    /** Receives a decoded checkpoint, which has passed every check before the first call. */
    public interface Visitor {
        /** Called first, with the header. */
        default void begin(MapCheckpoint header) {}

        /** Called for each chunk ref, in ascending chunk seq order, before any extent. */
        void chunk(long chunkSeq, int blockCount);

        /** Called for each extent, in ascending start block order. */
        void extent(long startBlock, long length, long chunkSeq, int chunkOffset);
    }

    /** {@link #decode(ByteBuffer, long, String, Visitor)} without checking the checkpoint seq. */
    public static MapCheckpoint decode(ByteBuffer src, String source, Visitor visitor) throws CorruptFormatException {
        return decode(src, -1, source, visitor);
    }

    /**
     * Checks the remaining bytes of {@code src} (position unchanged) as a whole checkpoint object
     * — size, checksum, header fields, chunk table order, every extent's kind, order and fit in
     * its chunk — and only then, if all is well, passes its contents to {@code visitor}. The
     * object is read twice and nothing proportional to its size is allocated.
     *
     * @param expectedCkptSeq the seq from the object key, or -1 not to check it
     * @param source          the object key, for messages
     * @return the header
     */
    public static MapCheckpoint decode(ByteBuffer src, long expectedCkptSeq, String source, Visitor visitor)
            throws CorruptFormatException {
        ByteBuffer b = src.slice().order(ByteOrder.BIG_ENDIAN);
        int size = b.remaining();
        if (size < HEADER_LENGTH + MapDelta.TRAILER_LENGTH) {
            throw new CorruptFormatException(KIND, source, "truncated object: " + size + " bytes", 0,
                    "at least " + (HEADER_LENGTH + MapDelta.TRAILER_LENGTH) + " expected");
        }
        MapDelta.checkMagicVersionLength(b, Formats.CKPT_MAGIC, Formats.CKPT_VERSION, HEADER_LENGTH, KIND, source);
        long c = Integer.toUnsignedLong(b.getInt(56));
        long e = b.getLong(60);
        if (e < 0 || e > Long.MAX_VALUE / 64 || size != objectSize(c, e)) {
            throw new CorruptFormatException(KIND, source, "object size " + size + " does not match " + c
                    + " chunks and " + e + " entries", 56,
                    e < 0 || e > Long.MAX_VALUE / 64 ? null : "expected size " + objectSize(c, e));
        }
        MapDelta.checkCrc(b, KIND, source);
        long ckptSeq = b.getLong(16);
        String p = headerProblem(ckptSeq, b.getLong(24), b.getLong(32), b.getLong(40), b.getLong(48), c, e);
        if (p != null) {
            throw new CorruptFormatException(KIND, source, p, 16);
        }
        if (expectedCkptSeq != -1 && ckptSeq != expectedCkptSeq) {
            throw new CorruptFormatException(KIND, source, "checkpoint seq " + ckptSeq + " does not match its name",
                    16, "expected " + expectedCkptSeq);
        }
        if (!Formats.allZero(b, 68, HEADER_LENGTH)) {
            throw new CorruptFormatException(KIND, source, "nonzero reserved bytes", 68);
        }
        MapCheckpoint header = new MapCheckpoint(ckptSeq, b.getLong(24), b.getLong(32), b.getLong(40), b.getLong(48), c, e);

        // pass 1: check everything
        int table = HEADER_LENGTH;
        int n = (int) c;
        long prevSeq = 0;
        for (int i = 0, at = table; i < n; i++, at += MapDelta.CHUNK_REF_LENGTH) {
            long seq = b.getLong(at);
            p = MapDelta.chunkRefProblem(seq, b.getInt(at + 8));
            if (p == null && seq <= prevSeq) {
                p = "chunk seq " + seq + " does not follow " + prevSeq;
            }
            if (p != null) {
                throw new CorruptFormatException(KIND, source, p + " in chunk ref " + i, at);
            }
            prevSeq = seq;
        }
        int entries = table + n * MapDelta.CHUNK_REF_LENGTH;
        long prevEnd = 0;
        int hint = 0;
        for (long i = 0; i < e; i++) {
            int at = entries + (int) i * MapDelta.ENTRY_LENGTH;
            int kind = b.get(at) & 0xff;
            int chunkOffset = b.getInt(at + 4);
            long start = b.getLong(at + 8);
            long length = b.getLong(at + 16);
            long chunkSeq = b.getLong(at + 24);
            p = kind != MapDelta.DATA ? "entry kind " + kind + " (only DATA is allowed)"
                    : !Formats.allZero(b, at + 1, at + 4) ? "nonzero reserved bytes"
                    : MapDelta.entryProblem(kind, start, length, chunkSeq, chunkOffset);
            if (p == null && start < prevEnd) {
                p = "extent at block " + start + " overlaps or precedes the previous one, which ends at " + prevEnd;
            }
            if (p == null) {
                int k = findChunk(b, table, n, chunkSeq, hint);
                if (k < 0) {
                    p = "chunk " + chunkSeq + " is not in the chunk table";
                } else {
                    hint = k;
                    int blocks = b.getInt(table + k * MapDelta.CHUNK_REF_LENGTH + 8);
                    if (chunkOffset + length > blocks) {
                        p = "extent reaches past the end of chunk " + chunkSeq + " of " + blocks
                                + " blocks: chunk offset " + chunkOffset + ", length " + length;
                    }
                }
            }
            if (p != null) {
                throw new CorruptFormatException(KIND, source, p + " in entry " + i, at);
            }
            prevEnd = start + length;
        }

        // pass 2: hand over
        visitor.begin(header);
        for (int i = 0, at = table; i < n; i++, at += MapDelta.CHUNK_REF_LENGTH) {
            visitor.chunk(b.getLong(at), b.getInt(at + 8));
        }
        for (long i = 0; i < e; i++) {
            int at = entries + (int) i * MapDelta.ENTRY_LENGTH;
            visitor.extent(b.getLong(at + 8), b.getLong(at + 16), b.getLong(at + 24), b.getInt(at + 4));
        }
        return header;
    }

    /** Index of {@code seq} in the sorted chunk table, or -1; tries {@code hint} first. */
    private static int findChunk(ByteBuffer b, int table, int n, long seq, int hint) {
        if (hint < n && b.getLong(table + hint * MapDelta.CHUNK_REF_LENGTH) == seq) {
            return hint;
        }
        int lo = 0;
        int hi = n - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            long s = b.getLong(table + mid * MapDelta.CHUNK_REF_LENGTH);
            if (s < seq) {
                lo = mid + 1;
            } else if (s > seq) {
                hi = mid - 1;
            } else {
                return mid;
            }
        }
        return -1;
    }

    private static String headerProblem(long ckptSeq, long lastDeltaSeq, long walCoveredSeq, long maxSeqUsed,
                                        long epoch, long chunkCount, long entryCount) {
        if (ckptSeq < 1) {
            return "bad checkpoint seq " + ckptSeq;
        }
        if (lastDeltaSeq < 0) {
            return "bad last delta seq " + lastDeltaSeq;
        }
        if (walCoveredSeq < 0) {
            return "bad wal covered seq " + walCoveredSeq;
        }
        if (maxSeqUsed < 0) {
            return "bad max seq used " + maxSeqUsed;
        }
        if (epoch < 0) {
            return "bad epoch " + epoch;
        }
        if (chunkCount < 0 || chunkCount > 0xffffffffL) {
            return "bad chunk count " + chunkCount;
        }
        if (entryCount < 0 || entryCount > Long.MAX_VALUE / 64) {
            return "bad entry count " + entryCount;
        }
        return null;
    }

    /**
     * Streams a checkpoint out: the header at construction, then exactly {@code chunkCount}
     * {@link #chunk} calls in ascending chunk seq order, then exactly {@code entryCount}
     * {@link #extent} calls in ascending, non-overlapping block order, then {@link #finish()},
     * which writes the CRC32C trailer. Every rule of the format is checked as it goes
     * (IllegalArgumentException / IllegalStateException), so what it writes decodes. The sink is
     * neither flushed beyond the bytes written nor closed. Memory: a 64 KiB buffer and 12 bytes
     * per chunk.
     *
     * <p>Not thread-safe: one thread writes a checkpoint.
     */
    public static final class Writer {
        private static final int BUFFER = 64 * 1024;

        private final MapCheckpoint header;
        private final OutputStream stream;
        private final WritableByteChannel channel;
        private final ByteBuffer buf = ByteBuffer.allocate(BUFFER).order(ByteOrder.BIG_ENDIAN);
        private final CRC32C crc = new CRC32C();
        private final long[] chunkSeqs;
        private final int[] chunkBlocks;
        private int chunks;
        private long extents;
        private long prevEnd;
        private int hint;
        private long written;
        private boolean finished;

        /** A writer to an OutputStream. */
        public Writer(OutputStream out, MapCheckpoint header) throws IOException {
            this(Objects.requireNonNull(out, "out"), null, header);
        }

        /** A writer to a channel. */
        public Writer(WritableByteChannel out, MapCheckpoint header) throws IOException {
            this(null, Objects.requireNonNull(out, "out"), header);
        }

        private Writer(OutputStream stream, WritableByteChannel channel, MapCheckpoint header) throws IOException {
            this.stream = stream;
            this.channel = channel;
            this.header = Objects.requireNonNull(header, "header");
            if (header.chunkCount() > Integer.MAX_VALUE - 8) {
                throw new IllegalArgumentException("too many chunks: " + header.chunkCount());
            }
            this.chunkSeqs = new long[(int) header.chunkCount()];
            this.chunkBlocks = new int[(int) header.chunkCount()];
            buf.putLong(Formats.CKPT_MAGIC)
                    .putInt(Formats.CKPT_VERSION)
                    .putInt(HEADER_LENGTH)
                    .putLong(header.ckptSeq())
                    .putLong(header.lastDeltaSeq())
                    .putLong(header.walCoveredSeq())
                    .putLong(header.maxSeqUsed())
                    .putLong(header.epoch())
                    .putInt((int) header.chunkCount())
                    .putLong(header.entryCount())
                    .putInt(0).putLong(0);
        }

        /** Adds the next chunk ref; chunk seqs strictly ascending. */
        public void chunk(long chunkSeq, int blockCount) throws IOException {
            checkOpen();
            if (chunks == chunkSeqs.length) {
                throw new IllegalStateException("more than the " + chunkSeqs.length + " chunks announced");
            }
            String p = MapDelta.chunkRefProblem(chunkSeq, blockCount);
            if (p == null && chunks > 0 && chunkSeq <= chunkSeqs[chunks - 1]) {
                p = "chunk seq " + chunkSeq + " does not follow " + chunkSeqs[chunks - 1];
            }
            if (p != null) {
                throw new IllegalArgumentException(p);
            }
            chunkSeqs[chunks] = chunkSeq;
            chunkBlocks[chunks] = blockCount;
            chunks++;
            room(MapDelta.CHUNK_REF_LENGTH);
            buf.putLong(chunkSeq).putInt(blockCount);
        }

        /** Adds the next extent (after every chunk); start blocks ascending, not overlapping. */
        public void extent(long startBlock, long length, long chunkSeq, int chunkOffset) throws IOException {
            checkOpen();
            if (chunks != chunkSeqs.length) {
                throw new IllegalStateException("extent before all " + chunkSeqs.length + " chunks were written");
            }
            if (extents == header.entryCount()) {
                throw new IllegalStateException("more than the " + header.entryCount() + " extents announced");
            }
            String p = MapDelta.entryProblem(MapDelta.DATA, startBlock, length, chunkSeq, chunkOffset);
            if (p == null && startBlock < prevEnd) {
                p = "extent at block " + startBlock + " overlaps or precedes the previous one, which ends at " + prevEnd;
            }
            if (p == null) {
                int k = hint < chunks && chunkSeqs[hint] == chunkSeq ? hint
                        : java.util.Arrays.binarySearch(chunkSeqs, 0, chunks, chunkSeq);
                if (k < 0) {
                    p = "chunk " + chunkSeq + " is not in the chunk table";
                } else if (chunkOffset + length > chunkBlocks[k]) {
                    p = "extent reaches past the end of chunk " + chunkSeq + " of " + chunkBlocks[k] + " blocks";
                } else {
                    hint = k;
                }
            }
            if (p != null) {
                throw new IllegalArgumentException(p);
            }
            prevEnd = startBlock + length;
            extents++;
            room(MapDelta.ENTRY_LENGTH);
            MapDelta.putEntry(buf, MapDelta.DATA, startBlock, length, chunkSeq, chunkOffset);
        }

        /** Writes the trailer; the object is complete. Returns its size. */
        public long finish() throws IOException {
            checkOpen();
            if (chunks != chunkSeqs.length || extents != header.entryCount()) {
                throw new IllegalStateException("wrote " + chunks + " of " + chunkSeqs.length + " chunks and "
                        + extents + " of " + header.entryCount() + " extents");
            }
            room(MapDelta.TRAILER_LENGTH);
            crc.update(buf.array(), 0, buf.position());
            buf.putInt((int) crc.getValue());
            drain(false);
            finished = true;
            return written;
        }

        /** Bytes handed to the sink so far. */
        public long bytesWritten() {
            return written;
        }

        private void checkOpen() {
            if (finished) {
                throw new IllegalStateException("checkpoint writer is finished");
            }
        }

        private void room(int n) throws IOException {
            if (buf.remaining() < n) {
                drain(true);
            }
        }

        private void drain(boolean updateCrc) throws IOException {
            if (updateCrc) {
                crc.update(buf.array(), 0, buf.position());
            }
            buf.flip();
            written += buf.remaining();
            if (stream != null) {
                stream.write(buf.array(), 0, buf.limit());
            } else {
                while (buf.hasRemaining()) {
                    channel.write(buf);
                }
            }
            buf.clear();
        }
    }
}
