package io.viperblock.core.volume;

import io.viperblock.core.format.Formats;
import io.viperblock.core.store.ObjectInfo;
import io.viperblock.core.store.ObjectStore;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongConsumer;
import java.util.function.LongPredicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deletes the chunks of a volume that its block map no longer names: every block they held has
 * been written again or trimmed since, so no read planned from now on can reach them. Chunks are
 * immutable and their names never reused, so a chunk the map has let go is never named again.
 *
 * <p>A sweep runs on the consolidator's thread after a consolidation (no upload of this writer is
 * in flight then). It lists the volume's chunks and takes those below the map's last delta that
 * the map does not name. Such a chunk is due once every read that began before the sweep found it
 * has ended ({@link ReadGate}: a read planned against an older map may still name it); the sweep
 * waits a little for those reads, and what is not due yet is due at a later sweep. Once
 * {@link Lease#checkCurrent} has confirmed that this node still holds the volume, the due chunks
 * go to a thread of their own to be deleted ({@link ObjectStore#deleteAll}, a batch at a time),
 * so that consolidation never waits for them. A node taken over may have applied deltas the new
 * holder never saw, and must delete nothing; a takeover after the check changes nothing, as the
 * deltas that let those chunks go were stored before it. The chunks of a consolidation cut short,
 * and those a fenced writer stored, go the same way. A delete that fails is tried again at the
 * next sweep. A {@link Recycler} may take a due chunk's file instead (the WAL's spares: it first
 * has the WAL let go of the segment the chunk was made from, if the WAL still keeps it); a chunk
 * whose file still has another name, that WAL segment (a read in flight still holds it), waits
 * for a later sweep rather than being deleted, as deleting it would free nothing and the WAL can
 * take the file once its own name goes.
 *
 * <p>Snapshots and clones, when they come, will name chunks too; a sweep must then keep every
 * chunk any of them names.
 *
 * <p>Thread-safety: {@link #sweep} on one thread at a time (the consolidator's pass lock); the
 * counters and {@link #awaitDeletes} from any.
 */
final class ChunkCollector implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ChunkCollector.class);
    /** Chunks per {@link ObjectStore#deleteAll} call (each then leaves the caches, and is counted). */
    private static final int BATCH = 256;
    /** How long a sweep waits for the reads that began before it (reads of local files take microseconds). */
    private static final long READS_WAIT_NANOS = 50_000_000L;
    /** How long a chunk the recycler did not take waits for its file's other name to go (see {@link #waitsForItsOtherName}). */
    private static final long SHARED_WAIT_NANOS = 600_000_000_000L;

    private final ObjectStore store;
    private final VolumeKeys keys;
    private final ReadGate reads;
    private final ExecutorService deleter;
    /** Chunks an earlier sweep found unreferenced, not yet due: sequence number -> the read epoch they wait for ({@link ReadGate}). */
    private Map<Long, Long> unreferenced = new HashMap<>();
    /** Chunks whose delete failed, or that wait for their file's other name to go: due again at the next sweep. */
    private final Queue<Long> retry = new ConcurrentLinkedQueue<>();
    /** Chunks that wait for their file's other name to go, since when (System.nanoTime). */
    private final Map<Long, Long> sharedSince = new ConcurrentHashMap<>();
    private Future<?> deleting;
    /** Set by {@link #close}: deletes not yet begun are left to the next open's sweeps. */
    private volatile boolean closing;

    final LongAdder deleted = new LongAdder();
    final LongAdder failed = new LongAdder();
    /** Of those deleted, taken by the {@link Recycler} instead. */
    final LongAdder recycled = new LongAdder();

    /** May take a due chunk's file for reuse instead of its delete (the WAL's spares). */
    @FunctionalInterface
    interface Recycler {
        /** True if the chunk is gone from the store, its file taken. */
        boolean take(long seq, String key);
    }

    private final Recycler recycler;

    ChunkCollector(ObjectStore store, VolumeKeys keys, ReadGate reads) {
        this(store, keys, reads, (seq, key) -> false);
    }

    ChunkCollector(ObjectStore store, VolumeKeys keys, ReadGate reads, Recycler recycler) {
        this.store = store;
        this.keys = keys;
        this.recycler = recycler;
        this.reads = reads;
        this.deleter = Executors.newSingleThreadExecutor(Thread.ofPlatform().daemon().name("vb-collect-" + keys.volume()).factory());
    }

    /**
     * One sweep: {@code named} says which chunks the map names, {@code below} is the sequence
     * number of the map's last delta or checkpoint (every chunk below it that the map does not
     * name is garbage). Hands the due chunks to the deleting thread, unless the previous sweep's are still
     * being deleted (they are due again next time), and returns how many; {@code gone} hears of
     * each chunk deleted, on that thread. Only a lost lease, or a failed listing, is an error.
     */
    int sweep(LongPredicate named, long below, Lease lease, LongConsumer gone) throws IOException {
        for (Long seq; (seq = retry.poll()) != null; ) {
            unreferenced.put(seq, -1L); // due again at once
        }
        Map<Long, Long> found = new HashMap<>();
        long epoch = reads.current(); // every read that may have planned against a map naming what this sweep finds entered it, or one before
        for (ObjectInfo o : store.list(keys.chunkPrefix())) {
            long seq = chunkSeq(o.key());
            if (seq >= 0 && seq < below && !named.test(seq)) {
                found.put(seq, unreferenced.getOrDefault(seq, epoch));
            }
        }
        List<Long> due = new ArrayList<>();
        if (!found.isEmpty() && (deleting == null || deleting.isDone())) {
            long inFlight = reads.advance(READS_WAIT_NANOS); // reads of epochs below it have ended
            found.entrySet().removeIf(f -> {
                if (f.getValue() < inFlight) {
                    due.add(f.getKey());
                    return true;
                }
                return false;
            });
        }
        unreferenced = found;
        if (due.isEmpty()) {
            return 0;
        }
        lease.checkCurrent();
        deleting = deleter.submit(() -> delete(due, gone));
        log.debug("volume {}: deleting {} unreferenced chunks, {} more wait for reads or the deletes before", keys.volume(), due.size(),
                found.size());
        return due.size();
    }

    private void delete(List<Long> due, LongConsumer gone) {
        for (int from = 0; from < due.size() && !closing; from += BATCH) {
            List<Long> batch = new ArrayList<>(due.subList(from, Math.min(due.size(), from + BATCH)));
            batch.removeIf(seq -> {
                if (recycled(seq)) {
                    sharedSince.remove(seq);
                    gone.accept(seq);
                    deleted.increment();
                    recycled.increment();
                    return true;
                }
                if (waitsForItsOtherName(seq)) {
                    retry.add(seq);
                    return true;
                }
                sharedSince.remove(seq);
                return false;
            });
            List<String> batchKeys = new ArrayList<>(batch.size());
            for (long seq : batch) {
                batchKeys.add(keys.chunk(seq));
            }
            try {
                store.deleteAll(batchKeys);
                batch.forEach(gone::accept);
                deleted.add(batch.size());
            } catch (IOException | RuntimeException e) {
                // which of them failed: one at a time (deleting one already gone is no error)
                for (long seq : batch) {
                    if (closing) {
                        return;
                    }
                    try {
                        store.delete(keys.chunk(seq));
                        gone.accept(seq);
                        deleted.increment();
                    } catch (IOException | RuntimeException e1) {
                        failed.increment();
                        retry.add(seq);
                        log.warn("volume {}: deleting unreferenced chunk {} failed, tried again at the next sweep: {}", keys.volume(),
                                keys.chunk(seq), e1.toString());
                    }
                }
            }
        }
    }

    /** Whether the recycler took the chunk; if it failed, the chunk is deleted as any other. */
    private boolean recycled(long seq) {
        try {
            return recycler.take(seq, keys.chunk(seq));
        } catch (RuntimeException e) {
            log.warn("volume {}: taking chunk {} for reuse failed, deleting it instead: {}", keys.volume(), keys.chunk(seq), e.toString());
            return false;
        }
    }

    /**
     * Whether a chunk the recycler did not take stays until a later sweep: its file still has
     * another name (the WAL segment it was made from, still held by a read: ObjectStore.shared),
     * so deleting the chunk would free no space, and once that name goes the WAL can take the file
     * back as a spare. A chunk waits so for at most {@link #SHARED_WAIT_NANOS} (10 min), in case
     * the other name is not the WAL's.
     */
    private boolean waitsForItsOtherName(long seq) {
        try {
            if (!store.shared(keys.chunk(seq))) {
                return false;
            }
        } catch (IOException | RuntimeException e) {
            return false;
        }
        long now = System.nanoTime();
        return now - sharedSince.computeIfAbsent(seq, s -> now) < SHARED_WAIT_NANOS;
    }

    /** Waits until the chunks handed over so far are deleted, or their deletes failed (tests). */
    boolean awaitDeletes(Duration timeout) throws InterruptedException {
        Future<?> f = deleting;
        if (f == null) {
            return true;
        }
        try {
            f.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            return true;
        } catch (ExecutionException e) {
            return true; // delete() catches what it expects; anything else was logged by nobody
        } catch (TimeoutException e) {
            return false;
        }
    }

    /**
     * Lets the deletes handed over finish (for at most 5 s), then stops the thread: the batch in
     * flight ends, no other begins, and the next open's sweeps find what is left.
     */
    @Override
    public void close() {
        deleter.shutdown();
        try {
            if (deleter.awaitTermination(5, TimeUnit.SECONDS)) {
                return;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        closing = true;
        deleter.shutdownNow();
    }

    /** The sequence number a chunk key names, or -1 for any other object (never deleted). */
    private long chunkSeq(String key) {
        String name = key.substring(key.lastIndexOf('/') + 1);
        if (!key.equals(keys.chunkPrefix() + name)) {
            return -1;
        }
        try {
            return Formats.parseSeqName(name);
        } catch (IllegalArgumentException e) {
            return -1;
        }
    }
}
