package io.viperblock.core.volume;

import io.viperblock.core.format.Formats;
import io.viperblock.core.store.ObjectInfo;
import io.viperblock.core.store.ObjectStore;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongConsumer;
import java.util.function.LongPredicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deletes the chunks of a volume that its block map no longer names: every block they held has
 * been written again or trimmed since, so no read can reach them. Chunks are immutable and their
 * names never reused, so a chunk the map has let go is never named again.
 *
 * <p>A sweep runs after each checkpoint, on the consolidator's thread (no upload of this writer is
 * in flight then). It lists the volume's chunks and takes those below the checkpoint's sequence
 * number that the map does not name. One found so at an earlier sweep, at least {@code grace}
 * before, is deleted, once {@link Lease#checkCurrent} has confirmed that this node still holds
 * the volume: a node taken over may have applied deltas the new holder never saw, and must delete
 * nothing. The delay leaves reads planned against an older map time to finish (a read that still
 * finds its chunk gone plans again: {@code Volume.readBlocks}). The chunks of a consolidation cut
 * short, and those a fenced writer stored, go the same way.
 *
 * <p>Snapshots and clones, when they come, will name chunks too; a sweep must then keep every
 * chunk any of them names.
 *
 * <p>Thread-safety: one sweep at a time (the consolidator's pass lock).
 */
final class ChunkCollector {
    private static final Logger log = LoggerFactory.getLogger(ChunkCollector.class);

    private final ObjectStore store;
    private final VolumeKeys keys;
    private final long graceNanos;
    private final ExecutorService deleters;
    /** Chunks an earlier sweep found unreferenced: sequence number -> when (System.nanoTime). */
    private Map<Long, Long> unreferenced = new HashMap<>();

    final LongAdder deleted = new LongAdder();
    final LongAdder failed = new LongAdder();

    /** {@code deleters} runs the deletes, several at once (a file store's directory syncs are then shared, S3's round trips overlap). */
    ChunkCollector(ObjectStore store, VolumeKeys keys, Duration grace, ExecutorService deleters) {
        this.store = store;
        this.keys = keys;
        this.graceNanos = grace.toNanos();
        this.deleters = deleters;
    }

    /**
     * One sweep: {@code named} says which chunks the map names, {@code below} is the sequence
     * number of the checkpoint just stored (every chunk below it that the map does not name is
     * garbage). {@code gone} hears of each chunk deleted. Returns the number deleted. A delete
     * that fails is logged and tried again at the next sweep; only a lost lease is an error.
     */
    int sweep(LongPredicate named, long below, Lease lease, LongConsumer gone) throws IOException {
        long now = System.nanoTime();
        Map<Long, Long> found = new HashMap<>();
        List<Long> due = new ArrayList<>();
        for (ObjectInfo o : store.list(keys.chunkPrefix())) {
            long seq = chunkSeq(o.key());
            if (seq < 0 || Long.compareUnsigned(seq, below) >= 0 || named.test(seq)) {
                continue;
            }
            Long since = unreferenced.get(seq);
            if (since != null && now - since >= graceNanos) {
                due.add(seq);
            } else {
                found.put(seq, since == null ? now : since);
            }
        }
        unreferenced = found;
        if (due.isEmpty()) {
            return 0;
        }
        lease.checkCurrent();
        List<Future<?>> deletes = new ArrayList<>(due.size());
        for (long seq : due) {
            deletes.add(deleters.submit(() -> {
                store.delete(keys.chunk(seq));
                return null;
            }));
        }
        int n = 0;
        IOException firstFailure = null;
        for (int i = 0; i < due.size(); i++) {
            long seq = due.get(i);
            try {
                deletes.get(i).get();
                gone.accept(seq);
                n++;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while deleting unreferenced chunks of volume " + keys.volume());
            } catch (ExecutionException e) {
                unreferenced.put(seq, now - graceNanos); // due again at the next sweep
                failed.increment();
                if (firstFailure == null) {
                    firstFailure = e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
                }
            }
        }
        deleted.add(n);
        if (firstFailure != null) {
            log.warn("volume {}: {} of {} unreferenced chunks could not be deleted, tried again after the next checkpoint: {}", keys.volume(),
                    due.size() - n, due.size(), firstFailure.toString());
        }
        log.debug("volume {}: deleted {} unreferenced chunks, {} more wait for their grace", keys.volume(), n, found.size());
        return n;
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
