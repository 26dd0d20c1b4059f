package io.viperblock.core.wal;

import io.viperblock.core.NoSpaceException;
import io.viperblock.core.format.Crc32c;
import io.viperblock.core.format.Formats;
import io.viperblock.core.format.WalRecord;
import io.viperblock.core.format.WalHeader;
import io.viperblock.core.io.Fs;
import io.viperblock.core.io.FsFile;
import io.viperblock.core.io.NioFs;
import io.viperblock.core.metrics.LatencyHistogram;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.function.Consumer;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Appends records to the WAL with group commit, the protocol BookKeeper's journal uses:
 * <ol>
 * <li>an appender takes a sequence number and queues its record under {@code queueLock} (so the
 *     order in the file is sequence order);</li>
 * <li>it then takes {@code writeLock}; whoever holds it writes every queued record in one
 *     gathering write, so while one batch is being written the next one accumulates;</li>
 * <li>{@link #sync()} works the same way under {@code syncLock}: one fdatasync covers every
 *     record written before it started, and flushes that arrive meanwhile share the next one.</li>
 * </ol>
 * A sealed segment is fsynced at the seal, so a sync only ever needs the active segment. Once
 * the active segment holds {@link #BACKGROUND_SYNC_BYTES} not yet synced, a background thread
 * syncs it (as RocksDB's {@code wal_bytes_per_sync} does), so that neither the seal nor a
 * client's flush finds a large backlog of dirty pages to write. After
 * each fdatasync the length it covered is written to the WAL's sync mark (a file of its own,
 * {@link Formats#WAL_SYNC_MARK}; see {@link #writeMark}), so that replay can tell damaged flushed
 * records from a torn tail; the segment's own header gets it at the seal and at the close.
 *
 * <p>Recycling: appending to a file makes each fdatasync commit the file system's journal too
 * (the file's size changes), which about doubles its latency; overwriting blocks already
 * written does not. So the file of a consolidated segment is kept as a spare
 * ({@code <firstSeq>.spare}, at most {@link #MAX_SPARES}, and only while the disk has room for
 * {@link #SPARE_MIN_FREE_SEGMENTS} more segments; a write that finds the disk full deletes them)
 * and the next segment reuses it. A segment that became a chunk comes back the same way once the
 * chunk is garbage ({@link #recycle}, up to {@link #recycleUpTo} spares, which an open keeps,
 * so that a restart does not lose them):
 * renamed to the new segment's name (directory synced), then its header rewritten and fsynced.
 * The old records behind the new ones are harmless: their sequence numbers are below the new
 * header's first seq and below every new record's, so a scan stops at the first of them, and the
 * writer truncates a segment to its records when it seals or closes it, so only the last segment
 * of a crashed writer can end in them (replay cuts them, as it cuts a torn tail). A crash between
 * the rename and the new header leaves the old header and records under the new name: all
 * consolidated, so replay skips them and removes the file. A segment that starts in a new file
 * gets zeros written ahead of its records once a client flushes in it ({@link #writeAhead}), for
 * the same reason, and so does one in a reused file shorter than a segment (one that was sealed
 * early) once its records pass the file's end; they go the way of a reused file's old records.
 *
 * <p>Kept segments: a consolidated segment leaves the pending ones at once, but its file keeps
 * serving reads of its blocks (in the page cache, as they were just written) until newer
 * consolidated segments pass {@code keepBytes}, or they would leave the disk less free room than
 * {@code keepRoom} ({@link #keepConsolidated}); a drain, a close, or a write that finds the disk
 * full lets them all go, and the chunk collector lets one go whose chunk is garbage
 * ({@link #letGoOfChunk}). Only then do its records leave the dirty index and its file go to the
 * spares.
 *
 * <p>Failure: a failed write truncates the segment back to where the batch began and fails every
 * record of that batch (ENOSPC as {@link NoSpaceException}); if even that fails, or an fsync
 * fails, the WAL refuses all later work (after a failed fsync the page cache can no longer be
 * trusted) until the volume is reopened.
 *
 * <p>Thread-safety: as above; the segment list is guarded by {@code writeLock}, {@code active} is
 * volatile.
 */
public final class WalWriter implements AutoCloseable {
    private final Fs fs;
    private final Path dir;
    private final UUID volumeId;
    private final long epoch;
    private final long segmentBytes;
    private final AtomicLong nextSeq;
    private final ReentrantLock queueLock = new ReentrantLock();
    private final ReentrantLock writeLock = new ReentrantLock();
    private final ReentrantLock syncLock = new ReentrantLock();
    private final List<WalSegment> segments = new ArrayList<>();
    private final List<Record> queue = new ArrayList<>();
    /** Segments by index, for readers: a lookup must never wait for a batch write. */
    private final java.util.concurrent.ConcurrentHashMap<Integer, WalSegment> byIndex = new java.util.concurrent.ConcurrentHashMap<>();
    private final AtomicLong pendingBytes = new AtomicLong();
    private final ByteBuffer headers = ByteBuffer.allocateDirect(WalRecord.RECORD_HEADER * 1024);
    private volatile WalSegment active;
    private volatile Runnable sealListener = () -> { };
    /** Consolidated segments still serving reads, oldest first; guarded by writeLock. */
    private final java.util.ArrayDeque<WalSegment> kept = new java.util.ArrayDeque<>();
    private long keptBytes;
    /** A write found the disk full: its appender lets the kept segments and the spares go; guarded by writeLock. */
    private boolean diskFull;
    private volatile long keepBytes;
    private volatile long keepRoom;
    private volatile Consumer<WalSegment> forget = s -> { };
    /** Files of consolidated segments kept for reuse. */
    static final int MAX_SPARES = 2;
    static final String SPARE_SUFFIX = ".spare";
    /** A spare is kept only while the WAL's file system has room for this many more segments. */
    static final int SPARE_MIN_FREE_SEGMENTS = 4;
    /** Spare files, oldest first; guarded by itself. */
    private final java.util.ArrayDeque<Path> spares = new java.util.ArrayDeque<>();
    /** The most spares {@link #recycle} fills the pool to; 0: it takes none. */
    private volatile int recycleUpTo;
    /** The most spares an open keeps of those it finds (then {@link #recycleUpTo} trims them), and the largest pool. */
    static final int MAX_RECYCLED_SPARES = 64;
    /** Files {@link #recycle} is moving in, or {@link #fillSpare} is filling; guarded by spares. */
    private int recycling;
    /** Segments rotated into a new file for want of a spare since the last fills, at most the pool; guarded by spares. */
    private int sparesLacked;
    /** Whether the last segment started had to start in a new file; guarded by writeLock. */
    private boolean startedInNewFile;
    /** Spares made by {@link #fillSpare}. */
    private final LongAdder sparesFilled = new LongAdder();
    /** The name a filled spare starts with, apart from every other spare's (a sequence number alone). */
    static final String FILLED_PREFIX = "zero-";
    private volatile boolean closing;
    /**
     * Zeros are written ahead of the records of a segment in a new file (or past the end of a
     * reused one) once a client flushes in it (see {@link #writeAhead}): in steps of this many
     * bytes, once fewer than half of it are left.
     */
    static final int WRITE_AHEAD_BYTES = 1 << 20;
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(WRITE_AHEAD_BYTES).asReadOnlyBuffer();
    /**
     * Every write of records ends at a multiple of this many bytes, with zeros after the last
     * record that the next write overwrites; a reused file's header is written as a whole page.
     * A write that covers part of a page the page cache does not hold makes the kernel read
     * that page from disk first, under our write lock, and a reused file's pages are soon out of
     * the page cache on a busy host (or after {@code drop_caches}). So each write starts in the
     * page the write before it ended, still cached, and covers every other page whole. (A new
     * file needs no more than its header: pages past the end of a file are never read.) 4 KiB
     * random writes QD32 for 10 s right after {@code echo 3 > /proc/sys/vm/drop_caches}:
     * without this, 22,630 IOPS (40,529 before the drop) and 181 MiB read from disk; with it,
     * 31,052 (35,491 before the drop) and 64 MiB read, 5 MiB of it by our threads.
     */
    public static final int PAGE = 4096;
    /**
     * The active segment's file holds written blocks (records, zeros, or a reused file's old
     * contents) up to here; guarded by writeLock.
     */
    private long writtenAhead;
    /** A client flushed since the active segment was started. */
    private volatile boolean flushedInActive;
    /** Runs a background fdatasync once the active segment holds this many unsynced bytes. */
    static final long BACKGROUND_SYNC_BYTES = 16L << 20;
    private final java.util.concurrent.atomic.AtomicBoolean backgroundSyncQueued = new java.util.concurrent.atomic.AtomicBoolean();
    /** The background fdatasync of the active segment, and the delayed fsync of the sync mark. */
    private final java.util.concurrent.ScheduledThreadPoolExecutor backgroundSync = backgroundSyncThread();
    /** The sync mark is fsynced in the background at most this often, and at most this long after it was written (see {@link #writeMark}). */
    static final long MARK_SYNC_INTERVAL_NANOS = 1_000_000_000L;
    /** The WAL's sync mark file (see {@link #writeMark}). */
    private final FsFile mark;
    /** A page holding the sync mark's header and zeros; guarded by syncLock. */
    private final ByteBuffer markPage = ByteBuffer.allocateDirect(PAGE);
    /** When the sync mark was last fsynced (System.nanoTime); written by the background thread. */
    private volatile long markSyncedAt = System.nanoTime();
    /** An fsync of the sync mark is scheduled and has not started yet. */
    private final java.util.concurrent.atomic.AtomicBoolean markSyncQueued = new java.util.concurrent.atomic.AtomicBoolean();
    private volatile long writtenSeq;
    private volatile long syncedSeq;
    private volatile IOException broken;
    private int nextIndex;

    private final LongAdder writeCalls = new LongAdder();
    private final LongAdder recordsWritten = new LongAdder();
    private final LongAdder syncCalls = new LongAdder();
    private final LatencyHistogram syncLatency = new LatencyHistogram();
    private final LongAdder bytesWritten = new LongAdder();

    /** One queued record; {@code done}, {@code position} and {@code error} are set by the batch writer. */
    public static final class Record {
        final int type;
        final long firstBlock;
        final int count;
        final ByteBuffer payload;
        /** The CRC32C of each block of the payload, and of the whole: computed before the lock. */
        final int[] blockCrcs;
        final int payloadCrc;
        long seq;
        long position;
        WalSegment segment;
        IOException error;
        boolean done;

        Record(int type, long firstBlock, int count, ByteBuffer payload) {
            // refused here, not in the group commit, where it would fail the records written with it
            String bad = WalRecord.problem(type, firstBlock, count, payload == null ? 0 : payload.remaining());
            if (bad != null) {
                throw new IllegalArgumentException(bad);
            }
            this.type = type;
            this.firstBlock = firstBlock;
            this.count = count;
            this.payload = payload;
            if (type == WalRecord.WRITE) {
                this.blockCrcs = new int[payload.remaining() / Formats.BLOCK_SIZE];
                this.payloadCrc = Crc32c.ofBlocks(payload, blockCrcs);
            } else {
                this.blockCrcs = null;
                this.payloadCrc = 0;
            }
        }

        public long seq() { return seq; }
        public int type() { return type; }
        public long firstBlock() { return firstBlock; }
        public int count() { return count; }
        public ByteBuffer payload() { return payload; }
        /** Why the record was not written ({@link #appendAll}), or null. */
        public IOException error() { return error; }
        /** WAL position of the payload (see {@link WalSegment#position}), valid for WRITE records. */
        public long position() { return position; }
        /** The segment the record went into; call {@link WalSegment#published()} once it is in the dirty index. */
        public WalSegment segment() { return segment; }
    }

    /**
     * Opens the WAL for appending after recovery: {@code recovered} are the replayed segments,
     * sealed, in order; a new active segment starts at {@code nextSeq}.
     */
    public WalWriter(Fs fs, Path dir, UUID volumeId, long epoch, long segmentBytes, AtomicLong nextSeq,
            List<WalSegment> recovered) throws IOException {
        this.fs = fs;
        this.dir = dir;
        this.volumeId = volumeId;
        this.epoch = epoch;
        this.segmentBytes = segmentBytes;
        this.nextSeq = nextSeq;
        for (String n : fs.list(dir)) {
            if (n.endsWith(SPARE_SUFFIX)) {
                if (spares.size() < MAX_RECYCLED_SPARES) { // recycleUpTo trims them to the volume's pool
                    spares.add(dir.resolve(n));
                } else {
                    fs.delete(dir.resolve(n));
                }
            }
        }
        if (!spares.isEmpty()) {
            fs.syncDir(dir); // their names durable before any is written to (reuseSpare)
        }
        for (WalSegment s : recovered) {
            headerWithWholeLength(s);
            s.recycler(this::keepSpare);
            s.allPublished();
            s.seal();
            segments.add(s);
            byIndex.put(s.index(), s);
            pendingBytes.addAndGet(s.size());
            nextIndex = Math.max(nextIndex, s.index() + 1);
        }
        long last = nextSeq.get() - 1;
        writtenSeq = last;
        syncedSeq = last;
        Path markPath = dir.resolve(Formats.WAL_SYNC_MARK);
        if (fs.exists(markPath)) {
            mark = fs.open(markPath); // it may name a replayed segment: harmless, see writeMark
        } else {
            mark = fs.createNew(markPath);
            fs.syncDir(dir);
        }
        try {
            active = newSegment(nextSeq.get());
        } catch (IOException | RuntimeException e) {
            mark.close();
            throw e;
        }
    }

    /**
     * Makes a recovered segment's header hold the length of its records before a newer segment
     * exists: replay takes a problem exactly at that length, in a segment other than the last, for
     * the end of its records (WalReplay.sealedEnd), and the header of a segment that a repair cut
     * holds less. The records are fsynced first, so the header never claims more than the disk
     * holds, then the header.
     */
    private static void headerWithWholeLength(WalSegment s) throws IOException {
        WalHeader h = WalHeader.read(s.file(), s.path().toString());
        if (h.syncedLength() != s.size()) {
            s.file().force();
            s.file().write(h.withSyncedLength(s.size()).encode(), 0);
            s.file().force();
        }
    }

    /**
     * Appends one record and returns once it is written (in the page cache: it survives a crash
     * of this process). The payload is written as it is, without a copy; it must not change until
     * this returns.
     */
    public Record append(int type, long firstBlock, int count, ByteBuffer payload) throws IOException {
        Record r = new Record(type, firstBlock, count, payload);
        appendAll(new Record[] {r}, 1);
        Throwable error = r.error;
        if (error != null) {
            throw error instanceof NoSpaceException e ? new NoSpaceException(e.getMessage(), e) : new IOException(error.getMessage(), error);
        }
        return r;
    }

    /**
     * Appends the first {@code n} records of {@code batch} (made with {@link #record}) in order, in
     * one group commit, and returns once each is written or has failed: a record whose
     * {@link Record#error()} is null is written, like a record {@link #append} returns.
     */
    public void appendAll(Record[] batch, int n) throws IOException {
        queueLock.lock();
        try {
            checkUsable();
            for (int i = 0; i < n; i++) {
                batch[i].seq = nextSeq.getAndIncrement();
                queue.add(batch[i]);
            }
        } finally {
            queueLock.unlock();
        }
        List<WalSegment> drop = null;
        writeLock.lock();
        try {
            if (!batch[n - 1].done) { // the records are written in queue order: the last one is done last
                writeQueued();
            }
            if (diskFull) {
                diskFull = false;
                drop = takeKept(0);
            }
        } finally {
            writeLock.unlock();
        }
        if (drop != null) {
            // the disk is full: the files of consolidated segments go, for the writes that come next
            try {
                let(drop);
            } catch (IOException e) {
                // a file that could not be deleted is removed at the next open
            }
            dropSpares(0); // after let: a segment let go may just have become a spare
        }
    }

    /** A record for {@link #appendAll}; its payload's CRCs are computed here, on the caller's thread. */
    public static Record record(int type, long firstBlock, int count, ByteBuffer payload) {
        return new Record(type, firstBlock, count, payload);
    }

    /** Writes every queued record; called with {@code writeLock} held. */
    private void writeQueued() {
        List<Record> batch;
        queueLock.lock();
        try {
            batch = new ArrayList<>(queue);
            queue.clear();
        } finally {
            queueLock.unlock();
        }
        int from = 0;
        while (from < batch.size()) {
            int to = Math.min(batch.size(), from + 1024); // header buffer holds 1024 record headers
            writeSome(batch.subList(from, to));
            from = to;
        }
    }

    private void writeSome(List<Record> batch) {
        WalSegment seg = active;
        long batchBytes = 0;
        for (Record r : batch) {
            batchBytes += WalRecord.RECORD_HEADER + (r.payload == null ? 0 : r.payload.remaining());
        }
        try {
            if (broken != null) {
                throw broken;
            }
            if (seg.size() > WalHeader.LENGTH && seg.size() + batchBytes > segmentBytes) {
                seg = rotate(batch.get(0).seq);
            }
        } catch (IOException e) {
            if (NioFs.isOutOfSpace(e)) {
                diskFull = true;
            }
            fail(batch, e);
            return;
        }
        long start = seg.size();
        ByteBuffer[] bufs = new ByteBuffer[batch.size() * 2 + 1];
        int n = 0;
        headers.clear();
        long pos = start;
        for (Record r : batch) {
            ByteBuffer h = headers.slice(headers.position(), WalRecord.RECORD_HEADER);
            WalRecord.encodeRecordHeader(h, r.type, r.seq, r.firstBlock, r.count,
                    r.payload == null ? 0 : r.payload.remaining(), r.payloadCrc);
            h.flip();
            headers.position(headers.position() + WalRecord.RECORD_HEADER);
            bufs[n++] = h;
            r.position = seg.position(pos + WalRecord.RECORD_HEADER);
            r.segment = seg;
            pos += WalRecord.RECORD_HEADER;
            if (r.payload != null) {
                bufs[n++] = r.payload.duplicate();
                pos += r.payload.remaining();
            }
        }
        int pad = (int) (-pos & (PAGE - 1));
        if (pad > 0) {
            bufs[n++] = ZEROS.slice(0, pad); // to the end of the page: see PAGE
        }
        ByteBuffer[] srcs = n == bufs.length ? bufs : java.util.Arrays.copyOf(bufs, n);
        try {
            seg.file().write(srcs, start);
        } catch (IOException e) {
            try {
                seg.file().truncate(start);
            } catch (IOException t) {
                e.addSuppressed(t);
                broken = new IOException("WAL segment " + seg + " could not be truncated after a failed write; reopen the volume", e);
            }
            if (NioFs.isOutOfSpace(e)) {
                diskFull = true;
            }
            fail(batch, NioFs.isOutOfSpace(e)
                    ? new NoSpaceException("WAL disk full writing " + seg + ": " + e.getMessage(), e)
                    : new IOException("WAL write to " + seg + " failed: " + e.getMessage(), e));
            return;
        }
        Record lastRecord = batch.get(batch.size() - 1);
        for (Record r : batch) {
            seg.records().add(r.type, r.seq, r.firstBlock, r.count, WalSegment.segmentOffset(r.position), r.blockCrcs);
        }
        seg.appended(pos, lastRecord.seq);
        if (flushedInActive && writtenAhead - pos < WRITE_AHEAD_BYTES / 2) {
            writeAhead(seg, pos);
        }
        if (pos - seg.syncedMark() >= BACKGROUND_SYNC_BYTES && backgroundSyncQueued.compareAndSet(false, true)) {
            syncInBackground();
        }
        pendingBytes.addAndGet(pos - start);
        writtenSeq = lastRecord.seq;
        writeCalls.increment();
        recordsWritten.add(batch.size());
        bytesWritten.add(pos - start);
        for (Record r : batch) {
            r.done = true;
        }
    }

    /**
     * Writes zeros after the records of a segment in a new file, or past the end of a reused one
     * shorter than a segment, so that the records that follow
     * overwrite blocks the file already has. An fdatasync of a file whose blocks are all written
     * already writes only the data; one of a growing file (or of one with holes, or preallocated
     * with fallocate) must also write the file's metadata, which on ext4 makes a 4 KiB flush
     * about 1.6 times as slow (fio, 4 KiB writes with an fdatasync each: 169 us at p50 in a
     * written file, 276 us in one extended by ftruncate, 330 us in one fallocated). Only after a
     * client's flush: a stream of writes without flushes does not pay for it. The zeros are
     * harmless: the writer cuts a segment to its records when it seals or closes it, and after a
     * crash replay cuts a zero-filled tail of the last segment as it cuts a torn one. Called
     * with writeLock held; a failure (a full disk) only ends the writing ahead for this segment.
     */
    private void writeAhead(WalSegment seg, long pos) {
        long from = Math.max(writtenAhead, pos);
        int n = (int) Math.min(WRITE_AHEAD_BYTES, segmentBytes - from);
        if (n <= 0) {
            writtenAhead = segmentBytes;
            return;
        }
        try {
            seg.file().write(ZEROS.slice(0, n), from); // a view of its own: volumes share the zeros
            writtenAhead = from + n;
        } catch (IOException e) {
            writtenAhead = segmentBytes; // no more for this segment
        }
    }

    private static void fail(List<Record> batch, IOException e) {
        for (Record r : batch) {
            r.error = e;
            r.done = true;
        }
    }

    /** Seals the active segment (fsynced) and starts a new one whose first sequence is {@code firstSeq}. */
    private WalSegment rotate(long firstSeq) throws IOException {
        WalSegment old = active;
        long length = old.size();
        cutToRecords(old);
        forceOrBreak(old);
        writeHeader(old, length);
        if (old.lastSeq() > syncedSeq) {
            syncedSeq = old.lastSeq();
        }
        // the new segment first: if it cannot be created (disk full) the old one stays active
        // and unsealed, so nothing is ever appended to a segment the consolidator may take
        WalSegment next = newSegment(firstSeq);
        if (startedInNewFile) {
            synchronized (spares) {
                sparesLacked = Math.min(sparesLacked + 1, recycleUpTo);
            }
        }
        old.seal();
        active = next;
        sealListener.run();
        return next;
    }

    private WalSegment newSegment(long firstSeq) throws IOException {
        Path path = dir.resolve(Formats.seqName(firstSeq) + ".wal");
        ByteBuffer header = new WalHeader(volumeId, firstSeq, epoch).encode();
        FsFile file = reuseSpare(path, header);
        startedInNewFile = file == null;
        long written; // zeros are written ahead from here once a client flushes (writeAhead): a spare may be short
        if (file == null) {
            file = fs.createNew(path);
            try {
                // the header alone, so that a crash while it is written leaves at most 64 bytes (WalReplay.interruptedCreation)
                file.write(new ByteBuffer[] {header}, 0);
                file.force();
                fs.syncDir(dir);
            } catch (IOException e) {
                file.close();
                fs.delete(path);
                throw NioFs.isOutOfSpace(e) ? new NoSpaceException("WAL disk full creating " + path + ": " + e.getMessage(), e) : e;
            }
        }
        written = Math.max(WalHeader.LENGTH, file.size());
        WalSegment s = new WalSegment(fs, path, file, ++nextIndex, firstSeq, WalHeader.LENGTH);
        s.recycler(this::keepSpare);
        // it becomes the active segment
        writtenAhead = written;
        flushedInActive = false;
        segments.add(s);
        byIndex.put(s.index(), s);
        pendingBytes.addAndGet(WalHeader.LENGTH);
        return s;
    }

    /**
     * A spare file made the segment at {@code path}, open; null if there is none or it could not
     * be taken (then it is deleted and a new file is created). Its first page becomes the new
     * header, then zeros (whole: see PAGE), forced while the file still has its spare's name, and
     * only then is it renamed (the rename durable). So a file never has a segment's name without
     * that segment's header durable at its start: a spare's old bytes there may be anything (an
     * old segment's header, or the data of a copied chunk taken back from the store), and after a
     * power loss such a last segment would look damaged, not interrupted. Every spare's own name is
     * durable before it is in the pool (keepSpare, recycle, the open), so the header never lands
     * in a file that a power loss could give back its old segment's name.
     */
    private FsFile reuseSpare(Path path, ByteBuffer header) {
        Path spare;
        synchronized (spares) {
            spare = spares.poll();
        }
        if (spare == null) {
            return null;
        }
        FsFile file = null;
        try {
            file = fs.open(spare);
            file.write(new ByteBuffer[] {header.duplicate(), ZEROS.slice(0, PAGE - WalHeader.LENGTH)}, 0);
            file.force();
            fs.rename(spare, path);
            fs.syncDir(dir);
            return file;
        } catch (IOException e) {
            // a new file is created instead; what is left is removed at the next open
            try {
                if (file != null) {
                    file.close();
                }
            } catch (IOException ignored) {
                // it is deleted next
            }
            for (Path p : List.of(spare, path)) { // the one not renamed yet, or the one renamed
                try {
                    fs.delete(p);
                } catch (IOException ignored) {
                    // not there, or left to the next open
                }
            }
            return null;
        }
    }

    /**
     * Lets {@link #recycle} keep up to {@code files} spares. A pool that large needs room on the
     * WAL's disk; with too little room (see {@link #keepSpare}) none is taken.
     */
    public void recycleUpTo(long files) {
        recycleUpTo = (int) Math.min(files, MAX_RECYCLED_SPARES);
        dropSpares(Math.max(recycleUpTo, MAX_SPARES));
    }

    /** Whether {@link #recycle} would take files: the pool is at most half full. */
    public boolean wantsSpares() {
        int most = recycleUpTo;
        synchronized (spares) {
            return most > 0 && !closing && spares.size() + recycling <= most / 2;
        }
    }

    /** Moves a file out of where it is to {@code target}, if it holds at least {@code minBytes} (ObjectStore.moveTo). */
    @FunctionalInterface
    public interface FileMove {
        boolean to(Path target, long minBytes) throws IOException;
    }

    /**
     * Takes a file that is garbage elsewhere (a deleted chunk that was a linked segment, of at
     * least half a segment) as a spare, while the pool has room and the disk is not short. Its
     * blocks are allocated, so the segment that reuses it makes the file system allocate none,
     * which a new file costs (sequential 1 MiB writes into new 64 MiB files with an fdatasync
     * each 16 MiB: 845-1,074 MB/s; into such files, their pages dropped: 1,247-1,503). Its old
     * records, from this volume's earlier segments, have sequence numbers below every new one, as
     * a spare's have. False if it was not taken: the caller deletes it as before.
     */
    public boolean recycle(long seq, FileMove move) {
        Path spare = dir.resolve(Formats.seqName(seq) + SPARE_SUFFIX);
        synchronized (spares) {
            if (closing || spares.size() + recycling >= recycleUpTo || diskShort()) {
                return false;
            }
            recycling++;
        }
        boolean moved = false;
        try {
            moved = move.to(spare, segmentBytes / 2);
        } catch (IOException e) {
            // not taken: the caller deletes it; a file left under the spare's name goes at the next open
        } finally {
            endTaking(spare, moved);
        }
        return moved;
    }

    /**
     * Ends what {@link #recycle} or {@link #fillSpare} began by counting a file in
     * {@link #recycling}: the file joins the pool if it was taken.
     */
    private void endTaking(Path spare, boolean taken) {
        synchronized (spares) {
            recycling--;
            if (taken) {
                spares.add(spare);
            }
        }
    }

    /**
     * Fills one spare file with zeros, for a segment that would otherwise start in a new file:
     * the WAL's quiet-time work (Volume, Defragmenter). A segment in a new file makes the file
     * system allocate its blocks as the records come, and an fdatasync there also commits the
     * file's growth: 1 GiB copied in by nbdcopy right after 30 s of 64 KiB random writes (which
     * made no garbage chunks, so no spares) ran at 485-560 MB/s, and at 730-816 with the spares
     * this filled (docs/PERFORMANCE.md); a client flushing in a new file has zeros written ahead
     * of its records on its way ({@link #writeAhead}).
     *
     * <p>Only as many as the segments rotated into new files since the last fills
     * ({@link #sparesLacked}), and only while the pool is below its bound ({@link #recycleUpTo})
     * and the WAL's file system keeps, after this file, room for a full pool and
     * {@link #SPARE_MIN_FREE_SEGMENTS} segments more: a volume that has not lacked spares gets none,
     * and a full pool or a disk short of room clears the lack. The file
     * ({@code zero-<seq>.spare}, {@code seq} a fresh sequence number drawn for it, so no other
     * spare has its name) is written in steps of {@link #WRITE_AHEAD_BYTES}, fdatasynced, and its name synced
     * before it joins the pool, like every spare's. {@code stop} is asked before each step: when
     * it says so (a client is back) the file is deleted unfinished. A crash leaves at most one
     * unfinished file, which the next open takes as a spare: its bytes are zeros or holes, where
     * a scan finds no record, and a spare may be short.
     *
     * @return whether a spare was filled (there may be more to fill)
     */
    public boolean fillSpare(java.util.function.LongSupplier seq, java.util.function.BooleanSupplier stop) {
        synchronized (spares) {
            long room = (long) (recycleUpTo + SPARE_MIN_FREE_SEGMENTS + 1) * segmentBytes;
            if (closing || sparesLacked == 0) {
                return false;
            }
            if (spares.size() + recycling >= recycleUpTo || usableSpace() < room) {
                sparesLacked = 0; // a full pool lacks nothing; a disk short of room gets none, and none later for this lack
                return false;
            }
            recycling++;
        }
        Path spare = dir.resolve(FILLED_PREFIX + Formats.seqName(seq.getAsLong()) + SPARE_SUFFIX);
        FsFile created;
        try {
            created = fs.createNew(spare);
        } catch (IOException e) { // a full disk, or the name taken (a spare an open found, named before a crash): not ours to delete
            endTaking(spare, false);
            return false;
        }
        boolean filled = false;
        try {
            try (FsFile f = created) {
                long at = 0;
                for (; at < segmentBytes && !stop.getAsBoolean(); at += WRITE_AHEAD_BYTES) {
                    f.write(ZEROS.slice(0, (int) Math.min(WRITE_AHEAD_BYTES, segmentBytes - at)), at); // a view of its own
                }
                if (at >= segmentBytes) {
                    f.force();
                    filled = true;
                }
            }
            if (filled) {
                fs.syncDir(dir);
            }
        } catch (IOException e) {
            filled = false; // a full disk, or a failing one: deleted below, and tried again at a later quiet time
        } finally {
            if (!filled) {
                try {
                    fs.delete(spare);
                } catch (IOException ignored) {
                    // a file left under a spare's name is taken, or deleted, at the next open
                }
            }
            synchronized (spares) { // the lack it meets and the pool it joins change together
                endTaking(spare, filled);
                if (filled) {
                    sparesLacked--;
                }
            }
        }
        if (filled) {
            sparesFilled.increment();
        }
        return filled;
    }

    /** Deletes the spare files beyond the newest {@code keep}: all of them when the WAL's disk is full. */
    private void dropSpares(int keep) {
        synchronized (spares) {
            while (spares.size() > keep) {
                Path p = spares.pollFirst();
                try {
                    fs.delete(p);
                } catch (IOException e) {
                    // removed at the next open
                }
            }
        }
    }

    /**
     * Keeps the closed file of a consolidated segment as a spare (WalSegment.Recycler), unless
     * the WAL's disk is short of space: then the space goes back to the file system.
     */
    private boolean keepSpare(WalSegment seg) {
        if (closing) {
            return false;
        }
        synchronized (spares) {
            if (spares.size() >= MAX_SPARES) {
                return false;
            }
            if (diskShort()) {
                return false;
            }
            Path spare = dir.resolve(Formats.seqName(seg.firstSeq()) + SPARE_SUFFIX);
            try {
                fs.rename(seg.path(), spare);
                // Durable before the file can be written to (reuseSpare): else a power loss could
                // bring back the segment's name on a file whose first page is a newer segment's
                // header, which replay would take for a damaged segment.
                fs.syncDir(dir);
            } catch (IOException e) {
                return false;
            }
            spares.add(spare);
            return true;
        }
    }

    /**
     * Makes every record written before this call durable (one fdatasync shared by every
     * concurrent caller).
     */
    public void sync() throws IOException {
        if (!flushedInActive) {
            flushedInActive = true;
        }
        syncWritten();
    }

    /** {@link #sync()} for the background sync, which is not a client's flush (see {@link #writeAhead}). */
    private void syncWritten() throws IOException {
        checkUsable();
        long target = writtenSeq;
        if (syncedSeq >= target) {
            return;
        }
        syncLock.lock();
        try {
            if (syncedSeq >= target) {
                return;
            }
            checkUsable();
            long covered = writtenSeq;
            WalSegment seg = active;
            // The consolidator may seal, consolidate and delete this segment meanwhile; a
            // reference keeps its file open. If it is gone already, sealing forced it, and every
            // record up to covered is in it or in a segment sealed (forced) before it.
            if (seg.acquire()) {
                try {
                    long length = seg.size(); // every byte below it was written before the fdatasync starts
                    long started = System.nanoTime();
                    forceOrBreak(seg);
                    syncLatency.record(System.nanoTime() - started);
                    writeMark(seg, length);
                } finally {
                    seg.release();
                }
            } else if (!seg.sealed()) {
                checkUsable();
                throw new IOException("WAL segment " + seg + " was closed before it could be synced");
            }
            syncCalls.increment();
            if (covered > syncedSeq) {
                syncedSeq = covered;
            }
        } finally {
            syncLock.unlock();
        }
    }

    private void syncInBackground() {
        try {
            backgroundSync.execute(() -> {
                backgroundSyncQueued.set(false);
                try {
                    syncWritten();
                } catch (IOException e) {
                    // the WAL is broken now (see forceOrBreak), and the next append or flush says so
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            backgroundSyncQueued.set(false); // closing
        }
    }

    /**
     * Writes to the WAL's sync mark that the first {@code length} bytes of {@code seg} were
     * fsynced: replay then knows that damage below it is not a torn write but lost flushed
     * records. Called under syncLock after an fdatasync that covered {@code length} bytes.
     *
     * <p>The mark is a copy of the segment's header with {@code length} as its synced length (see
     * {@link WalHeader}), in a file of its own, written as a whole page and not synced on this
     * path. It used to go into the segment's own header, but then every fdatasync also wrote that
     * header's page, apart from the records, and a flush took 20-25% longer (fio, 4 KiB writes
     * with a flush each, p50 71-82 against 53-60 us). Whatever value survives a crash is a length
     * that was fsynced: after kill -9 the page cache holds the newest; after a power loss the file
     * holds an older one (it is fsynced in the background at most once every
     * {@link #MARK_SYNC_INTERVAL_NANOS}, and at most that long after it was written: a flush
     * followed by no other is not left to the kernel's writeback), or a torn page that replay ignores, which only narrows
     * what replay can tell apart. A mark that names another segment (an older one, or one of
     * another epoch) does not apply to this one.
     */
    private void writeMark(WalSegment seg, long length) throws IOException {
        if (length <= seg.syncedMark()) {
            return;
        }
        new WalHeader(volumeId, seg.firstSeq(), epoch, length).encode(markPage.clear());
        try {
            mark.write(markPage.clear(), 0); // the rest of the page: zeros from the allocation
        } catch (IOException e) {
            broken = new IOException("writing the WAL sync mark of " + seg + " failed; reopen the volume", e);
            throw broken;
        }
        seg.syncedMark(length);
        if (markSyncQueued.compareAndSet(false, true)) {
            // at most one a MARK_SYNC_INTERVAL_NANOS, and none later than that after this write
            long delay = Math.max(0, markSyncedAt + MARK_SYNC_INTERVAL_NANOS - System.nanoTime());
            try {
                backgroundSync.schedule(this::syncMark, delay, java.util.concurrent.TimeUnit.NANOSECONDS);
            } catch (java.util.concurrent.RejectedExecutionException e) {
                // closing: close writes the header of the active segment and fsyncs it
            }
        }
    }

    /** The delayed fsync of the sync mark (see {@link #writeMark}), on the background thread. */
    private void syncMark() {
        markSyncQueued.set(false); // first: a mark written during this fsync schedules one of its own
        markSyncedAt = System.nanoTime();
        try {
            mark.force();
        } catch (IOException e) {
            // the mark only narrows what replay cuts as torn; a failing disk shows in the next WAL fdatasync
        }
    }

    private static java.util.concurrent.ScheduledThreadPoolExecutor backgroundSyncThread() {
        var t = new java.util.concurrent.ScheduledThreadPoolExecutor(1, Thread.ofPlatform().daemon().name("vb-wal-sync").factory());
        t.setExecuteExistingDelayedTasksAfterShutdownPolicy(false); // close syncs the header instead
        return t;
    }

    /**
     * Rewrites the header of a segment with {@code length} as its synced length (see
     * {@link WalHeader}), at the seal and at the close, after an fdatasync that covered
     * {@code length} bytes; the caller holds writeLock. At the seal it is not synced again: in a
     * segment that is not the last one, replay takes any damage for damage anyway.
     */
    private void writeHeader(WalSegment seg, long length) throws IOException {
        try {
            seg.file().write(new WalHeader(volumeId, seg.firstSeq(), epoch, length).encode(), 0);
        } catch (IOException e) {
            broken = new IOException("rewriting the header of WAL segment " + seg + " failed; reopen the volume", e);
            throw broken;
        }
        if (length > seg.syncedMark()) {
            seg.syncedMark(length);
        }
    }

    /**
     * Cuts a reused file's old records behind the segment's own, so that a sealed segment ends
     * exactly at its last record, as replay requires of every segment but the last.
     */
    private void cutToRecords(WalSegment seg) throws IOException {
        try {
            if (seg.file().size() > seg.size()) {
                seg.file().truncate(seg.size());
            }
        } catch (IOException e) {
            broken = new IOException("truncating WAL segment " + seg + " to its records failed; reopen the volume", e);
            throw broken;
        }
    }

    /**
     * fdatasync; a failure poisons the WAL: after a failed fsync the kernel may have dropped the
     * dirty pages, so nothing written since the last good one can be trusted to be on disk.
     */
    private void forceOrBreak(WalSegment seg) throws IOException {
        try {
            seg.file().force();
        } catch (IOException e) {
            broken = new IOException("fdatasync of WAL segment " + seg + " failed; reopen the volume", e);
            throw broken;
        }
    }

    /**
     * Seals the active segment if it holds any record, so the consolidator can take it; returns
     * the sealed segment or null.
     */
    public WalSegment sealActive() throws IOException {
        writeLock.lock();
        try {
            checkUsable();
            WalSegment seg = active;
            if (seg.size() <= WalHeader.LENGTH) {
                return null;
            }
            rotate(writtenSeq + 1); // every written record is below it, every queued one above
            return seg;
        } finally {
            writeLock.unlock();
        }
    }

    /** Runs {@code listener} (it must not block) each time a segment is sealed: it is ready for consolidation. */
    public void onSeal(Runnable listener) {
        this.sealListener = listener;
    }

    /** The oldest sealed segment, or null. */
    public WalSegment oldestSealed() {
        writeLock.lock();
        try {
            for (WalSegment s : segments) {
                if (s.sealed()) {
                    return s;
                }
            }
            return null;
        } finally {
            writeLock.unlock();
        }
    }

    /**
     * Lets consolidated segments keep serving reads (see the class comment) until newer ones
     * pass {@code bytes}, or while the WAL's file system keeps {@code room} bytes free besides
     * them (the oldest go first, as many as that room needs); {@code forget} runs before a kept
     * segment goes, and must make sure no reader looks for its records in it any more.
     */
    public void keepConsolidated(long bytes, long room, Consumer<WalSegment> forget) {
        this.keepBytes = bytes;
        this.keepRoom = room;
        this.forget = forget;
    }

    /**
     * A consolidated segment: it no longer counts as pending. It is kept for reads while the
     * kept ones fit in {@code keepBytes} and leave the disk its room; after that, its records are
     * forgotten and its file deleted (or kept as a spare) once no reader holds it.
     */
    public void retire(WalSegment seg) throws IOException {
        long free = usableSpace(); // a statfs: not under the appenders' lock
        List<WalSegment> drop;
        writeLock.lock();
        try {
            segments.remove(seg);
            pendingBytes.addAndGet(-seg.size());
            kept.add(seg);
            keptBytes += seg.size();
            long shortOfRoom = Math.max(0, keepRoom - free);
            drop = takeKept(Math.max(0, Math.min(keepBytes, keptBytes - shortOfRoom)));
        } finally {
            writeLock.unlock();
        }
        let(drop);
    }

    /** Lets every kept segment go (a drain, or the disk is full). */
    public void releaseKept() throws IOException {
        List<WalSegment> drop;
        writeLock.lock();
        try {
            drop = takeKept(0);
        } finally {
            writeLock.unlock();
        }
        let(drop);
    }

    /**
     * Lets the kept segment whose file is chunk {@code chunkSeq} ({@link WalSegment#linkedAs}) go
     * now, not when newer segments push it out: that chunk is garbage, so no block's newest
     * version is in the segment and it serves no read, while its name holds a file the WAL could
     * take back as a spare ({@link #recycle}). Nothing if no kept segment is that chunk.
     */
    public void letGoOfChunk(long chunkSeq) throws IOException {
        WalSegment found = null;
        writeLock.lock();
        try {
            for (java.util.Iterator<WalSegment> it = kept.iterator(); it.hasNext(); ) {
                WalSegment s = it.next();
                if (s.chunk() == chunkSeq) {
                    it.remove();
                    keptBytes -= s.size();
                    found = s;
                    break;
                }
            }
        } finally {
            writeLock.unlock();
        }
        if (found != null) {
            let(List.of(found));
        }
    }

    /** Bytes of consolidated segments still kept for reads. */
    public long keptBytes() {
        writeLock.lock();
        try {
            return keptBytes;
        } finally {
            writeLock.unlock();
        }
    }

    /** Takes the oldest kept segments off the list until the rest fit in {@code limit}; under writeLock. */
    private List<WalSegment> takeKept(long limit) {
        List<WalSegment> drop = new ArrayList<>();
        while (keptBytes > limit && !kept.isEmpty()) {
            WalSegment s = kept.poll();
            keptBytes -= s.size();
            drop.add(s);
        }
        return drop;
    }

    /** Lets each segment go, all of them even if deleting one fails (the first failure is thrown after). */
    private void let(List<WalSegment> drop) throws IOException {
        IOException first = null;
        for (WalSegment s : drop) {
            forget.accept(s); // first: a reader that still finds the segment's records must find the segment
            byIndex.remove(s.index());
            try {
                s.retire();
            } catch (IOException e) {
                first = first == null ? e : first; // the file is removed at the next open
            }
        }
        if (first != null) {
            throw first;
        }
    }

    /** The WAL's file system has room for fewer than {@link #SPARE_MIN_FREE_SEGMENTS} more segments (or cannot say). */
    private boolean diskShort() {
        return usableSpace() < SPARE_MIN_FREE_SEGMENTS * segmentBytes;
    }

    /** Bytes the WAL's file system has free for us; none if it cannot say. */
    private long usableSpace() {
        try {
            return fs.usableSpace(dir);
        } catch (IOException e) {
            return 0;
        }
    }

    /** The segment holding WAL position {@code position} with a reference taken, or null if it is gone. */
    public WalSegment acquire(long position) {
        WalSegment s = byIndex.get(WalSegment.segmentIndex(position));
        return s != null && s.acquire() ? s : null;
    }

    public WalSegment active() { return active; }

    /** Bytes in segments not yet consolidated (sealed and active). */
    public long pendingBytes() {
        return pendingBytes.get();
    }

    public int segmentCount() {
        writeLock.lock();
        try {
            return segments.size();
        } finally {
            writeLock.unlock();
        }
    }

    public long writeCalls() { return writeCalls.sum(); }
    public long recordsWritten() { return recordsWritten.sum(); }
    public long syncCalls() { return syncCalls.sum(); }
    public LatencyHistogram.Snapshot syncLatency() { return syncLatency.snapshot(); }
    public long bytesWritten() { return bytesWritten.sum(); }
    /**
     * Checks whole blocks read from {@code seg} at {@code offset} against the CRCs their writes
     * came with ({@link WalSegment#verifyBlocks}). Their CRCs are computed first, without a lock
     * (the bytes are the caller's); only the comparison takes the write lock, which the segment
     * still taking writes adds its CRCs under, so they cannot move meanwhile. For the reads that
     * write blocks again with CRCs of their own (Volume): a partial write's merge, and the
     * defragmenter's rewrite, which runs only while no client is there.
     *
     * @throws io.viperblock.core.format.CorruptFormatException if a block is not what was written
     */
    public void verifyBlocks(WalSegment seg, long offset, ByteBuffer data) throws IOException {
        int[] crcs = new int[data.remaining() / Formats.BLOCK_SIZE];
        Crc32c.ofBlocks(data, crcs);
        writeLock.lock();
        try {
            seg.verifyBlocks(offset, crcs);
        } finally {
            writeLock.unlock();
        }
    }

    /** Spares {@link #fillSpare} would still fill: the segments that lacked one since the last fills. */
    public int sparesLacked() {
        synchronized (spares) {
            return sparesLacked;
        }
    }
    /** Spares made by {@link #fillSpare} since the open. */
    public long sparesFilled() { return sparesFilled.sum(); }
    public long syncedSeq() { return syncedSeq; }

    private void checkUsable() throws IOException {
        IOException b = broken;
        if (b != null) {
            throw new IOException(b.getMessage(), b);
        }
    }

    /** Closes every segment file without syncing (crash tests: what a kill -9 leaves behind). */
    public void abandon() {
        broken = new IOException("WAL abandoned");
        closing = true;
        backgroundSync.shutdownNow();
        writeLock.lock();
        try {
            List<WalSegment> all = new ArrayList<>(segments);
            all.addAll(kept);
            for (WalSegment s : all) {
                try {
                    s.close();
                } catch (IOException ignored) {
                    // the process is "dead": nothing to report to
                }
            }
            try {
                mark.close();
            } catch (IOException ignored) {
                // as above
            }
        } finally {
            writeLock.unlock();
        }
    }

    /** Syncs and closes every segment file (the files stay for the next open to replay). */
    @Override
    public void close() throws IOException {
        backgroundSync.shutdown();
        try {
            backgroundSync.awaitTermination(1, java.util.concurrent.TimeUnit.MINUTES);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        writeLock.lock();
        try {
            IOException first = null;
            closing = true;
            if (broken == null) {
                try {
                    long length = active.size();
                    cutToRecords(active);
                    active.file().force();
                    writeHeader(active, length);
                    active.file().force(); // the next open finds every record marked as flushed
                } catch (IOException e) {
                    first = e;
                }
            }
            for (WalSegment s : segments) {
                try {
                    s.close();
                } catch (IOException e) {
                    if (first == null) {
                        first = e;
                    }
                }
            }
            for (WalSegment s : takeKept(0)) { // consolidated: nothing to keep them for after the close
                try {
                    s.retire();
                } catch (IOException e) {
                    if (first == null) {
                        first = e;
                    }
                }
            }
            try {
                mark.close();
            } catch (IOException e) {
                if (first == null) {
                    first = e;
                }
            }
            if (first != null) {
                throw first;
            }
        } finally {
            writeLock.unlock();
        }
    }
}
