package io.viperblock.core.format;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Assembles a chunk object (layout drawn in {@link ChunkFooter}): up to 1024 data blocks of 4096
 * bytes, then the footer entries and the 48-byte trailer. Blocks are copied into one buffer
 * sized for a full chunk (4 MiB + 24,624 bytes), allocated when the builder is made.
 *
 * <pre>
 *   ChunkBuilder b = new ChunkBuilder(chunkSeq, epoch);
 *   while (!b.isFull() &amp;&amp; more()) b.add(block, seq, data);
 *   store.put(Formats.chunkKey(vol, chunkSeq), b.finish());
 * </pre>
 *
 * <p>Not thread-safe: one thread builds a chunk. The buffer returned by {@link #finish()} may be
 * read by any thread once handed over.
 */
public final class ChunkBuilder {

    private final long chunkSeq;
    private final long epoch;
    /** Bytes of the largest chunk object (1024 blocks, footer and trailer). */
    public static final int CAPACITY = (int) ChunkFooter.objectSize(ChunkFooter.MAX_BLOCKS);

    private final ByteBuffer buf;
    private final long[] blocks = new long[ChunkFooter.MAX_BLOCKS];
    private final long[] seqs = new long[ChunkFooter.MAX_BLOCKS];
    private final int[] crcs = new int[ChunkFooter.MAX_BLOCKS];
    private int count;
    private ByteBuffer finished;

    /** A builder whose buffer is on the heap. */
    public ChunkBuilder(long chunkSeq, long epoch) {
        this(chunkSeq, epoch, false);
    }

    /** A builder whose buffer is direct if {@code direct}. */
    public ChunkBuilder(long chunkSeq, long epoch, boolean direct) {
        this(chunkSeq, epoch, direct ? ByteBuffer.allocateDirect(CAPACITY) : ByteBuffer.allocate(CAPACITY));
    }

    /**
     * A builder writing into {@code buffer} (at least {@link #CAPACITY} bytes), so a caller can
     * reuse buffers across chunks; the buffer belongs to the builder until the finished object
     * has been stored.
     */
    public ChunkBuilder(long chunkSeq, long epoch, ByteBuffer buffer) {
        if (chunkSeq < 1) {
            throw new IllegalArgumentException("chunk seq must be >= 1: " + chunkSeq);
        }
        if (epoch < 0) {
            throw new IllegalArgumentException("epoch must be >= 0: " + epoch);
        }
        if (buffer.capacity() < CAPACITY) {
            throw new IllegalArgumentException("a chunk buffer needs " + CAPACITY + " bytes, got " + buffer.capacity());
        }
        this.chunkSeq = chunkSeq;
        this.epoch = epoch;
        this.buf = buffer.clear().order(ByteOrder.BIG_ENDIAN);
    }

    /**
     * Copies the 4096 remaining bytes of {@code data4096} (its position is not changed) as the
     * next data block, holding block number {@code block} as written at {@code seq}.
     *
     * @throws IllegalStateException if the chunk is full or finished
     */
    public void add(long block, long seq, ByteBuffer data4096) {
        checkAdd(block, seq, 1);
        if (data4096.remaining() != Formats.BLOCK_SIZE) {
            throw new IllegalArgumentException("a block is " + Formats.BLOCK_SIZE + " bytes, got " + data4096.remaining());
        }
        buf.put(count * Formats.BLOCK_SIZE, data4096, data4096.position(), Formats.BLOCK_SIZE);
        added(block, seq, 1, null, 0);
    }

    /** Fills a buffer with the bytes of blocks ({@link #addRun}). */
    @FunctionalInterface
    public interface BlockSource {
        /** Fills every remaining byte of {@code dst}, or throws. */
        void readInto(ByteBuffer dst) throws java.io.IOException;
    }

    /**
     * Adds {@code n} consecutive blocks, {@code firstBlock} to {@code firstBlock + n - 1}, all
     * written at {@code seq}, whose bytes {@code source} reads straight into the chunk's buffer
     * (for the consolidator: one read from the WAL a run, no copy through another buffer).
     *
     * @throws IllegalStateException if fewer than {@code n} blocks are free or the chunk is finished
     * @throws java.io.IOException if {@code source} fails; the chunk is then as before the call
     */
    public void addRun(long firstBlock, long seq, int n, BlockSource source) throws java.io.IOException {
        addRun(firstBlock, seq, n, source, null, 0);
    }

    /**
     * As {@link #addRun(long, long, int, BlockSource)}, with the blocks' CRC32Cs given:
     * {@code blockCrcs[crcFrom + i]} for block {@code i}, computed when the data was received (the
     * WAL's {@code RecordList}); if {@code blockCrcs} is null they are computed here. Given CRCs that
     * do not match the bytes the source reads make a chunk whose reads fail their check, so
     * data damaged between the client and the chunk is found, not stored as good.
     */
    public void addRun(long firstBlock, long seq, int n, BlockSource source, int[] blockCrcs, int crcFrom) throws java.io.IOException {
        checkAdd(firstBlock, seq, n);
        int at = count * Formats.BLOCK_SIZE;
        ByteBuffer dst = buf.slice(at, n * Formats.BLOCK_SIZE);
        source.readInto(dst);
        if (dst.hasRemaining()) {
            throw new java.io.IOException("chunk " + chunkSeq + ": the source left " + dst.remaining() + " of " + n * Formats.BLOCK_SIZE + " bytes unread");
        }
        added(firstBlock, seq, n, blockCrcs, crcFrom);
    }

    private void checkAdd(long firstBlock, long seq, int n) {
        if (finished != null) {
            throw new IllegalStateException("chunk " + chunkSeq + " is finished");
        }
        if (n < 1 || n > free()) {
            throw new IllegalStateException("chunk " + chunkSeq + " has room for " + free() + " blocks, not " + n);
        }
        if (firstBlock < 0) {
            throw new IllegalArgumentException("block number must be >= 0: " + firstBlock);
        }
        if (seq < 1) {
            throw new IllegalArgumentException("seq must be >= 1: " + seq);
        }
    }

    /** Counts in the {@code n} blocks just put in the buffer, with their CRCs (computed if not given). */
    private void added(long firstBlock, long seq, int n, int[] blockCrcs, int crcFrom) {
        for (int i = 0, at = count * Formats.BLOCK_SIZE; i < n; i++, at += Formats.BLOCK_SIZE) {
            blocks[count] = firstBlock + i;
            seqs[count] = seq;
            crcs[count] = blockCrcs != null ? blockCrcs[crcFrom + i] : Formats.crc32c(buf, at, at + Formats.BLOCK_SIZE);
            count++;
        }
    }

    /** Blocks that can still be added. */
    public int free() {
        return ChunkFooter.MAX_BLOCKS - count;
    }

    /** Number of blocks added so far. */
    public int count() {
        return count;
    }

    public boolean isFull() {
        return count == ChunkFooter.MAX_BLOCKS;
    }

    public long chunkSeq() {
        return chunkSeq;
    }

    /**
     * Writes the footer and returns the whole object (position 0, limit = its size), a view of
     * the builder's buffer; later calls return the same. No blocks can be added afterwards.
     *
     * @throws IllegalStateException if no block was added
     */
    public ByteBuffer finish() {
        if (finished == null) {
            if (count == 0) {
                throw new IllegalStateException("chunk " + chunkSeq + " has no blocks");
            }
            int footer = count * Formats.BLOCK_SIZE;
            for (int i = 0; i < count; i++) {
                int e = footer + i * ChunkFooter.ENTRY_LENGTH;
                buf.putLong(e, blocks[i]).putLong(e + 8, seqs[i]).putInt(e + 16, crcs[i]).putInt(e + 20, 0);
            }
            int t = footer + count * ChunkFooter.ENTRY_LENGTH;
            buf.putLong(t, Formats.CHUNK_MAGIC)
                    .putInt(t + 8, Formats.CHUNK_VERSION)
                    .putInt(t + 12, count)
                    .putLong(t + 16, chunkSeq)
                    .putLong(t + 24, epoch);
            for (int i = t + 32; i < t + 44; i++) {
                buf.put(i, (byte) 0);
            }
            buf.putInt(t + 44, Formats.crc32c(buf, footer, t + 44));
            finished = buf.duplicate().position(0).limit(t + ChunkFooter.TRAILER_LENGTH);
        }
        return finished.duplicate();
    }
}
