package io.viperblock.core.volume;

import io.viperblock.core.NoSpaceException;
import io.viperblock.core.format.ChunkBuilder;
import io.viperblock.core.format.ChunkFooter;
import io.viperblock.core.format.Formats;
import io.viperblock.core.format.MapDelta;
import io.viperblock.core.format.WalRecord;
import io.viperblock.core.io.NioFs;
import io.viperblock.core.map.BlockMap;
import io.viperblock.core.map.ExtentMap;
import io.viperblock.core.store.ObjectStore;
import io.viperblock.core.store.StoreFullException;
import io.viperblock.core.wal.RecordList;
import io.viperblock.core.wal.WalSegment;
import io.viperblock.core.wal.WalWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves sealed WAL segments into the store, oldest first, in the order durability rule 3 demands:
 * take the newest version of each block in the segment, pack them sorted into chunks, upload the
 * chunks (a bounded number at once), write the map delta naming them, apply it to the in-memory
 * map, drop from the dirty index what was not overwritten meanwhile, and only then delete the
 * segment. Every {@code checkpointEvery} deltas it writes a compacted map checkpoint.
 *
 * <p>Failures leave the segment in place (its records stay readable from the WAL) and are retried
 * with backoff; the chunks of a failed attempt are never reused (their sequence numbers are
 * spent). A full store is remembered so that writers past the backlog bound get ENOSPC instead
 * of waiting.
 *
 * <p>Thread-safety: one background thread; {@link #drain()} runs a pass on the caller's thread
 * under the same {@code passLock}, so two passes never overlap.
 */
final class Consolidator implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Consolidator.class);
    private static final int BLOCK = Formats.BLOCK_SIZE;

    private final Volume volume;
    private final ObjectStore store;
    private final VolumeKeys keys;
    private final WalWriter wal;
    private final BlockMap map;
    private final AtomicLong nextSeq;
    private final Lease lease;
    private final long epoch;
    private final VolumeConfig config;
    private final ExecutorService uploaders;
    private final Semaphore uploadSlots;
    /** Direct chunk buffers, reused: one per upload slot plus the one being filled. */
    private final java.util.concurrent.BlockingQueue<ByteBuffer> chunkBuffers;
    private final ReentrantLock passLock = new ReentrantLock();
    private final ReentrantLock signalLock = new ReentrantLock();
    private final Condition wake = signalLock.newCondition();
    private final Thread thread;
    final ChunkCollector collector;
    /** When the collector last looked (System.nanoTime); set one {@code sweepEvery} back at first, so the first consolidation looks. */
    private long lastSweep;
    private volatile boolean stopping;
    private volatile IOException lastError;
    /** Whether to try {@link #link}: until the store first says it cannot. Read by the collector's thread too. */
    private volatile boolean linking = true;
    /**
     * While the WAL wants spares, the collector looks at least this often where the store links
     * segments (for {@link WalWriter#recycle}), so that under a steady stream of writes the
     * segments that die come back as spares within about a second.
     */
    private static final long RECYCLE_SWEEP_NANOS = 1_000_000_000L;

    final LongAdder runs = new LongAdder();
    final LongAdder chunksWritten = new LongAdder();
    /** Chunks that are segment files ({@link #link}), among {@link #chunksWritten}. */
    final LongAdder chunksLinked = new LongAdder();
    final LongAdder bytesWritten = new LongAdder();
    final LongAdder checkpoints = new LongAdder();
    final LongAdder failures = new LongAdder();

    Consolidator(Volume volume, ObjectStore store, VolumeKeys keys, WalWriter wal, BlockMap map, AtomicLong nextSeq, Lease lease,
            VolumeConfig config) {
        this.volume = volume;
        this.store = store;
        this.keys = keys;
        this.wal = wal;
        this.map = map;
        this.nextSeq = nextSeq;
        this.lease = lease;
        this.epoch = lease.epoch();
        this.config = config;
        this.uploaders = Executors.newFixedThreadPool(config.uploadParallelism(),
                Thread.ofPlatform().daemon().name("vb-upload-" + keys.volume() + "-", 0).factory());
        this.uploadSlots = new Semaphore(config.uploadParallelism());
        this.chunkBuffers = new java.util.concurrent.ArrayBlockingQueue<>(config.uploadParallelism() + 1);
        this.thread = Thread.ofPlatform().daemon().name("vb-consolidate-" + keys.volume()).unstarted(this::loop);
        // a store that takes the WAL's files as chunks gives them back as spares once they are garbage
        this.collector = new ChunkCollector(store, keys, volume.reads, (seq, key) -> linking && takeBack(seq, key));
        this.lastSweep = System.nanoTime() - config.sweepEvery().toNanos();
    }

    /**
     * A garbage chunk that may be a linked segment's file: the WAL lets the segment go if it still
     * keeps it (it serves no read now), then takes the file as a spare if it wants one.
     */
    private boolean takeBack(long seq, String key) {
        try {
            wal.letGoOfChunk(seq);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return wal.recycle(seq, (target, minBytes) -> store.moveTo(key, target, minBytes));
    }

    void start() {
        thread.start();
    }

    /** The error of the last failed pass, cleared by a successful one. */
    IOException lastError() {
        return lastError;
    }

    boolean storeFull() {
        return lastError instanceof NoSpaceException || lastError instanceof StoreFullException;
    }

    void wakeUp() {
        signalLock.lock();
        try {
            wake.signalAll();
        } finally {
            signalLock.unlock();
        }
    }

    private void loop() {
        long backoffMs = 0;
        while (!stopping) {
            try {
                if (backoffMs > 0) {
                    sleep(backoffMs);
                } else if (!passDue()) {
                    sleep(Math.max(10, config.sealAfter().toMillis() / 4));
                    continue;
                }
                if (stopping) {
                    break;
                }
                passLock.lock();
                try {
                    WalSegment active = wal.active();
                    if (wal.oldestSealed() == null && active.hasRecords()
                            && System.nanoTime() - active.createdNanos() >= config.sealAfter().toNanos()) {
                        wal.sealActive();
                    }
                    WalSegment s;
                    while (!stopping && (s = wal.oldestSealed()) != null) {
                        consolidate(s);
                    }
                } finally {
                    passLock.unlock();
                }
                lastError = null;
                backoffMs = 0;
            } catch (VolumeFencedException e) {
                lastError = e;
                volume.fence(e);
                break; // for good: another node owns the volume now
            } catch (IOException | RuntimeException e) {
                failures.increment();
                lastError = e instanceof IOException io ? io : new IOException(e.toString(), e);
                backoffMs = Math.min(5000, Math.max(100, backoffMs * 2));
                log.warn("volume {}: consolidation failed, retrying in {} ms: {}", keys.volume(), backoffMs, e.toString());
            } catch (InterruptedException e) {
                break;
            } finally {
                volume.signalRoom();
            }
        }
    }

    private boolean passDue() {
        if (wal.oldestSealed() != null) {
            return true;
        }
        WalSegment active = wal.active();
        return active.hasRecords() && System.nanoTime() - active.createdNanos() >= config.sealAfter().toNanos();
    }

    private void sleep(long ms) throws InterruptedException {
        signalLock.lock();
        try {
            if (stopping) {
                return; // close() set it before signalling under this lock: its wake-up may have come already
            }
            wake.await(ms, TimeUnit.MILLISECONDS);
        } finally {
            signalLock.unlock();
        }
    }

    /** Consolidates everything written so far, on the caller's thread; errors reach the caller. */
    void drain() throws IOException {
        passLock.lock();
        try {
            wal.sealActive();
            WalSegment s;
            while ((s = wal.oldestSealed()) != null) {
                consolidate(s);
            }
            wal.releaseKept(); // every read goes to the store now, and the WAL holds only the active segment
            lastError = null;
        } catch (VolumeFencedException e) {
            volume.fence(e);
            throw e;
        } finally {
            passLock.unlock();
            volume.signalRoom();
        }
    }

    private void consolidate(WalSegment seg) throws IOException {
        long started = System.nanoTime();
        while (!seg.fullyPublished()) {
            // an appender is between its WAL write and its dirty-index update: a matter of microseconds
            Thread.onSpinWait();
            Thread.yield();
        }
        // The newest version of each block in this segment: later records override earlier ones.
        ExtentMap live = new ExtentMap(BLOCK);
        RecordList recs = seg.records();
        for (int i = 0; i < recs.size(); i++) {
            long pos = recs.type(i) == WalRecord.WRITE ? recs.payloadOffset(i) : ExtentMap.ZERO;
            live.put(recs.firstBlock(i), recs.count(i), recs.seq(i), pos);
        }
        List<long[]> runs = new ArrayList<>(); // {start, length, seq, offset-in-segment or ZERO}
        live.forEachAll((start, length, seq, pos) -> runs.add(new long[] {start, length, seq, pos}));

        List<MapDelta.ChunkRef> chunks = new ArrayList<>();
        List<MapDelta.Entry> entries = new ArrayList<>();
        List<Future<?>> uploads = new ArrayList<>();
        ChunkBuilder builder = null;
        long chunkSeq = 0;
        int[] crcs = recs.blockCrcs(); // computed as the writes came in; null after a replay
        long linkedAs = linking && crcs != null ? link(seg, recs, runs, crcs, chunks, entries) : -1;
        if (linkedAs >= 0) {
            runs.clear(); // the segment's file is the chunk: nothing to copy
        }
        try {
            for (long[] run : runs) {
                if (run[3] == ExtentMap.ZERO) {
                    entries.add(MapDelta.Entry.hole(run[0], run[1]));
                    continue;
                }
                for (long j = 0; j < run[1]; ) {
                    if (builder == null) {
                        chunkSeq = nextSeq.getAndIncrement();
                        builder = new ChunkBuilder(chunkSeq, epoch, chunkBuffer());
                    }
                    // as much of the run as the chunk takes, read from the WAL straight into it
                    int n = (int) Math.min(builder.free(), run[1] - j);
                    int entryOffset = builder.count();
                    long from = run[3] + j * BLOCK;
                    builder.addRun(run[0] + j, run[2], n, dst -> seg.read(dst, from), crcs, crcs == null ? 0 : recs.blockCrcIndex(from));
                    entries.add(MapDelta.Entry.data(run[0] + j, n, chunkSeq, entryOffset));
                    j += n;
                    if (builder.isFull()) {
                        chunks.add(new MapDelta.ChunkRef(chunkSeq, builder.count()));
                        uploads.add(upload(chunkSeq, builder.finish()));
                        builder = null;
                    }
                }
            }
            if (builder != null) {
                chunks.add(new MapDelta.ChunkRef(chunkSeq, builder.count()));
                uploads.add(upload(chunkSeq, builder.finish()));
            }
        } finally {
            awaitAll(uploads);
        }
        // Rule 3: the chunks are durable; now the delta that names them, if this node still owns
        // the volume. (A takeover after this check leaves the delta an orphan no reader applies.)
        lease.checkCurrent();
        long deltaSeq = nextSeq.getAndIncrement();
        MapDelta delta = new MapDelta(deltaSeq, map.lastDeltaSeq(), seg.lastSeq(), epoch, chunks, entries);
        store.put(keys.delta(deltaSeq), delta.encode());
        volume.applyConsolidated(delta);
        if (linkedAs >= 0) {
            // the map names the segment's file as this chunk (not so after a failed delta: the
            // chunk linked then is an orphan, and the retry copies), so the WAL may let the
            // segment go once the chunk is garbage (WalWriter.letGoOfChunk)
            seg.linkedAs(linkedAs);
        }
        // Only now may the segment go: the delta covering it is durable. (Its file still serves
        // reads of its blocks for a while: WalWriter.keepConsolidated.)
        wal.retire(seg);
        this.runs.increment();
        log.debug("volume {}: consolidated {} ({} records, {} chunks) in {} ms", keys.volume(), seg, recs.size(), chunks.size(),
                (System.nanoTime() - started) / 1_000_000);
        boolean checkpointed = map.deltasSinceCheckpoint() >= config.checkpointEvery();
        if (checkpointed) {
            checkpoint();
        }
        long sinceSweep = System.nanoTime() - lastSweep;
        if (checkpointed || sinceSweep >= config.sweepEvery().toNanos() || (linking && sinceSweep >= RECYCLE_SWEEP_NANOS && wal.wantsSpares())) {
            sweep();
        }
    }

    /**
     * Makes the sealed segment's own file the one chunk of its blocks, where the store can take it
     * without a copy ({@link ObjectStore#link}: a file store on the WAL's file system): a
     * version-2 footer naming the live blocks where they lie in the segment is appended to the
     * file (FORMATS.md, "Chunk"), and the file is linked under the chunk's key. So a block is
     * written to the disk once, into the WAL, instead of a second time into a chunk. Fills
     * {@code chunks} and {@code entries} and returns the chunk's sequence number; returns -1,
     * changing neither, for the caller to copy the blocks instead: a store that cannot link (then never tried again), a
     * segment larger than a chunk may be, one without live data, or one that has a footer already
     * (an attempt that failed after it: that footer names a chunk already linked, which stays an
     * orphan for the collector, and must not change).
     */
    private long link(WalSegment seg, RecordList recs, List<long[]> runs, int[] crcs, List<MapDelta.ChunkRef> chunks,
            List<MapDelta.Entry> entries) throws IOException {
        long slotCount = (seg.size() + BLOCK - 1) / BLOCK;
        if (slotCount > ChunkFooter.MAX_SLOTS || runs.stream().allMatch(run -> run[3] == ExtentMap.ZERO) || seg.extended()) {
            return -1;
        }
        int slots = (int) slotCount;
        long[] blocks = new long[slots];
        java.util.Arrays.fill(blocks, -1);
        long[] seqs = new long[slots];
        int[] blockCrcs = new int[slots];
        int[] shifts = new int[slots];
        long chunkSeq = nextSeq.getAndIncrement();
        List<MapDelta.Entry> linked = new ArrayList<>();
        for (long[] run : runs) { // {start, length, seq, offset-in-segment or ZERO}
            if (run[3] == ExtentMap.ZERO) {
                linked.add(MapDelta.Entry.hole(run[0], run[1]));
                continue;
            }
            int crcFrom = recs.blockCrcIndex(run[3]);
            for (int j = 0; j < run[1]; j++) {
                long offset = run[3] + (long) j * BLOCK;
                int slot = (int) (offset / BLOCK);
                blocks[slot] = run[0] + j;
                seqs[slot] = run[2];
                blockCrcs[slot] = crcs[crcFrom + j];
                shifts[slot] = (int) (offset % BLOCK);
            }
            // a run lies within one record: its blocks fill consecutive slots at one shift
            linked.add(MapDelta.Entry.data(run[0], run[1], chunkSeq, (int) (run[3] / BLOCK)));
        }
        seg.appendChunkFooter(ChunkFooter.encodeSlots(chunkSeq, epoch, slots, blocks, seqs, blockCrcs, shifts), (long) slots * BLOCK);
        if (!store.link(keys.chunk(chunkSeq), seg.path())) {
            linking = false;
            log.info("volume {}: {} cannot take WAL segment files as chunks (another file system?): consolidation copies blocks into chunks",
                    keys.volume(), store.describe());
            return -1;
        }
        chunks.add(new MapDelta.ChunkRef(chunkSeq, slots));
        entries.addAll(linked);
        chunksWritten.increment();
        chunksLinked.increment();
        return chunkSeq;
    }

    void checkpoint() throws IOException {
        long ckptSeq = nextSeq.getAndIncrement();
        map.writeCheckpoint(store, keys.mapPrefix(), keys::checkpoint, ckptSeq, epoch, nextSeq.get() - 1);
        checkpoints.increment();
    }

    /**
     * Looks for chunks the map no longer names (ChunkCollector): after each checkpoint, and after
     * any other consolidation once {@code sweepEvery} has passed since the last look, so that a
     * volume whose process restarts before its first checkpoint still loses its garbage. Every chunk
     * numbered below the map's last delta is either named by an extent or garbage: no upload of
     * this writer is in flight between consolidations.
     */
    private void sweep() throws IOException {
        lastSweep = System.nanoTime();
        java.util.Map<Long, Integer> named = map.liveChunks(); // the map's only writer reads it without the view lock
        try {
            collector.sweep(named::containsKey, map.lastDeltaSeq(), lease, volume::chunkDeleted);
        } catch (VolumeFencedException e) {
            throw e;
        } catch (IOException e) {
            log.warn("volume {}: looking for unreferenced chunks failed, tried again after the next consolidation: {}", keys.volume(),
                    e.toString());
        }
    }

    /**
     * A direct buffer for the next chunk: a reused one, or a new one while fewer than the pool's
     * size exist. Page-aligned, so that a file store can write the chunk past the page cache.
     */
    private ByteBuffer chunkBuffer() {
        ByteBuffer b = chunkBuffers.poll();
        return b != null ? b : ByteBuffer.allocateDirect(ChunkBuilder.CAPACITY + 2 * NioFs.DIRECT_ALIGN).alignedSlice(NioFs.DIRECT_ALIGN);
    }

    /** Uploads a finished chunk; its buffer goes back to the pool once the store has it. */
    private Future<?> upload(long chunkSeq, ByteBuffer object) throws IOException {
        try {
            uploadSlots.acquire();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            chunkBuffers.offer(object.clear());
            throw new java.io.InterruptedIOException("interrupted while uploading chunks");
        }
        try {
            return uploaders.submit(() -> {
                try {
                    int size = object.remaining();
                    store.put(keys.chunk(chunkSeq), object);
                    chunksWritten.increment();
                    bytesWritten.add(size);
                    return null;
                } finally {
                    chunkBuffers.offer(object.clear()); // full pool: the buffer is left to the garbage collector
                    uploadSlots.release();
                }
            });
        } catch (RuntimeException e) {
            uploadSlots.release();
            throw e;
        }
    }

    private static void awaitAll(List<Future<?>> uploads) throws IOException {
        IOException first = null;
        for (Future<?> f : uploads) {
            try {
                f.get();
            } catch (ExecutionException e) {
                Throwable c = e.getCause();
                IOException io = c instanceof IOException x ? x : new IOException("chunk upload failed: " + c, c);
                if (first == null) {
                    first = io;
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                if (first == null) {
                    first = new java.io.InterruptedIOException("interrupted while waiting for chunk uploads");
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    @Override
    public void close() {
        stopping = true;
        wakeUp();
        try {
            thread.join(30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        uploaders.shutdownNow();
        collector.close();
    }
}
