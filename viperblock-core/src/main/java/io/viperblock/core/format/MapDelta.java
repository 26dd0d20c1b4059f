package io.viperblock.core.format;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A map delta object {@code volumes/<vol>/map/<deltaSeq 16 hex>.delta}: the changes one flush
 * made to the block map, and the chunks it uploaded. Entries are applied in order, later ones
 * overriding earlier ones. Deltas form a chain through {@code prevDeltaSeq}: each names the
 * delta written just before it (0 only for the first delta of a volume), so a reader starting
 * from a checkpoint that includes delta L expects the next delta's prevDeltaSeq to be L, and a
 * missing delta is noticed.
 *
 * <pre>
 * header (64 bytes)
 * +------+----+------------------------------------------------------------+
 * |    0 |  8 | magic "VBDELTA1" (ASCII)                                   |
 * |    8 |  4 | version = 1                                                |
 * |   12 |  4 | header length = 64                                         |
 * |   16 |  8 | delta seq (>= 1), as in the object key                     |
 * |   24 |  8 | previous delta seq (0 &lt;= prev &lt; delta seq; 0 = none)        |
 * |   32 |  8 | wal covered seq: every WAL record with seq &lt;= this is in   |
 * |      |    | the map once this delta is applied                         |
 * |   40 |  8 | writer epoch (>= 0)                                        |
 * |   48 |  4 | chunk count c (unsigned)                                   |
 * |   52 |  4 | entry count e (unsigned)                                   |
 * |   56 |  8 | reserved, zero                                             |
 * +------+----+------------------------------------------------------------+
 * then c chunk refs (12 bytes each), at 64 + 12*i; chunk seqs distinct
 * +------+----+------------------------------------------------------------+
 * |    0 |  8 | chunk seq (>= 1)                                           |
 * |    8 |  4 | block count of that chunk (1..2^18; version 1: 1..1024)    |
 * +------+----+------------------------------------------------------------+
 * then e entries (32 bytes each), at 64 + 12*c + 32*i
 * +------+----+------------------------------------------------------------+
 * |    0 |  1 | kind: 1 = DATA, 2 = HOLE                                   |
 * |    1 |  3 | reserved, zero                                             |
 * |    4 |  4 | chunk offset: index of the first block within the chunk    |
 * |      |    | (DATA; chunk offset + length &lt;= 2^18), 0 for HOLE       |
 * |    8 |  8 | start block (>= 0)                                         |
 * |   16 |  8 | length in blocks (>= 1; start + length &lt;= 2^63-1)          |
 * |   24 |  8 | chunk seq (>= 1 for DATA, 0 for HOLE)                      |
 * +------+----+------------------------------------------------------------+
 * then the trailer, at 64 + 12*c + 32*e
 * +------+----+------------------------------------------------------------+
 * |    0 |  4 | CRC32C of every byte before it                             |
 * +------+----+------------------------------------------------------------+
 * object size = 64 + 12*c + 32*e + 4
 * </pre>
 *
 * A DATA entry whose chunk is listed in the same delta must also fit in that chunk
 * (chunk offset + length &lt;= its block count). Decoding checks, in this order: length at least
 * 68, magic, version, header length, size equal to 64 + 12c + 32e + 4 (before anything is
 * allocated), checksum, then every field.
 *
 * <p>Immutable (the lists are copied), hence thread-safe.
 */
