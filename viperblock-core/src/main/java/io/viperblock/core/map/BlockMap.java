package io.viperblock.core.map;

import io.viperblock.core.format.CorruptFormatException;
import io.viperblock.core.format.Formats;
import io.viperblock.core.format.MapCheckpoint;
import io.viperblock.core.format.MapDelta;
import io.viperblock.core.store.ObjectInfo;
import io.viperblock.core.store.ObjectStore;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongFunction;

/**
 * The volume's block map: which chunk holds each consolidated block, and its persistence as map
 * deltas plus periodic compacted checkpoints (never a full rewrite per consolidation).
 *
 * <p>Recovery loads the newest checkpoint, then every later delta in order; the deltas form a
 * chain (each names its predecessor), so a missing delta is detected, not silently skipped.
 *
 * <p>Thread-safety: one mutator (the consolidator, or the opener before the volume is shared)
 * calls {@link #apply} and {@link #writeCheckpoint}; lookups ({@link #extents}) run under the
 * volume's view lock, which {@link #apply} also takes through the caller. The chunk table is a
 * concurrent map read by the read path without that lock.
 */
public final class BlockMap {
    private final ExtentMap extents = new ExtentMap(1);
    private final Map<Long, Integer> chunkBlocks = new ConcurrentHashMap<>();
    private long lastDeltaSeq;
    private long walCoveredSeq;
    private long maxSeq;
    private int deltasSinceCheckpoint;
    private int orphanDeltas;

    /** Extents: block -> (tag = chunk sequence number, pos = block index in that chunk). */
    public ExtentMap extents() { return extents; }

    /** Number of blocks in a chunk the map knows, or -1. */
    public int chunkBlockCount(long chunkSeq) {
        Integer n = chunkBlocks.get(chunkSeq);
        return n == null ? -1 : n;
    }

    public int chunkCount() { return chunkBlocks.size(); }
    public long lastDeltaSeq() { return lastDeltaSeq; }
    /** Every WAL record with a sequence number up to this one is in the map. */
    public long walCoveredSeq() { return walCoveredSeq; }
    /** Highest sequence number the persisted map shows to have been used. */
    public long maxSeq() { return maxSeq; }
    public int deltasSinceCheckpoint() { return deltasSinceCheckpoint; }
    /** Deltas found off the chain at load (stored by PUTs that reported failure); they are ignored. */
    public int orphanDeltas() { return orphanDeltas; }

    /** Loads the map of a volume from its checkpoint and deltas under {@code mapPrefix}. */
    public static BlockMap load(ObjectStore store, String mapPrefix) throws IOException {
        BlockMap m = new BlockMap();
        List<ObjectInfo> objects = store.list(mapPrefix);
        ObjectInfo ckpt = null;
        List<ObjectInfo> deltas = new ArrayList<>();
        for (ObjectInfo o : objects) {
            if (o.key().endsWith(".ckpt")) {
                ckpt = o; // keys sort by sequence number: the last is the newest
            } else if (o.key().endsWith(".delta")) {
                deltas.add(o);
            }
        }
        if (ckpt != null) {
            m.loadCheckpoint(store, ckpt.key());
        }
        // The map is the chain of deltas that ends at the newest one, followed back through each
        // delta's predecessor to the checkpoint. A delta off that chain is an orphan: its PUT
        // reported a failure (a lost answer, a timeout) yet reached the store, and the
        // consolidator, never having applied it, wrote its retry on the previous delta.
        Map<Long, MapDelta> bySeq = new HashMap<>();
        Map<Long, String> keyOf = new HashMap<>();
        long head = m.lastDeltaSeq;
        for (ObjectInfo o : deltas) {
            long seq = Formats.seqOfKey(o.key());
            m.maxSeq = Math.max(m.maxSeq, seq); // orphans spent their sequence numbers too
            if (seq <= m.lastDeltaSeq) {
                continue; // already folded into the checkpoint; deleting it was interrupted
            }
            MapDelta d = MapDelta.decode(store.get(o.key()), o.key());
            if (d.deltaSeq() != seq) {
                throw new CorruptFormatException(o.key() + ": names delta " + d.deltaSeq() + " inside, not " + seq, o.key(), 16);
            }
            bySeq.put(seq, d);
            keyOf.put(seq, o.key());
            head = Math.max(head, seq);
        }
        List<MapDelta> chain = new ArrayList<>();
        for (long cur = head; cur != m.lastDeltaSeq; ) {
            MapDelta d = bySeq.get(cur);
            if (d == null) {
                String after = chain.isEmpty() ? "the newest delta" : keyOf.get(chain.get(chain.size() - 1).deltaSeq());
                throw new CorruptFormatException(after + ": follows delta " + cur + ", which is not in the store (the checkpoint ends at delta "
                        + m.lastDeltaSeq + "); a map delta is missing. Run 'vblock check --repair' to rebuild the map from the chunks",
                        after, 24);
            }
            if (d.prevDeltaSeq() >= cur || d.prevDeltaSeq() < m.lastDeltaSeq) {
                throw new CorruptFormatException(keyOf.get(cur) + ": follows delta " + d.prevDeltaSeq() + ", outside the chain that starts at the checkpoint's delta "
                        + m.lastDeltaSeq + "; a map delta is missing or damaged. Run 'vblock check --repair' to rebuild the map from the chunks",
                        keyOf.get(cur), 24);
            }
            chain.add(d);
            cur = d.prevDeltaSeq();
        }
        for (int i = chain.size() - 1; i >= 0; i--) {
            m.apply(chain.get(i));
        }
        m.orphanDeltas = bySeq.size() - chain.size();
        return m;
    }

