package io.viperblock.core.volume;

import io.viperblock.core.NoSpaceException;
import io.viperblock.core.chunk.ChunkReader;
import io.viperblock.core.format.Formats;
import io.viperblock.core.format.MapDelta;
import io.viperblock.core.format.WalRecord;
import io.viperblock.core.map.BlockMap;
import io.viperblock.core.map.ExtentMap;
import io.viperblock.core.wal.RecordList;
import io.viperblock.core.wal.WalSegment;
import io.viperblock.core.wal.WalWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An open volume: byte-addressed reads and writes over 4 KiB blocks, with the durability
 * contract of docs/DESIGN.md. A write returns once it is in the WAL (it survives a crash of the
 * process); {@link #flush()} or a FUA write returns once every earlier write is on stable storage.
 *
 * <p>Where a block's newest version is: the dirty index (blocks in the WAL, not yet consolidated)
 * first, then the block map (blocks in chunks), else it is a hole and reads as zeros.
 *
 * <p>Thread-safety: every method may be called from any number of threads. Changes to a block
 * are serialised by striped locks; the dirty index and the block map are guarded by
 * {@code viewLock}, held only for lookups and updates, never across I/O.
 */
public final class Volume implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Volume.class);
    private static final int BLOCK = Formats.BLOCK_SIZE;
    private static final byte[] ZEROS = new byte[BLOCK];

    private final VolumeMeta meta;
    private final VolumeKeys keys;
    private final VolumeConfig config;
    private final Lease lease;
    private final LocalLock localLock;
    private final AtomicLong nextSeq;
    private final WalWriter wal;
    private final BlockMap map;
    private final ExtentMap dirty;
    private final ChunkReader chunks;
    private final Consolidator consolidator;
    private final Defragmenter defrag;
    private final boolean storeLocal;
    private final StripedLocks stripes = new StripedLocks();
    private final ReentrantLock viewLock = new ReentrantLock();
    /** Every read is counted in while it plans and reads, so that the collector takes no chunk from under it. */
    final ReadGate reads = new ReadGate();
    private final ReentrantLock roomLock = new ReentrantLock();
    private final Condition room = roomLock.newCondition();
    private final VolumeMetrics metrics = new VolumeMetrics();
    private final Recovered recovered;
    private final long blocks;
    private final java.util.concurrent.locks.ReentrantReadWriteLock lifecycle = new java.util.concurrent.locks.ReentrantReadWriteLock();
    private volatile boolean closed;
    /** Set once another node takes the volume over; every operation fails with it from then on. */
    private volatile VolumeFencedException fenced;
    /** Sees every change in sequence order per block (tests replay them to check ordering). */
    volatile ChangeObserver observer;

    /** Called with each WAL record right after it is appended, while its blocks are still locked. */
    interface ChangeObserver {
        void changed(long seq, int type, long firstBlock, int count, ByteBuffer payloadOrNull);
    }

    /** What open found and did. */
    public record Recovered(long walRecords, long walBytes, long tornBytes, long mapExtents, long chunks, long nextSeq) {}

    Volume(VolumeMeta meta, VolumeKeys keys, VolumeConfig config, io.viperblock.core.store.ObjectStore store, Lease lease,
            LocalLock localLock, AtomicLong nextSeq, WalWriter wal, BlockMap map, ExtentMap dirty, Recovered recovered) {
        this.meta = meta;
        this.keys = keys;
        this.config = config;
        this.lease = lease;
        this.localLock = localLock;
        this.nextSeq = nextSeq;
        this.wal = wal;
        this.map = map;
        this.dirty = dirty;
        this.recovered = recovered;
        this.blocks = meta.size() / BLOCK;
        // A local store's chunk files are in the page cache once read: a block cache on the heap
        // would hold a second copy, at the cost of a copy, an allocation and an entry per block
        // read (docs/PERFORMANCE.md). So only a remote store's reads go through one.
        this.storeLocal = store.local();
        this.chunks = new ChunkReader(store, keys::chunk, storeLocal ? 0 : config.cacheBytes());
        this.consolidator = new Consolidator(this, store, keys, wal, map, nextSeq, lease, config);
        wal.onSeal(consolidator::wakeUp);
        wal.keepConsolidated(config.keptWalBytes(), config.maxPendingWalBytes(), this::forgetConsolidated);
        // garbage chunks that were linked segments come back as spares, as many as the WAL may hold
        wal.recycleUpTo(config.maxPendingWalBytes() / config.segmentBytes());
        consolidator.start();
        this.defrag = new Defragmenter(this, config.defragQuiet(), this::clientRequests);
    }

    public String name() { return meta.name(); }
    public long size() { return meta.size(); }
    public VolumeMeta meta() { return meta; }
    public long epoch() { return lease.epoch(); }
    public Recovered recovered() { return recovered; }

    // ---------------------------------------------------------------- reads

    /** Reads {@code length} bytes at {@code offset}. */
    public byte[] read(long offset, int length) throws IOException {
        if (length < 0) {
            throw new OutOfRangeException("volume \"" + name() + "\": negative read length " + length);
        }
        ByteBuffer b = ByteBuffer.allocate(length);
        read(offset, b);
        return b.array();
    }

    /** Fills {@code dst} (its remaining bytes) from {@code offset}. */
    public void read(long offset, ByteBuffer dst) throws IOException {
        read(offset, dst, null);
    }

    /**
     * A run of zeros in a sparse read: {@code length} bytes at {@code offset} bytes from the
     * read's start.
     */
    public record Hole(int offset, int length) {
        public int end() { return offset + length; }
    }

    /**
     * Like {@link #read(long, ByteBuffer)}, but the runs of blocks the volume knows to be zeros
     * without reading anything (never written, trimmed or zeroed) are left unwritten in
     * {@code dst} and returned instead, in order, adjacent runs joined. {@code dst}'s position
     * moves past the whole read as with a plain read. A read that does not start and end on
     * block boundaries, or that would return more than {@code maxHoles} holes, is filled whole
     * and returns none.
     */
    public List<Hole> readSparse(long offset, ByteBuffer dst, int maxHoles) throws IOException {
        int start = dst.position();
        List<Hole> holes = new ArrayList<>();
        read(offset, dst, holes);
        if (holes.size() <= maxHoles) {
            return holes;
        }
        for (Hole h : holes) {
            for (int at = start + h.offset(); at < start + h.end(); at += BLOCK) {
                dst.put(at, ZEROS);
            }
        }
        return List.of();
    }

    /** Reads into {@code dst}; with {@code holes} not null, a sparse read into {@code holes}. */
    private void read(long offset, ByteBuffer dst, List<Hole> holes) throws IOException {
        enter();
        try {
            int length = dst.remaining();
            checkRange("read", offset, length);
            if (length == 0) {
                return;
            }
            long started = System.nanoTime();
            long first = offset / BLOCK;
            long end = (offset + length + BLOCK - 1) / BLOCK;
            int head = (int) (offset % BLOCK);
            if (head == 0 && length % BLOCK == 0) {
                int pieces = readBlocks(first, (int) (end - first), dst, holes, false);
                if (Defragmenter.scattered(pieces, (int) (end - first))) {
                    defrag.note(first, (int) (end - first));
                }
            } else {
                ByteBuffer whole = ByteBuffer.allocate((int) (end - first) * BLOCK);
                readBlocks(first, (int) (end - first), whole, null, false);
                dst.put(whole.array(), head, length);
            }
            metrics.read(length, System.nanoTime() - started);
        } finally {
            exit();
        }
    }

    /** One source of a run of blocks in a read plan. */
    private record Piece(long start, int length, int kind, long tag, long pos, int chunkBlocks) {
        static final int ZERO = 0, WAL = 1, CHUNK = 2;
    }

    /**
     * Reads whole blocks [first, first + count) into {@code dst}; with {@code holes} not null,
     * zero runs are left unwritten and added to it (see {@link #readSparse}). The read is counted
     * in {@link #reads} throughout, so every chunk and segment file its plan names stays, with its
     * contents, until it ends (ChunkCollector). Returns the pieces of data it read, each a run of
     * blocks that lie together in one WAL segment or chunk (see {@link Defragmenter}). With
     * {@code checkWal}, blocks read from the WAL are checked as chunk blocks are
     * ({@link WalWriter#verifyBlocks}): for a caller that writes them again with CRCs of its own.
     */
    private int readBlocks(long first, int count, ByteBuffer dst, List<Hole> holes, boolean checkWal) throws IOException {
        long entered = reads.enter();
        try {
            return readPlanned(first, count, dst, holes, checkWal);
        } finally {
            reads.exit(entered);
        }
    }

    private int readPlanned(long first, int count, ByteBuffer dst, List<Hole> holes, boolean checkWal) throws IOException {
        List<Piece> plan = new ArrayList<>();
        List<WalSegment> held = new ArrayList<>();
        viewLock.lock();
        try {
            long[] cursor = {first};
            dirty.forEach(first, count, (start, length, seq, pos) -> {
                if (start > cursor[0]) {
                    planFromMap(cursor[0], start - cursor[0], plan);
                }
                plan.add(pos == ExtentMap.ZERO ? new Piece(start, (int) length, Piece.ZERO, 0, 0, 0)
                        : new Piece(start, (int) length, Piece.WAL, seq, pos, 0));
                cursor[0] = start + length;
            });
            if (cursor[0] < first + count) {
                planFromMap(cursor[0], first + count - cursor[0], plan);
            }
            for (Piece p : plan) {
                if (p.kind == Piece.WAL) {
                    WalSegment s = wal.acquire(p.pos);
                    if (s == null) {
                        throw new IllegalStateException("WAL segment of position " + Long.toHexString(p.pos) + " is gone while the dirty index names it");
                    }
                    held.add(s);
                }
            }
        } finally {
            viewLock.unlock();
        }
        try {
            int w = 0;
            int pieces = 0;
            for (Piece p : plan) {
                int bytes = p.length * BLOCK;
                ByteBuffer part = dst.slice(dst.position(), bytes);
                switch (p.kind) {
                    case Piece.ZERO -> {
                        if (holes != null) {
                            addHole(holes, (int) (p.start - first) * BLOCK, bytes);
                        } else {
                            for (int i = 0; i < p.length; i++) {
                                part.put(ZEROS);
                            }
                        }
                    }
                    case Piece.WAL -> {
                        WalSegment s = held.get(w++);
                        s.read(part, WalSegment.segmentOffset(p.pos));
                        metrics.walReads.add(p.length);
                        pieces++;
                        if (checkWal) {
                            wal.verifyBlocks(s, WalSegment.segmentOffset(p.pos), part.slice(0, bytes));
                        }
                    }
                    default -> {
                        chunks.read(p.tag, p.chunkBlocks, (int) p.pos, p.length, p.start, part);
                        pieces++;
                    }
                }
                dst.position(dst.position() + bytes);
            }
            return pieces;
        } finally {
            for (WalSegment s : held) {
                s.release();
            }
        }
    }

    /** Adds a hole to a sparse read's list, joined to the last one if it ends where this starts. */
    private static void addHole(List<Hole> holes, int offset, int length) {
        int last = holes.size() - 1;
        if (last >= 0 && holes.get(last).end() == offset) {
            holes.set(last, new Hole(holes.get(last).offset(), holes.get(last).length() + length));
        } else {
            holes.add(new Hole(offset, length));
        }
    }

    /** Adds the map's view of [start, start + length) to the plan; called under viewLock. */
    private void planFromMap(long start, long length, List<Piece> plan) {
        long[] cursor = {start};
        map.extents().forEach(start, length, (s, len, chunkSeq, index) -> {
            if (s > cursor[0]) {
                plan.add(new Piece(cursor[0], (int) (s - cursor[0]), Piece.ZERO, 0, 0, 0));
            }
            plan.add(new Piece(s, (int) len, Piece.CHUNK, chunkSeq, index, map.chunkBlockCount(chunkSeq)));
            cursor[0] = s + len;
        });
        if (cursor[0] < start + length) {
            plan.add(new Piece(cursor[0], (int) (start + length - cursor[0]), Piece.ZERO, 0, 0, 0));
        }
    }

    // ---------------------------------------------------------------- writes

    /** Writes {@code data} at {@code offset}; with {@code fua} it is durable when this returns. */
    public void write(long offset, byte[] data, boolean fua) throws IOException {
        write(offset, ByteBuffer.wrap(data), fua);
    }

    /** Writes the remaining bytes of {@code data} at {@code offset} (the buffer's position is not moved). */
    public void write(long offset, ByteBuffer data, boolean fua) throws IOException {
        enter();
        try {
            int length = data.remaining();
            checkRange("write", offset, length);
            long started = System.nanoTime();
            if (length > 0) {
                change(offset, length, WalRecord.WRITE, data.duplicate());
            }
            if (fua) {
                wal.sync();
                metrics.flushes.increment();
            }
            metrics.write(length, System.nanoTime() - started);
        } finally {
            exit();
        }
    }

    /**
     * Writes {@code data[i]}'s remaining bytes at {@code offsets[i]} for each i below {@code n}, as
     * one group commit: one pass through the block locks and the WAL's lock for all of them,
     * which is what a client's queue of small writes costs otherwise once per write. Each write
     * covers whole blocks (offset and length multiples of 4096, at most
     * {@link WalRecord#MAX_WRITE_BLOCKS} blocks); they apply in order, as {@code n} calls of
     * {@link #write(long, ByteBuffer, boolean)} without FUA would. If any fails, the exception
     * says why and the others may or may not be written.
     *
     * @throws IllegalArgumentException if a write is not of whole blocks
     */
    public void writeAll(long[] offsets, ByteBuffer[] data, int n) throws IOException {
        if (n == 0) {
            return;
        }
        enter();
        try {
            long started = System.nanoTime();
            long[] firsts = new long[n];
            long[] ends = new long[n];
            WalWriter.Record[] records = new WalWriter.Record[n];
            for (int i = 0; i < n; i++) {
                int length = data[i].remaining();
                checkRange("write", offsets[i], length);
                if (offsets[i] % BLOCK != 0 || length % BLOCK != 0 || length == 0 || length / BLOCK > WalRecord.MAX_WRITE_BLOCKS) {
                    throw new IllegalArgumentException("writeAll takes whole blocks, up to " + WalRecord.MAX_WRITE_BLOCKS
                            + ": " + length + " bytes at " + offsets[i]);
                }
                firsts[i] = offsets[i] / BLOCK;
                ends[i] = firsts[i] + length / BLOCK;
                records[i] = WalWriter.record(WalRecord.WRITE, firsts[i], length / BLOCK, data[i].slice());
            }
            long[] held = new long[4];
            stripes.lockAll(firsts, ends, n, held);
            IOException failed;
            try {
                waitForRoom();
                wal.appendAll(records, n);
                failed = publish(records);
            } finally {
                stripes.unlockAll(held);
            }
            if (failed != null) {
                throw failed instanceof NoSpaceException e ? new NoSpaceException(e.getMessage(), e) : new IOException(failed.getMessage(), failed);
            }
            long took = System.nanoTime() - started;
            for (int i = 0; i < n; i++) {
                metrics.write(data[i].remaining(), took);
            }
        } finally {
            exit();
        }
    }

    /** Makes the range read as zeros; whole blocks become holes (no zero bytes are stored). */
    public void writeZeroes(long offset, long length, boolean fua) throws IOException {
        enter();
        try {
            checkRange("write", offset, length);
            if (length > 0) {
                change(offset, length, WalRecord.ZERO, null);
            }
            metrics.zeroes.increment();
            if (fua) {
                wal.sync();
            }
        } finally {
            exit();
        }
    }

    /**
     * Discards the range. Here a trim is exact: the range reads as zeros afterwards (whole blocks
     * become holes; the partial blocks at either end are zeroed), so a trim never leaves
     * unpredictable contents behind.
     */
    public void trim(long offset, long length) throws IOException {
        enter();
        try {
            checkRange("trim", offset, length);
            if (length > 0) {
                change(offset, length, WalRecord.TRIM, null);
            }
            metrics.trims.increment();
        } finally {
            exit();
        }
    }

    /**
     * Whether a read or write now waits on nothing slower than the local disk: the store is on
     * this machine ({@link io.viperblock.core.store.ObjectStore#local()}) and writes are not held
     * back by the WAL's bound. A flush waits on the local disk only, whatever this says.
     */
    public boolean answersLocally() {
        return storeLocal && wal.pendingBytes() <= config.maxPendingWalBytes();
    }

    /** Flush: every write acknowledged before this call is on stable storage when it returns. */
    public void flush() throws IOException {
        enter();
        try {
            long started = System.nanoTime();
            wal.sync();
            metrics.flush(System.nanoTime() - started);
        } finally {
            exit();
        }
    }

    /**
     * Applies a write ({@code data} non-null) or a zero/trim to [offset, offset + length): partial
     * blocks at the ends are read, merged and written whole; whole blocks of a zero or trim become
     * one metadata record.
     */
    private void change(long offset, long length, int type, ByteBuffer data) throws IOException {
        long first = offset / BLOCK;
        long end = (offset + length + BLOCK - 1) / BLOCK;
        long locked = stripes.lock(first, end);
        try {
            if (type == WalRecord.WRITE) {
                writeLocked(offset, data);
                return;
            }
            long fullFirst = (offset + BLOCK - 1) / BLOCK;
            long fullEnd = (offset + length) / BLOCK;
            if (fullFirst >= fullEnd) { // inside one block, or across one boundary without a whole block
                writeLocked(offset, ByteBuffer.allocate((int) length));
                return;
            }
            if (offset % BLOCK != 0) {
                writeLocked(offset, ByteBuffer.allocate((int) (fullFirst * BLOCK - offset)));
            }
            for (long b = fullFirst; b < fullEnd; ) {
                int n = (int) Math.min(fullEnd - b, Integer.MAX_VALUE);
                append(type, b, n, null);
                b += n;
            }
            long tail = offset + length - fullEnd * BLOCK;
            if (tail > 0) {
                writeLocked(fullEnd * BLOCK, ByteBuffer.allocate((int) tail));
            }
        } finally {
            stripes.unlock(locked);
        }
    }

    /**
     * Writes the data blocks of [first, first + count) again, unchanged, if a read of them finds
     * them {@link Defragmenter#scattered}: the new WAL records hold them in order, so they come
     * to lie together in the WAL and then in one chunk. Holes stay holes. The blocks' stripes are
     * held from the read to the write, so no client write can come between them (it would be
     * undone). The new records get CRCs of their own, so what is read from the WAL is checked
     * first against the CRCs it was written with (chunk blocks always are): damage read there
     * fails the rewrite instead of becoming good data. Not a client request: it counts in no
     * request metric. Returns the blocks written.
     */
    int rewrite(long first, int count) throws IOException {
        enter();
        try {
            long end = Math.min(first + count, blocks);
            if (first >= end) {
                return 0;
            }
            int n = (int) (end - first);
            long locked = stripes.lock(first, end);
            try {
                ByteBuffer data = ByteBuffer.allocate(n * BLOCK);
                List<Hole> holes = new ArrayList<>();
                int pieces = readBlocks(first, n, data, holes, true);
                if (!Defragmenter.scattered(pieces, n)) {
                    return 0;
                }
                int written = 0;
                int at = 0;
                for (Hole h : holes) {
                    written += rewriteRun(first, data, at, h.offset());
                    at = h.end();
                }
                return written + rewriteRun(first, data, at, n * BLOCK);
            } finally {
                stripes.unlock(locked);
            }
        } finally {
            exit();
        }
    }

    /** Writes bytes [from, to) of {@code data}, read from block {@code first} on, back where they came from; the blocks written. */
    private int rewriteRun(long first, ByteBuffer data, int from, int to) throws IOException {
        if (to <= from) {
            return 0;
        }
        writeLocked(first * BLOCK + from, data.slice(from, to - from));
        return (to - from) / BLOCK;
    }

    /**
     * Fills one spare WAL file, if the WAL lacked spares since the last fills (quiet-time work:
     * {@link WalWriter#fillSpare}); {@code stop} says when a client is back. Whether one was filled.
     */
    boolean fillSpare(java.util.function.BooleanSupplier stop) {
        return wal.fillSpare(nextSeq::getAndIncrement, stop);
    }

    /** Whether the WAL is mostly consolidated (at most a quarter of its bound pending): the defragmenter may add to it. */
    boolean walQuiet() {
        return wal.pendingBytes() <= config.maxPendingWalBytes() / 4;
    }

    /** Client requests so far (reads, writes, zeroes, trims, flushes), for the defragmenter's quiet time. */
    private long clientRequests() {
        return metrics.reads.sum() + metrics.writes.sum() + metrics.zeroes.sum() + metrics.trims.sum() + metrics.flushes.sum();
    }

    /** Writes data at a byte offset; the stripes of its blocks are held. */
    private void writeLocked(long offset, ByteBuffer data) throws IOException {
        int length = data.remaining();
        long first = offset / BLOCK;
        long end = (offset + length + BLOCK - 1) / BLOCK;
        int head = (int) (offset % BLOCK);
        ByteBuffer payload;
        if (head == 0 && length % BLOCK == 0) {
            payload = data.slice(); // slice(index, length) below counts from 0, not from the position
        } else {
            // read-modify-write: only the partial first and last blocks need their old contents
            payload = ByteBuffer.allocate((int) (end - first) * BLOCK);
            if (head != 0) {
                readOldBlock(first, payload.slice(0, BLOCK));
            }
            if ((offset + length) % BLOCK != 0 && (end - 1 > first || head == 0)) {
                readOldBlock(end - 1, payload.slice((int) (end - 1 - first) * BLOCK, BLOCK));
            }
            payload.put(head, data, data.position(), length);
            metrics.partialWrites.increment();
        }
        for (long b = first; b < end; ) {
            int n = (int) Math.min(end - b, WalRecord.MAX_WRITE_BLOCKS);
            ByteBuffer part = payload.slice((int) (b - first) * BLOCK, n * BLOCK);
            append(WalRecord.WRITE, b, n, part);
            b += n;
        }
    }

    /**
     * Reads the old contents of a block that a partial write merges into: the merged block gets a
     * CRC of its own, so what is read from the WAL is first checked against the CRC its write came
     * with, as {@link #rewrite} does (durability rule 2): damage read there fails the write with
     * {@code CorruptFormatException} instead of becoming good data.
     */
    private void readOldBlock(long block, ByteBuffer dst) throws IOException {
        readBlocks(block, 1, dst, null, true);
    }

    private void append(int type, long firstBlock, int count, ByteBuffer payload) throws IOException {
        waitForRoom();
        publish(new WalWriter.Record[] {wal.append(type, firstBlock, count, payload)});
    }

    /**
     * Makes the written records visible, in order: into the dirty index (one pass under
     * {@code viewLock}), then published to the consolidator and shown to the observer. Records
     * that failed are skipped; the first failure is returned, or null. Called with the records'
     * block locks held.
     */
    private IOException publish(WalWriter.Record[] records) {
        IOException failed = null;
        viewLock.lock();
        try {
            for (WalWriter.Record r : records) {
                if (r.error() == null) {
                    dirty.put(r.firstBlock(), r.count(), r.seq(), r.type() == WalRecord.WRITE ? r.position() : ExtentMap.ZERO);
                } else if (failed == null) {
                    failed = r.error();
                }
            }
        } finally {
            viewLock.unlock();
        }
        ChangeObserver o = observer;
        for (WalWriter.Record r : records) {
            if (r.error() == null) {
                r.segment().published();
                if (o != null) {
                    o.changed(r.seq(), r.type(), r.firstBlock(), r.count(), r.payload() == null ? null : r.payload().duplicate());
                }
            }
        }
        return failed;
    }

    /** Backpressure: waits while the unconsolidated WAL is over its bound. */
    private void waitForRoom() throws IOException {
        if (wal.pendingBytes() <= config.maxPendingWalBytes()) {
            return;
        }
        metrics.backpressureWaits.increment();
        consolidator.wakeUp();
        long deadline = System.nanoTime() + config.backpressureTimeout().toNanos();
        roomLock.lock();
        try {
            while (wal.pendingBytes() > config.maxPendingWalBytes()) {
                checkOpen();
                if (fenced != null) {
                    throw new VolumeFencedException(fenced.getMessage());
                }
                if (consolidator.storeFull()) {
                    throw new NoSpaceException("volume \"" + name() + "\": the store is full and " + wal.pendingBytes()
                            + " bytes of WAL wait for it; free space in " + keys.prefix() + "'s store (" + consolidator.lastError().getMessage() + ")",
                            consolidator.lastError());
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    IOException cause = consolidator.lastError();
                    throw new IOException("volume \"" + name() + "\": " + wal.pendingBytes() + " bytes of WAL are waiting for the store and it is not keeping up"
                            + (cause == null ? "" : " (last error: " + cause.getMessage() + ")"), cause);
                }
                room.await(Math.min(left, TimeUnit.MILLISECONDS.toNanos(100)), TimeUnit.NANOSECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while waiting for WAL space");
        } finally {
            roomLock.unlock();
        }
    }

    void signalRoom() {
        roomLock.lock();
        try {
            room.signalAll();
        } finally {
            roomLock.unlock();
        }
    }

    /** Called by the consolidator once {@code delta} is durable: the map names its chunks. */
    void applyConsolidated(MapDelta delta) {
        viewLock.lock();
        try {
            map.apply(delta);
        } finally {
            viewLock.unlock();
        }
    }

    /**
     * Drops from the dirty index what a consolidated segment wrote and was not overwritten since:
     * reads of those blocks go to the map's chunks from now on. Runs before the WAL lets the
     * segment's file go (WalWriter.keepConsolidated).
     */
    private void forgetConsolidated(WalSegment seg) {
        RecordList recs = seg.records();
        viewLock.lock();
        try {
            for (int i = 0; i < recs.size(); i++) {
                dirty.removeMatching(recs.firstBlock(i), recs.count(i), recs.seq(i));
            }
        } finally {
            viewLock.unlock();
        }
    }

    // ---------------------------------------------------------------- status

    /** Which parts of [offset, offset + length) hold data and which are holes, in order, merged. */
    public List<StatusExtent> blockStatus(long offset, long length) throws IOException {
        enter();
        try {
            checkRange("block status", offset, length);
            List<StatusExtent> out = new ArrayList<>();
            if (length == 0) {
                return out;
            }
            long first = offset / BLOCK;
            long end = (offset + length + BLOCK - 1) / BLOCK;
            viewLock.lock();
            try {
                long[] cursor = {first};
                dirty.forEach(first, end - first, (start, len, seq, pos) -> {
                    if (start > cursor[0]) {
                        statusFromMap(cursor[0], start, out);
                    }
                    addStatus(out, start, start + len, pos != ExtentMap.ZERO);
                    cursor[0] = start + len;
                });
                if (cursor[0] < end) {
                    statusFromMap(cursor[0], end, out);
                }
            } finally {
                viewLock.unlock();
            }
            // clip the first and last extent to the byte range asked for
            List<StatusExtent> clipped = new ArrayList<>(out.size());
            for (StatusExtent e : out) {
                long s = Math.max(e.offset(), offset);
                long t = Math.min(e.offset() + e.length(), offset + length);
                clipped.add(new StatusExtent(s, t - s, e.allocated()));
            }
            return clipped;
        } finally {
            exit();
        }
    }

    private void statusFromMap(long from, long to, List<StatusExtent> out) {
        long[] cursor = {from};
        map.extents().forEach(from, to - from, (s, len, chunkSeq, index) -> {
            if (s > cursor[0]) {
                addStatus(out, cursor[0], s, false);
            }
            addStatus(out, s, s + len, true);
            cursor[0] = s + len;
        });
        if (cursor[0] < to) {
            addStatus(out, cursor[0], to, false);
        }
    }

    private static void addStatus(List<StatusExtent> out, long fromBlock, long toBlock, boolean allocated) {
        long off = fromBlock * BLOCK;
        long len = (toBlock - fromBlock) * BLOCK;
        if (!out.isEmpty()) {
            StatusExtent last = out.get(out.size() - 1);
            if (last.allocated() == allocated && last.offset() + last.length() == off) {
                out.set(out.size() - 1, new StatusExtent(last.offset(), last.length() + len, allocated));
                return;
            }
        }
        out.add(new StatusExtent(off, len, allocated));
    }

    // ---------------------------------------------------------------- housekeeping

    /** Consolidates everything written so far into the store, on this thread. */
    public void drain() throws IOException {
        enter();
        try {
            consolidator.drain();
        } finally {
            exit();
        }
    }

    /** Drops cached chunk blocks, so the next reads go to the store (cold-read benchmarks). */
    public void dropCache() {
        chunks.invalidate();
    }

    /** The collector deleted this chunk: no map names it, and its footer need not stay cached. */
    void chunkDeleted(long chunkSeq) {
        chunks.forget(chunkSeq);
    }

    /** A snapshot of the counters. */
    public VolumeStats stats() {
        long extents;
        long mapBytes;
        long dirtyExtents;
        viewLock.lock();
        try {
            extents = map.extents().extentCount();
            mapBytes = map.extents().estimatedBytes();
            dirtyExtents = dirty.extentCount();
        } finally {
            viewLock.unlock();
        }
        IOException err = consolidator.lastError();
        return metrics.snapshot(wal, chunks, consolidator, defrag, extents, mapBytes, map.chunkCount(), dirtyExtents,
                err == null ? null : err.getMessage());
    }

    /** Every operation runs inside enter/exit, so close can wait for the ones in flight. */
    private void enter() throws VolumeFencedException {
        lifecycle.readLock().lock();
        if (closed) {
            lifecycle.readLock().unlock();
            throw new VolumeClosedException(name());
        }
        VolumeFencedException f = fenced;
        if (f != null) {
            lifecycle.readLock().unlock();
            throw new VolumeFencedException(f.getMessage());
        }
    }

    /** Called by the consolidator when it finds the lease taken over: this volume stops for good. */
    void fence(VolumeFencedException e) {
        if (fenced == null) {
            fenced = e;
            log.error("{}; writes pending here: {} bytes of WAL", e.getMessage(), wal.pendingBytes());
        }
        signalRoom();
    }

    /** Whether another node has taken this volume over (see {@link VolumeFencedException}). */
    public boolean isFenced() {
        return fenced != null;
    }

    private void exit() {
        lifecycle.readLock().unlock();
    }

    private void checkOpen() {
        if (closed) {
            throw new VolumeClosedException(name());
        }
    }

    private void checkRange(String what, long offset, long length) {
        if (offset < 0 || length < 0 || offset > meta.size() || length > meta.size() - offset) {
            throw new OutOfRangeException("volume \"" + name() + "\": " + what + " of " + length + " bytes at offset " + offset
                    + " is outside the volume (size " + meta.size() + " bytes)");
        }
    }

    /**
     * Closes the volume: consolidates everything into the store (so that another node opening it
     * next finds every write), syncs and closes the WAL, and releases the lease. If the store
     * cannot take the data, the lease stays with this node and the WAL stays on its disk, so
     * nothing is lost: the next open here replays it.
     */
    @Override
    public void close() throws IOException {
        defrag.close(); // first: its rewrite in flight would hold the lifecycle below
        lifecycle.writeLock().lock(); // waits for the operations in flight
        try {
            if (closed) {
                return;
            }
            closed = true;
        } finally {
            lifecycle.writeLock().unlock();
        }
        IOException failure = fenced;
        if (failure == null) {
            try {
                consolidator.drain();
            } catch (IOException e) {
                failure = e;
            }
        }
        consolidator.close();
        try {
            wal.close();
        } catch (IOException e) {
            failure = failure == null ? e : failure;
        }
        try {
            if (failure == null) {
                lease.release();
            }
        } catch (IOException e) {
            failure = e;
        } finally {
            localLock.close();
            signalRoom();
        }
        if (fenced != null) {
            log.warn("volume {} closed (epoch {}) after a takeover by another node: its WAL on this node is stale and the next open here discards it",
                    name(), epoch());
            throw new VolumeFencedException(fenced.getMessage());
        }
        log.info("volume {} closed (epoch {}): {}", name(), epoch(), failure == null ? "all data in the store, lease released"
                : "WAL kept on this node, lease kept: " + failure.getMessage());
        if (failure != null) {
            throw new IOException("volume \"" + name() + "\" closed with its WAL still on this node (the next open here replays it): "
                    + failure.getMessage(), failure);
        }
    }

    /**
     * Stops the volume the way a kill -9 would, for crash tests: no drain, no sync, no lease
     * release; only this process's own locks and threads go.
     */
    void abandon() throws IOException {
        closed = true;
        defrag.close();
        consolidator.close();
        wal.abandon();
        localLock.close();
        signalRoom();
    }
}