public record MapDelta(long deltaSeq, long prevDeltaSeq, long walCoveredSeq, long epoch,
                       List<ChunkRef> chunks, List<Entry> entries) {

    public static final int HEADER_LENGTH = 64;
    public static final int CHUNK_REF_LENGTH = 12;
    public static final int ENTRY_LENGTH = 32;
    public static final int TRAILER_LENGTH = 4;
    /** Entry kind: the blocks map to a range of a chunk. */
    public static final int DATA = 1;
    /** Entry kind: the blocks are unmapped (read as zeros). */
    public static final int HOLE = 2;
    private static final String KIND = "map delta";

    /** A chunk uploaded with this delta, and its number of blocks. */
    public record ChunkRef(long chunkSeq, int blockCount) {
        public ChunkRef {
            String p = chunkRefProblem(chunkSeq, blockCount);
            if (p != null) {
                throw new IllegalArgumentException(p);
            }
        }
    }

    /**
     * A map operation: blocks [startBlock, startBlock + length) map to the chunk's blocks
     * [chunkOffset, chunkOffset + length) (DATA), or are unmapped (HOLE).
     */
    public record Entry(int kind, long startBlock, long length, long chunkSeq, int chunkOffset) {
        public Entry {
            String p = entryProblem(kind, startBlock, length, chunkSeq, chunkOffset);
            if (p != null) {
                throw new IllegalArgumentException(p);
            }
        }

        public static Entry data(long startBlock, long length, long chunkSeq, int chunkOffset) {
            return new Entry(DATA, startBlock, length, chunkSeq, chunkOffset);
        }

        public static Entry hole(long startBlock, long length) {
            return new Entry(HOLE, startBlock, length, 0, 0);
        }

        public boolean isData() {
            return kind == DATA;
        }
    }

    public MapDelta {
        chunks = List.copyOf(chunks);
        entries = List.copyOf(entries);
        String p = headerProblem(deltaSeq, prevDeltaSeq, walCoveredSeq, epoch);
        if (p != null) {
            throw new IllegalArgumentException(p);
        }
        Map<Long, Integer> sizes = new HashMap<>();
        for (ChunkRef c : chunks) {
            if (sizes.put(c.chunkSeq(), c.blockCount()) != null) {
                throw new IllegalArgumentException("chunk " + c.chunkSeq() + " listed twice");
            }
        }
        for (Entry e : entries) {
            p = fitProblem(e.kind(), e.length(), e.chunkSeq(), e.chunkOffset(), sizes);
            if (p != null) {
                throw new IllegalArgumentException(p);
            }
        }
        if (objectSize(chunks.size(), entries.size()) > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("delta too large: " + entries.size() + " entries");
        }
    }

    /** Size of a delta object with {@code c} chunk refs and {@code e} entries. */
    public static long objectSize(long c, long e) {
        return HEADER_LENGTH + c * CHUNK_REF_LENGTH + e * ENTRY_LENGTH + TRAILER_LENGTH;
    }

    /** The object's bytes in a new heap buffer (position 0, limit = size). */
    public ByteBuffer encode() {
        int size = (int) objectSize(chunks.size(), entries.size());
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.BIG_ENDIAN);
        b.putLong(Formats.DELTA_MAGIC)
                .putInt(Formats.DELTA_VERSION)
                .putInt(HEADER_LENGTH)
                .putLong(deltaSeq)
                .putLong(prevDeltaSeq)
                .putLong(walCoveredSeq)
                .putLong(epoch)
                .putInt(chunks.size())
                .putInt(entries.size())
                .putLong(0);
        for (ChunkRef c : chunks) {
            b.putLong(c.chunkSeq()).putInt(c.blockCount());
        }
        for (Entry e : entries) {
            putEntry(b, e.kind(), e.startBlock(), e.length(), e.chunkSeq(), e.chunkOffset());
        }
        b.putInt(Formats.crc32c(b, 0, b.position()));
        return b.flip();
    }

    /** {@link #decode(ByteBuffer, long, String)} without checking the delta seq. */
    public static MapDelta decode(ByteBuffer src, String source) throws CorruptFormatException {
        return decode(src, -1, source);
    }

    /**
     * Decodes and checks the remaining bytes of {@code src} as a whole delta object (position
     * unchanged).
     *
     * @param expectedDeltaSeq the seq from the object key, or -1 not to check it
     * @param source           the object key, for messages
     */
    public static MapDelta decode(ByteBuffer src, long expectedDeltaSeq, String source) throws CorruptFormatException {
        ByteBuffer b = src.slice().order(ByteOrder.BIG_ENDIAN);
        int size = b.remaining();
        if (size < HEADER_LENGTH + TRAILER_LENGTH) {
            throw new CorruptFormatException(KIND, source, "truncated object: " + size + " bytes", 0,
                    "at least " + (HEADER_LENGTH + TRAILER_LENGTH) + " expected");
        }
        checkMagicVersionLength(b, Formats.DELTA_MAGIC, Formats.DELTA_VERSION, HEADER_LENGTH, KIND, source);
        long c = Integer.toUnsignedLong(b.getInt(48));
        long e = Integer.toUnsignedLong(b.getInt(52));
        long expectedSize = objectSize(c, e);
        if (size != expectedSize) {
            throw new CorruptFormatException(KIND, source, "object size " + size + " does not match " + c
                    + " chunks and " + e + " entries", 48, "expected size " + expectedSize);
        }
        checkCrc(b, KIND, source);
        long deltaSeq = b.getLong(16);
        long prev = b.getLong(24);
        long walCovered = b.getLong(32);
        long epoch = b.getLong(40);
        String p = headerProblem(deltaSeq, prev, walCovered, epoch);
        if (p != null) {
            throw new CorruptFormatException(KIND, source, p, 16);
        }
        if (expectedDeltaSeq != -1 && deltaSeq != expectedDeltaSeq) {
            throw new CorruptFormatException(KIND, source, "delta seq " + deltaSeq + " does not match its name", 16,
                    "expected " + expectedDeltaSeq);
        }
        if (b.getLong(56) != 0) {
            throw new CorruptFormatException(KIND, source, "nonzero reserved bytes", 56);
        }
        List<ChunkRef> chunks = new ArrayList<>((int) c);
        Map<Long, Integer> sizes = new HashMap<>();
        int at = HEADER_LENGTH;
        for (int i = 0; i < c; i++, at += CHUNK_REF_LENGTH) {
            long seq = b.getLong(at);
            int count = b.getInt(at + 8);
            p = chunkRefProblem(seq, count);
            if (p == null && sizes.put(seq, count) != null) {
                p = "chunk " + seq + " listed twice";
            }
            if (p != null) {
                throw new CorruptFormatException(KIND, source, p + " in chunk ref " + i, at);
            }
            chunks.add(new ChunkRef(seq, count));
        }
        List<Entry> entries = new ArrayList<>((int) e);
        for (int i = 0; i < e; i++, at += ENTRY_LENGTH) {
            int kind = b.get(at) & 0xff;
            long start = b.getLong(at + 8);
            long length = b.getLong(at + 16);
            long chunkSeq = b.getLong(at + 24);
            int chunkOffset = b.getInt(at + 4);
            p = Formats.allZero(b, at + 1, at + 4) ? entryProblem(kind, start, length, chunkSeq, chunkOffset)
                    : "nonzero reserved bytes";
            if (p == null) {
                p = fitProblem(kind, length, chunkSeq, chunkOffset, sizes);
            }
            if (p != null) {
                throw new CorruptFormatException(KIND, source, p + " in entry " + i, at);
            }
            entries.add(new Entry(kind, start, length, chunkSeq, chunkOffset));
        }
        return new MapDelta(deltaSeq, prev, walCovered, epoch, chunks, entries);
    }

    // ------------------------------------------------ shared with MapCheckpoint

    static void putEntry(ByteBuffer b, int kind, long start, long length, long chunkSeq, int chunkOffset) {
        b.putInt(kind << 24).putInt(chunkOffset).putLong(start).putLong(length).putLong(chunkSeq);
    }

    static String chunkRefProblem(long chunkSeq, int blockCount) {
        if (chunkSeq < 1) {
            return "bad chunk seq " + chunkSeq;
        }
        if (blockCount < 1 || blockCount > ChunkFooter.MAX_SLOTS) {
            return "bad block count " + Integer.toUnsignedString(blockCount) + " of chunk " + chunkSeq;
        }
        return null;
    }

    static String entryProblem(int kind, long start, long length, long chunkSeq, int chunkOffset) {
        if (kind != DATA && kind != HOLE) {
            return "bad entry kind " + kind;
        }
        if (start < 0 || length < 1 || start > Long.MAX_VALUE - length) {
            return "bad block range: start " + start + ", length " + length;
        }
        if (kind == HOLE) {
            if (chunkSeq != 0 || chunkOffset != 0) {
                return "HOLE with chunk seq " + chunkSeq + ", chunk offset " + Integer.toUnsignedString(chunkOffset);
            }
        } else {
            if (chunkSeq < 1) {
                return "DATA with bad chunk seq " + chunkSeq;
            }
            if (chunkOffset < 0 || length > ChunkFooter.MAX_SLOTS - chunkOffset) {
                return "DATA reaching past the largest chunk: chunk offset " + Integer.toUnsignedString(chunkOffset)
                        + ", length " + length;
            }
        }
        return null;
    }

    private static String fitProblem(int kind, long length, long chunkSeq, int chunkOffset, Map<Long, Integer> sizes) {
        if (kind == DATA) {
            Integer n = sizes.get(chunkSeq);
            if (n != null && chunkOffset + length > n) {
                return "DATA reaching past the end of chunk " + chunkSeq + " of " + n + " blocks: chunk offset "
                        + chunkOffset + ", length " + length;
            }
        }
        return null;
    }

    private static String headerProblem(long deltaSeq, long prev, long walCovered, long epoch) {
        if (deltaSeq < 1) {
            return "bad delta seq " + deltaSeq;
        }
        if (prev < 0 || prev >= deltaSeq) {
            return "bad previous delta seq " + prev + " for delta seq " + deltaSeq;
        }
        if (walCovered < 0) {
            return "bad wal covered seq " + walCovered;
        }
        if (epoch < 0) {
            return "bad epoch " + epoch;
        }
        return null;
    }

    static void checkMagicVersionLength(ByteBuffer b, long magic, int version, int headerLength, String kind,
                                        String source) throws CorruptFormatException {
        long m = b.getLong(0);
        if (m != magic) {
            throw new CorruptFormatException(kind, source, "bad magic", 0,
                    "found " + Formats.describeMagic(m) + ", expected " + Formats.describeMagic(magic));
        }
        int v = b.getInt(8);
        if (v != version) {
            throw new CorruptFormatException(kind, source, "unsupported version " + v, 8,
                    "this build reads version " + version);
        }
        int h = b.getInt(12);
        if (h != headerLength) {
            throw new CorruptFormatException(kind, source, "bad header length " + h, 12, "expected " + headerLength);
        }
    }

    /** Checks the 4-byte CRC32C trailer at the end of {@code b} against everything before it. */
    static void checkCrc(ByteBuffer b, String kind, String source) throws CorruptFormatException {
        int end = b.limit() - TRAILER_LENGTH;
        int stored = b.getInt(end);
        int computed = Formats.crc32c(b, 0, end);
        if (stored != computed) {
            throw new CorruptFormatException(kind, source, "bad checksum", end,
                    "stored " + Formats.hex32(stored) + ", computed " + Formats.hex32(computed));
        }
    }
}