    private void loadCheckpoint(ObjectStore store, String key) throws IOException {
        MapCheckpoint h = MapCheckpoint.decode(store.get(key), key, new MapCheckpoint.Visitor() {
            @Override
            public void chunk(long chunkSeq, int blockCount) {
                chunkBlocks.put(chunkSeq, blockCount);
            }

            @Override
            public void extent(long startBlock, long length, long chunkSeq, int chunkOffset) {
                extents.put(startBlock, length, chunkSeq, chunkOffset);
            }
        });
        lastDeltaSeq = h.lastDeltaSeq();
        walCoveredSeq = h.walCoveredSeq();
        maxSeq = Math.max(h.maxSeqUsed(), h.ckptSeq());
    }

    /** Applies a delta to the in-memory map (the delta is already durable). */
    public void apply(MapDelta d) {
        for (MapDelta.ChunkRef c : d.chunks()) {
            chunkBlocks.put(c.chunkSeq(), c.blockCount());
        }
        for (MapDelta.Entry e : d.entries()) {
            if (e.kind() == MapDelta.DATA) {
                extents.put(e.startBlock(), e.length(), e.chunkSeq(), e.chunkOffset());
            } else {
                extents.remove(e.startBlock(), e.length());
            }
        }
        lastDeltaSeq = d.deltaSeq();
        walCoveredSeq = Math.max(walCoveredSeq, d.walCoveredSeq());
        maxSeq = Math.max(maxSeq, d.deltaSeq());
        deltasSinceCheckpoint++;
    }

    /**
     * The chunks some extent points into, with their block counts. (The chunk table may still
     * hold chunks every extent has left since the last checkpoint.) Callers hold the volume's view
     * lock, or are the map's only writer.
     */
    public Map<Long, Integer> liveChunks() {
        Map<Long, Integer> live = new HashMap<>();
        long[] last = {-1};
        extents.forEachAll((start, length, chunkSeq, pos) -> {
            if (chunkSeq != last[0]) { // neighbouring extents mostly share a chunk
                live.putIfAbsent(chunkSeq, chunkBlocks.get(chunkSeq));
                last[0] = chunkSeq;
            }
        });
        return live;
    }

    /**
     * Writes a compacted checkpoint named {@code ckptSeq} holding the whole map and the chunks it
     * still references, then deletes the deltas and checkpoints it replaces. The checkpoint is
     * durable before anything it replaces is deleted. It seals the map at {@code ckptSeq}: its
     * last delta is itself, so the next delta names it as predecessor and a load ignores every
     * delta numbered below it (such as one a fenced writer stored after a takeover).
     */
    public void writeCheckpoint(ObjectStore store, String mapPrefix, LongFunction<String> checkpointKey, long ckptSeq,
            long epoch, long maxSeqUsed) throws IOException {
        if (ckptSeq <= lastDeltaSeq) {
            throw new IllegalArgumentException("checkpoint " + ckptSeq + " is not after the map's last delta " + lastDeltaSeq);
        }
        Map<Long, Integer> live = liveChunks();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        MapCheckpoint.Writer w = new MapCheckpoint.Writer(out, new MapCheckpoint(ckptSeq, ckptSeq, walCoveredSeq,
                maxSeqUsed, epoch, live.size(), extents.extentCount()));
        List<Long> chunkSeqs = new ArrayList<>(live.keySet());
        chunkSeqs.sort(null);
        for (long c : chunkSeqs) {
            w.chunk(c, live.get(c));
        }
        IOException[] failure = new IOException[1];
        extents.forEachAll((start, length, chunkSeq, pos) -> {
            if (failure[0] == null) {
                try {
                    w.extent(start, length, chunkSeq, (int) pos);
                } catch (IOException e) {
                    failure[0] = e;
                }
            }
        });
        if (failure[0] != null) {
            throw failure[0];
        }
        w.finish();
        store.put(checkpointKey.apply(ckptSeq), ByteBuffer.wrap(out.toByteArray()));
        lastDeltaSeq = ckptSeq; // only once it is stored: until then the next delta follows the old chain
        for (ObjectInfo o : store.list(mapPrefix)) {
            long seq = Formats.seqOfKey(o.key());
            if ((o.key().endsWith(".delta") && seq <= lastDeltaSeq) || (o.key().endsWith(".ckpt") && seq < ckptSeq)) {
                store.delete(o.key());
            }
        }
        chunkBlocks.keySet().retainAll(live.keySet());
        deltasSinceCheckpoint = 0;
        maxSeq = Math.max(maxSeq, ckptSeq);
    }
}
