package io.viperblock.core.format;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The footer of a chunk object {@code volumes/<vol>/chunks/<chunkSeq 16 hex>}: which block each
 * of the chunk's data blocks holds, from which write, and its checksum. Built by
 * {@link ChunkBuilder}.
 *
 * <pre>
 * chunk object, n = block count, 1 &lt;= n &lt;= 1024, size n*4096 + n*24 + 48
 * +------------------+------------------+-----+--------------------+----------------+
 * | data block 0     | data block 1     | ... | footer entries     | trailer        |
 * | 4096 bytes       | 4096 bytes       |     | n * 24 bytes       | 48 bytes       |
 * +------------------+------------------+-----+--------------------+----------------+
 * 0                  4096                     n*4096 (footer offset)                 size
 *
 * footer entry i (24 bytes), at n*4096 + i*24
 * +------+----+------------------------------------------------------------+
 * |    0 |  8 | block number (>= 0) held by data block i                   |
 * |    8 |  8 | seq of that block's data (>= 1)                            |
 * |   16 |  4 | CRC32C of the 4096 bytes of data block i                   |
 * |   20 |  4 | reserved, zero                                             |
 * +------+----+------------------------------------------------------------+
 *
 * trailer (48 bytes), at n*4096 + n*24
 * +------+----+------------------------------------------------------------+
 * |    0 |  8 | magic "VBCHUNK1" (ASCII)                                   |
 * |    8 |  4 | version = 1                                                |
 * |   12 |  4 | block count n (1..1024)                                    |
 * |   16 |  8 | chunk seq (>= 1), as in the object key                     |
 * |   24 |  8 | writer epoch (>= 0)                                        |
 * |   32 | 12 | reserved, zero                                             |
 * |   44 |  4 | CRC32C of the n footer entries and trailer bytes [0, 44)   |
 * +------+----+------------------------------------------------------------+
 * </pre>
 *
 * <p>Version 2 is a chunk made from a sealed WAL segment without copying it (the consolidator
 * links the segment's file into a file store, {@link #encodeSlots}): the object is the segment,
 * zeros to the next multiple of 4096, then a version-2 footer with one entry per 4 KiB slot of
 * the segment (n up to {@link #MAX_SLOTS}). Entry i describes the block whose data starts in
 * slot i, at object offset i*4096 + shift, where the shift is the entry's last 4 bytes
 * (0..4095; the data lies before the footer); an entry whose seq is 0 (all its bytes zero) is a
 * slot where no block starts. Sizes and offsets follow the same formulas as version 1, so a
 * reader finds the footer of either from the block count the map keeps.
 *
 * Parsing checks, in this order: length at least a trailer, magic, version (1 or 2), block count
 * in 1..1024 (version 2: 1..{@link #MAX_SLOTS}), footer length (and object size) matching the
 * count, checksum, then the fields (chunk seq as expected, epoch >= 0, reserved bytes zero, each
 * entry's block >= 0 and seq >= 1, or in version 2 an empty entry, and a shift that keeps the
 * block before the footer). The data blocks are covered by their own checksums, checked by
 * {@link #verifyBlock}.
 *
 * <p>Immutable, hence thread-safe.
 */
public final class ChunkFooter {

    public static final int ENTRY_LENGTH = 24;
    public static final int TRAILER_LENGTH = 48;
    /** Most data blocks in a version-1 chunk (4 MiB). */
    public static final int MAX_BLOCKS = 1024;
    /** Most slots in a version-2 chunk (1 GiB of WAL segment); the largest block count of any chunk. */
    public static final int MAX_SLOTS = 1 << 18;
    /** Version of a chunk made from a WAL segment. */
    public static final int SLOTS_VERSION = 2;
    private static final int TRAILER_CRC = 44;
    private static final String KIND = "chunk";

    private final long chunkSeq;
    private final long epoch;
    private final long[] blocks;
    private final long[] seqs;
    private final int[] crcs;
    /** Version 2: where each block starts in its slot; null in version 1 (every shift 0). */
    private final int[] shifts;

    private ChunkFooter(long chunkSeq, long epoch, long[] blocks, long[] seqs, int[] crcs, int[] shifts) {
        this.chunkSeq = chunkSeq;
        this.epoch = epoch;
        this.blocks = blocks;
        this.seqs = seqs;
        this.crcs = crcs;
        this.shifts = shifts;
    }

    /** Length of the footer entries plus trailer of a chunk of {@code n} blocks: n*24 + 48. */
    public static int footerLength(int n) {
        return n * ENTRY_LENGTH + TRAILER_LENGTH;
    }

    /** Size of a chunk object of {@code n} blocks: n*4096 + n*24 + 48. */
    public static long objectSize(int n) {
        return (long) n * Formats.BLOCK_SIZE + footerLength(n);
    }

    /** Offset of the footer in a chunk object of {@code n} blocks: n*4096. */
    public static long footerOffset(int n) {
        return (long) n * Formats.BLOCK_SIZE;
    }

    /**
     * The block count implied by an object's size, or -1 if no valid chunk has that size; lets a
     * reader fetch exactly the footer of an object whose size it knows from a listing.
     */
    public static int blockCountForObjectSize(long size) {
        long per = Formats.BLOCK_SIZE + ENTRY_LENGTH;
        if (size < TRAILER_LENGTH + per || (size - TRAILER_LENGTH) % per != 0 || (size - TRAILER_LENGTH) / per > MAX_SLOTS) {
            return -1;
        }
        return (int) ((size - TRAILER_LENGTH) / per);
    }

    /**
     * Parses and checks a footer: the {@code footerLength(n)} remaining bytes of
     * {@code footerAndTrailer} (entries then trailer; n is read from the trailer). The buffer's
     * position is not changed.
     *
     * @param expectedChunkSeq      the seq from the object key, or -1 not to check it
     * @param source                the object key, for messages
     * @param footerOffsetInObject  where these bytes start in the object (must be n*4096);
     *                              offsets in messages are object offsets
     */
    public static ChunkFooter parse(ByteBuffer footerAndTrailer, long expectedChunkSeq, String source,
                                    long footerOffsetInObject) throws CorruptFormatException {
        ByteBuffer b = footerAndTrailer.slice().order(ByteOrder.BIG_ENDIAN);
        int len = b.remaining();
        if (len < TRAILER_LENGTH) {
            throw new CorruptFormatException(KIND, source, "truncated footer: " + len + " bytes, a trailer alone is "
                    + TRAILER_LENGTH, footerOffsetInObject);
        }
        int t = len - TRAILER_LENGTH;
        long trailerOffset = footerOffsetInObject + t;
        int n = checkTrailerHead(b, t, source, trailerOffset);
        boolean slots = b.getInt(t + 8) == SLOTS_VERSION;
        if (len != footerLength(n)) {
            throw new CorruptFormatException(KIND, source, "footer length " + len + " does not match block count " + n,
                    footerOffsetInObject, "expected " + footerLength(n) + " bytes");
        }
        if (footerOffsetInObject != footerOffset(n)) {
            throw new CorruptFormatException(KIND, source, "footer found at the wrong offset for block count " + n,
                    footerOffsetInObject, "expected offset " + footerOffset(n));
        }
        int stored = b.getInt(t + TRAILER_CRC);
        int computed = Formats.crc32c(b, 0, t + TRAILER_CRC);
        if (stored != computed) {
            throw new CorruptFormatException(KIND, source, "bad footer checksum", trailerOffset,
                    "stored " + Formats.hex32(stored) + ", computed " + Formats.hex32(computed));
        }
        long chunkSeq = b.getLong(t + 16);
        if (chunkSeq < 1 || (expectedChunkSeq != -1 && chunkSeq != expectedChunkSeq)) {
            throw new CorruptFormatException(KIND, source, "bad chunk seq " + chunkSeq, trailerOffset + 16,
                    expectedChunkSeq == -1 ? null : "expected " + expectedChunkSeq);
        }
        long epoch = b.getLong(t + 24);
        if (epoch < 0) {
            throw new CorruptFormatException(KIND, source, "bad epoch " + epoch, trailerOffset + 24);
        }
        if (!Formats.allZero(b, t + 32, t + TRAILER_CRC)) {
            throw new CorruptFormatException(KIND, source, "nonzero reserved trailer bytes", trailerOffset + 32);
        }
        long[] blocks = new long[n];
        long[] seqs = new long[n];
        int[] crcs = new int[n];
        int[] shifts = slots ? new int[n] : null;
        for (int i = 0; i < n; i++) {
            int e = i * ENTRY_LENGTH;
            blocks[i] = b.getLong(e);
            seqs[i] = b.getLong(e + 8);
            crcs[i] = b.getInt(e + 16);
            if (slots) {
                if (seqs[i] == 0) {
                    if (!Formats.allZero(b, e, e + ENTRY_LENGTH)) {
                        throw new CorruptFormatException(KIND, source, "nonzero bytes in empty footer entry " + i, footerOffsetInObject + e);
                    }
                    blocks[i] = -1;
                    continue;
                }
                shifts[i] = b.getInt(e + 20);
                if (shifts[i] < 0 || shifts[i] >= Formats.BLOCK_SIZE || (long) i * Formats.BLOCK_SIZE + shifts[i] > footerOffset(n) - Formats.BLOCK_SIZE) {
                    throw new CorruptFormatException(KIND, source, "bad shift " + shifts[i] + " in footer entry " + i + " of " + n,
                            footerOffsetInObject + e + 20, "a block's data must lie before the footer");
                }
            }
            if (blocks[i] < 0) {
                throw new CorruptFormatException(KIND, source, "bad block number " + blocks[i] + " in footer entry " + i,
                        footerOffsetInObject + e);
            }
            if (seqs[i] < 1) {
                throw new CorruptFormatException(KIND, source, "bad seq " + seqs[i] + " in footer entry " + i,
                        footerOffsetInObject + e + 8);
            }
            if (!slots && b.getInt(e + 20) != 0) {
                throw new CorruptFormatException(KIND, source, "nonzero reserved bytes in footer entry " + i,
                        footerOffsetInObject + e + 20);
            }
        }
        return new ChunkFooter(chunkSeq, epoch, blocks, seqs, crcs, shifts);
    }

    /**
     * The footer and trailer of a version-2 chunk of {@code n} slots (see the class comment), to
     * be written at offset n*4096 of a WAL segment padded with zeros to there. Entry i of the
     * arrays describes slot i; {@code blocks[i] == -1} leaves it empty.
     */
    public static ByteBuffer encodeSlots(long chunkSeq, long epoch, int n, long[] blocks, long[] seqs, int[] crcs, int[] shifts) {
        if (chunkSeq < 1 || epoch < 0 || n < 1 || n > MAX_SLOTS) {
            throw new IllegalArgumentException("chunk seq " + chunkSeq + ", epoch " + epoch + ", slots " + n);
        }
        ByteBuffer buf = ByteBuffer.allocate(footerLength(n)).order(ByteOrder.BIG_ENDIAN);
        for (int i = 0; i < n; i++) {
            int e = i * ENTRY_LENGTH;
            if (blocks[i] >= 0) {
                buf.putLong(e, blocks[i]).putLong(e + 8, seqs[i]).putInt(e + 16, crcs[i]).putInt(e + 20, shifts[i]);
            }
        }
        int t = n * ENTRY_LENGTH;
        buf.putLong(t, Formats.CHUNK_MAGIC).putInt(t + 8, SLOTS_VERSION).putInt(t + 12, n).putLong(t + 16, chunkSeq).putLong(t + 24, epoch);
        buf.putInt(t + 44, Formats.crc32c(buf, 0, t + 44));
        return buf;
    }

    /**
     * Checks magic, version and block count of the 48-byte trailer at {@code trailer}'s position
     * (not its checksum, which covers the entries too) and returns the block count, so that a
     * reader that fetched only the trailer knows how much footer to fetch.
     *
     * @param trailerOffset where the trailer starts in the object, for messages
     */
    public static int trailerBlockCount(ByteBuffer trailer, String source, long trailerOffset)
            throws CorruptFormatException {
        ByteBuffer b = trailer.slice().order(ByteOrder.BIG_ENDIAN);
        if (b.remaining() < TRAILER_LENGTH) {
            throw new CorruptFormatException(KIND, source, "truncated trailer: " + b.remaining() + " of "
                    + TRAILER_LENGTH + " bytes", trailerOffset);
        }
        return checkTrailerHead(b, 0, source, trailerOffset);
    }

    /**
     * Parses the footer of a whole chunk object (the remaining bytes of {@code wholeObject}; its
     * position is not changed), refusing an object whose size is not exactly n*4096 + n*24 + 48
     * for the n in its trailer. Does not verify the data blocks; see {@link #verifyBlocks}.
     *
     * @param expectedChunkSeq the seq from the object key, or -1 not to check it
     */
    public static ChunkFooter parseObject(ByteBuffer wholeObject, long expectedChunkSeq, String source)
            throws CorruptFormatException {
        ByteBuffer b = wholeObject.slice();
        int size = b.remaining();
        if (size < TRAILER_LENGTH) {
            throw new CorruptFormatException(KIND, source, "truncated object: " + size + " bytes", 0);
        }
        int n = trailerBlockCount(b.slice(size - TRAILER_LENGTH, TRAILER_LENGTH), source, size - TRAILER_LENGTH);
        if (size != objectSize(n)) {
            throw new CorruptFormatException(KIND, source, "object size " + size + " does not match block count "
                    + n, size - TRAILER_LENGTH, "expected size " + objectSize(n));
        }
        int footerOffset = n * Formats.BLOCK_SIZE;
        return parse(b.slice(footerOffset, footerLength(n)), expectedChunkSeq, source, footerOffset);
    }

    /** {@link #parseObject(ByteBuffer, long, String)} without checking the chunk seq. */
    public static ChunkFooter parseObject(ByteBuffer wholeObject, String source) throws CorruptFormatException {
        return parseObject(wholeObject, -1, source);
    }

    private static int checkTrailerHead(ByteBuffer b, int t, String source, long trailerOffset)
            throws CorruptFormatException {
        long magic = b.getLong(t);
        if (magic != Formats.CHUNK_MAGIC) {
            throw new CorruptFormatException(KIND, source, "bad trailer magic", trailerOffset,
                    "found " + Formats.describeMagic(magic) + ", expected \"VBCHUNK1\"");
        }
        int version = b.getInt(t + 8);
        if (version != Formats.CHUNK_VERSION && version != SLOTS_VERSION) {
            throw new CorruptFormatException(KIND, source, "unsupported version " + version, trailerOffset + 8,
                    "this build reads versions " + Formats.CHUNK_VERSION + " and " + SLOTS_VERSION);
        }
        int max = version == SLOTS_VERSION ? MAX_SLOTS : MAX_BLOCKS;
        int n = b.getInt(t + 12);
        if (n < 1 || n > max) {
            throw new CorruptFormatException(KIND, source, "bad block count " + Integer.toUnsignedString(n),
                    trailerOffset + 12, "must be 1.." + max);
        }
        return n;
    }

    public int count() {
        return blocks.length;
    }

    /** Block number held by data block {@code i}; -1 for a slot where no block starts (version 2). */
    public long block(int i) {
        return blocks[i];
    }

    /** Seq of the data in data block {@code i}. */
    public long seq(int i) {
        return seqs[i];
    }

    /** Stored CRC32C of data block {@code i}. */
    public int crc(int i) {
        return crcs[i];
    }

    /** Blocks the chunk holds: its count, less the empty slots of version 2. */
    public int blocksHeld() {
        int n = 0;
        for (long b : blocks) {
            n += b >= 0 ? 1 : 0;
        }
        return n;
    }

    public long chunkSeq() {
        return chunkSeq;
    }

    public long epoch() {
        return epoch;
    }

    /** Offset of data block {@code i} in the object: i*4096, plus its shift in version 2. */
    public long dataOffset(int i) {
        return (long) i * Formats.BLOCK_SIZE + (shifts == null ? 0 : shifts[i]);
    }

    /** Data block {@code i} of the whole object in {@code wholeObject} (from its position), as a 4096-byte view. */
    public ByteBuffer blockIn(ByteBuffer wholeObject, int i) {
        return wholeObject.slice(wholeObject.position() + (int) dataOffset(i), Formats.BLOCK_SIZE);
    }

    /**
     * How many of the blocks {@code [i, i + count)} lie back to back from block i's data on, so
     * that one read fetches them (all of them in version 1; in version 2 a record header or an
     * empty slot may lie between two blocks).
     */
    public int contiguous(int i, int count) {
        if (shifts == null) {
            return count;
        }
        int k = 1;
        while (k < count && blocks[i + k] >= 0 && shifts[i + k] == shifts[i]) {
            k++;
        }
        return k;
    }

    /**
     * Checks the 4096 remaining bytes of {@code block4096} (position unchanged) against the
     * stored checksum of data block {@code i}.
     *
     * @param source the object key, for messages
     */
    public void verifyBlock(int i, ByteBuffer block4096, String source) throws CorruptFormatException {
        if (i < 0 || i >= blocks.length) {
            throw new IndexOutOfBoundsException("block index " + i + " of a chunk of " + blocks.length);
        }
        if (blocks[i] < 0) {
            throw new CorruptFormatException(KIND, source, "slot " + i + " holds no block", dataOffset(i));
        }
        if (block4096.remaining() != Formats.BLOCK_SIZE) {
            throw new CorruptFormatException(KIND, source, "short read of data block " + i + ": "
                    + block4096.remaining() + " bytes", dataOffset(i));
        }
        int computed = Formats.crc32c(block4096, block4096.position(), block4096.limit());
        if (computed != crcs[i]) {
            throw new CorruptFormatException(KIND, source, "bad checksum of data block " + i + " (block number "
                    + blocks[i] + ")", dataOffset(i),
                    "stored " + Formats.hex32(crcs[i]) + ", computed " + Formats.hex32(computed));
        }
    }

    /** {@link #verifyBlock} for every data block of the whole object (position unchanged; empty slots have none). */
    public void verifyBlocks(ByteBuffer wholeObject, String source) throws CorruptFormatException {
        if (wholeObject.remaining() < footerOffset(blocks.length)) {
            throw new CorruptFormatException(KIND, source, "truncated object: " + wholeObject.remaining() + " bytes",
                    0, "expected at least " + footerOffset(blocks.length));
        }
        for (int i = 0; i < blocks.length; i++) {
            if (blocks[i] >= 0) {
                verifyBlock(i, blockIn(wholeObject, i), source);
            }
        }
    }

    @Override
    public String toString() {
        return "ChunkFooter[chunkSeq=" + chunkSeq + ", epoch=" + epoch + ", count=" + blocks.length + "]";
    }
}
