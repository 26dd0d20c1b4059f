package io.viperblock.core.wal;

import io.viperblock.core.format.CorruptFormatException;
import io.viperblock.core.format.Formats;
import io.viperblock.core.io.Fs;
import io.viperblock.core.io.FsFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * One WAL segment file: its records (kept in memory for consolidation), its size, and a
 * reference count so that a segment is deleted only when no reader is still copying from it.
 *
 * <p>Thread-safety: records are appended by the WAL writer (under its write lock) and read by the
 * consolidator only after the segment is sealed; {@code size}, {@code lastSeq} and {@code sealed}
 * are volatile; reference counting is guarded by {@code this}.
 */
public final class WalSegment {
    /** Position bits per segment in a WAL position: {@code index << OFFSET_BITS | offset}. */
    static final int OFFSET_BITS = 40;

    private final Fs fs;
    private final Path path;
    private final FsFile file;
    private final int index;
    private final long firstSeq;
    private final RecordList records = new RecordList();
    private final long createdNanos = System.nanoTime();
    private volatile long size;
    private volatile long lastSeq;
    private volatile boolean sealed;
    /** The synced length this process last recorded for the segment, in the WAL's sync mark or its header (see WalWriter). */
    private volatile long syncedMark;
    /** Records whose dirty-index entry is in place; consolidation waits for all of them. */
    private final java.util.concurrent.atomic.AtomicInteger published = new java.util.concurrent.atomic.AtomicInteger();
    /** Takes the file of a retired segment for reuse instead of its deletion (see WalWriter). */
    interface Recycler {
        /** True if it took the (closed) file; false to have it deleted. */
        boolean take(WalSegment segment);
    }

    private volatile Recycler recycler;
    /** The chunk this segment's file is, once the map names it ({@link #linkedAs}), or -1. */
    private volatile long chunk = -1;
    private int refs;
    private boolean retired;
    private boolean closed;

    WalSegment(Fs fs, Path path, FsFile file, int index, long firstSeq, long size) {
        this.fs = fs;
        this.path = path;
        this.file = file;
        this.index = index;
        this.firstSeq = firstSeq;
        this.size = size;
        this.lastSeq = firstSeq - 1;
    }

    public Path path() { return path; }
    public int index() { return index; }
    public long firstSeq() { return firstSeq; }
    public long lastSeq() { return lastSeq; }
    public long size() { return size; }
    public boolean sealed() { return sealed; }
    /** When this segment was opened for writing or recovered (System.nanoTime). */
    public long createdNanos() { return createdNanos; }
    /** True if the segment holds at least one record. */
    public boolean hasRecords() { return records.size() > 0; }
    public RecordList records() { return records; }
    FsFile file() { return file; }

    void appended(long newSize, long seq) {
        size = newSize;
        lastSeq = seq;
    }

    void seal() { sealed = true; }

    void recycler(Recycler r) { recycler = r; }

    long syncedMark() { return syncedMark; }

    void syncedMark(long length) { syncedMark = length; }

    /**
     * Appends the footer of a chunk made from this sealed segment (FORMATS.md, "Chunk", version
     * 2) at {@code offset}, the first multiple of 4096 at or after its records, and forces it.
     * An fsync first makes durable the header the seal wrote (which holds where the records end):
     * replay takes a problem exactly there, in a segment other than the last, for the end of its
     * records, so no byte of the footer may reach the disk before that header. The records are
     * not changed; the file is never a spare afterwards ({@link #extended}).
     */
    public void appendChunkFooter(ByteBuffer footer, long offset) throws IOException {
        if (!sealed || offset < size || offset % 4096 != 0) {
            throw new IllegalStateException("a chunk footer goes at a page boundary behind a sealed segment's records: " + this + ", offset " + offset);
        }
        file.force();
        file.write(footer, offset);
        file.force();
    }

    /** Records that the file is also the store's chunk {@code chunkSeq}, which a durable map delta names. */
    public void linkedAs(long chunkSeq) {
        chunk = chunkSeq;
    }

    /** The chunk this segment's file is also (see {@link #linkedAs}), or -1. */
    public long chunk() {
        return chunk;
    }

    /** Whether the file holds more than the records (a chunk footer, or part of one): never reuse it. */
    public boolean extended() throws IOException {
        return file.size() > size;
    }

    /** The appender of one record has put it in the dirty index. */
    public void published() {
        published.incrementAndGet();
    }

    /** Replay puts every recovered record in the dirty index before the segment is shared. */
    void allPublished() {
        published.set(records.size());
    }

    /**
     * True once every record of this sealed segment is in the dirty index. Until then an
     * appender still holds a WAL position in this segment that it is about to publish, and
     * consolidating (then deleting) the segment would leave that entry dangling.
     */
    public boolean fullyPublished() {
        return published.get() >= records.size();
    }

    /** The WAL position (as kept in the dirty index) of byte {@code offset} of this segment. */
    public long position(long offset) {
        return ((long) index << OFFSET_BITS) | offset;
    }

    static int segmentIndex(long walPosition) {
        return (int) (walPosition >>> OFFSET_BITS);
    }

    /** The byte offset inside its segment of a WAL position. */
    public static long segmentOffset(long walPosition) {
        return walPosition & ((1L << OFFSET_BITS) - 1);
    }

    /** Reads {@code dst.remaining()} bytes at {@code offset}; the caller holds a reference. */
    public void read(ByteBuffer dst, long offset) throws IOException {
        int want = dst.remaining();
        int got = file.read(dst, offset);
        if (got != want) {
            throw new IOException("WAL segment " + path + ": short read at offset " + offset + " (" + got + " of " + want + " bytes)");
        }
    }

    /**
     * Checks whole blocks read from this segment at {@code offset} (of one WRITE record's payload),
     * given the CRC32C of each ({@code crcsRead}, computed by the caller), against the CRCs kept as
     * the writes came in, for a caller that writes them elsewhere with CRCs of its own
     * (Volume.rewrite, a partial write's merge), which would make damage read here good data. The
     * caller holds the WAL's write lock ({@link WalWriter#verifyBlocks}), under which a segment
     * still taking writes adds its CRCs. Nothing to check for a segment found by replay, which
     * keeps none: replay verified its records, as the consolidator relies on too.
     *
     * @throws CorruptFormatException if a block is not what was written
     */
    void verifyBlocks(long offset, int[] crcsRead) throws CorruptFormatException {
        int[] kept = records.blockCrcs();
        if (kept == null) {
            return;
        }
        int at = records.blockCrcIndex(offset);
        for (int j = 0; j < crcsRead.length; j++) {
            if (crcsRead[j] != kept[at + j]) {
                throw new CorruptFormatException("WAL segment " + path + ": the block at offset " + (offset + (long) j * Formats.BLOCK_SIZE)
                        + " does not match the CRC32C it was written with", path.toString(), offset + (long) j * Formats.BLOCK_SIZE);
            }
        }
    }

    /** Takes a reference that keeps the file open; false if the segment is already gone. */
    public synchronized boolean acquire() {
        if (closed) {
            return false;
        }
        refs++;
        return true;
    }

    public void release() throws IOException {
        boolean delete;
        synchronized (this) {
            refs--;
            delete = retired && refs == 0 && !closed;
            if (delete) {
                closed = true;
            }
        }
        if (delete) {
            closeAndDelete();
        }
    }

    /** Deletes the segment once its last reader is done: its records are in durable chunks and a map delta. */
    public void retire() throws IOException {
        boolean delete;
        synchronized (this) {
            retired = true;
            delete = refs == 0 && !closed;
            if (delete) {
                closed = true;
            }
        }
        if (delete) {
            closeAndDelete();
        }
    }

    /** Closes without deleting (volume close). */
    public void close() throws IOException {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        file.close();
    }

    private void closeAndDelete() throws IOException {
        boolean reusable = !extended(); // a chunk made from it may share its file
        file.close();
        if (!reusable) {
            fs.dropCached(path); // the chunk lives on, but reads of it are rare from now on (PageCache)
        }
        // No directory sync for a delete: a deleted segment that reappears after a power loss
        // holds only records at or below the map's covered sequence, which replay skips. (A
        // segment kept as a spare is renamed with a sync: WalWriter.keepSpare.)
        Recycler r = recycler;
        if (!reusable || r == null || !r.take(this)) {
            fs.delete(path);
        }
    }

    @Override
    public String toString() {
        return path.toString();
    }
}
