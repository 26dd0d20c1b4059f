package io.viperblock.core.volume;

import io.viperblock.core.format.ChunkFooter;
import io.viperblock.core.format.CorruptFormatException;
import io.viperblock.core.format.Formats;
import io.viperblock.core.format.MapCheckpoint;
import io.viperblock.core.format.MapDelta;
import io.viperblock.core.map.BlockMap;
import io.viperblock.core.map.ExtentMap;
import io.viperblock.core.store.NoSuchObjectException;
import io.viperblock.core.store.ObjectInfo;
import io.viperblock.core.store.ObjectStore;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Checks a volume's objects in the store against each other, and rebuilds its block map from the
 * chunk footers.
 *
 * <p>{@link #check} reads every map object and every chunk: each checksum (map objects, chunk
 * footers, every data block), then that the map and the footers agree: each mapped extent points
 * into an existing chunk, inside it, at positions whose footer entries name the mapped blocks.
 * It changes nothing and takes no lease.
 *
 * <p>{@link #repair} rebuilds the map from the chunks alone (durability rule 5): for each block,
 * the copy with the highest sequence number whose checksum is right wins. It writes the result as
 * one checkpoint above every sequence number in the store, which supersedes every older map
 * object, and then deletes those. Limit: a TRIM or WRITE_ZEROES lives only in map deltas (a hole
 * has no chunk), so one recorded only in lost deltas cannot be recovered; the blocks it cleared
 * read as their last written data again. The caller holds the volume's lease.
 *
 * <p>Stateless; safe from any thread.
 */
public final class VolumeCheck {

    private static final MapCheckpoint.Visitor IGNORE = new MapCheckpoint.Visitor() {
        @Override
        public void chunk(long chunkSeq, int blockCount) {}

        @Override
        public void extent(long startBlock, long length, long chunkSeq, int chunkOffset) {}
    };

    private VolumeCheck() {}

    /** Told how many bytes will be read, then as they are. */
    public interface Progress {
        Progress NONE = new Progress() {
            @Override
            public void start(long totalBytes) {}

            @Override
            public void advance(long bytes) {}
        };

        void start(long totalBytes);

        void advance(long bytes);
    }

    /** One problem: the object key, the byte offset in it, and what is wrong. */
    public record Problem(String key, long offset, String message) {}

    /**
     * What a check found.
     *
     * @param notes facts worth knowing that are not damage (chunks newer than the map, left by a
     *              consolidation cut short or by lost newest deltas; map objects the map no longer uses)
     * @param walCoveredSeq the WAL sequence number the map covers up to (0 if it cannot be loaded):
     *              the next open replays the WAL from there
     */
    public record Report(List<Problem> problems, List<String> notes, int chunks, long chunkBlocks, int mapObjects,
            long mappedBlocks, long bytesRead, long walCoveredSeq) {
        public boolean clean() {
            return problems.isEmpty();
        }
    }

    /**
     * What a repair wrote.
     *
     * @param damagedCopies block copies skipped for a bad checksum (or in a chunk whose footer is bad)
     * @param lostBlocks    blocks whose newest copy was damaged: they now read as an older copy
     * @param replaced      map objects deleted because the new checkpoint supersedes them
     * @param walBytesCut   bytes of this node's WAL given up at its first damage (see
     *                      {@code WalReplay.cutAtDamage}); set by the volume manager
     */
    public record Repair(String checkpointKey, long extents, long mappedBlocks, int chunksUsed, long damagedCopies,
            long lostBlocks, int replaced, long walBytesCut) {}

    /**
     * {@link BlockMap#load}, tried up to 3 times: while the volume is open elsewhere, a checkpoint
     * may delete the deltas it replaces between the load's listing and its reads.
     */
    static BlockMap loadMap(ObjectStore store, VolumeKeys keys) throws IOException {
        for (int attempt = 1; ; attempt++) {
            try {
                return BlockMap.load(store, keys.mapPrefix());
            } catch (NoSuchObjectException e) {
                if (attempt == 3) {
                    throw e;
                }
            }
        }
    }

    /** Checks every object of the volume; see the class comment. */
    public static Report check(ObjectStore store, VolumeKeys keys, Progress progress) throws IOException {
        List<Problem> problems = new ArrayList<>();
        List<String> notes = new ArrayList<>();
        List<ObjectInfo> mapObjects = store.list(keys.mapPrefix());
        List<ObjectInfo> chunks = store.list(keys.chunkPrefix());
        long total = 0;
        for (ObjectInfo o : mapObjects) {
            total += o.size();
        }
        for (ObjectInfo o : chunks) {
            total += o.size();
        }
        progress.start(total);
        long[] read = {0};
        for (ObjectInfo o : mapObjects) {
            checkMapObject(store, o, problems);
            read[0] += o.size();
            progress.advance(o.size());
        }
        BlockMap map = null;
        try {
            map = loadMap(store, keys);
        } catch (CorruptFormatException e) {
            problems.add(new Problem(e.source(), e.offset(), "the block map cannot be loaded: " + e.getMessage()));
        } catch (NoSuchObjectException e) {
            problems.add(problem(keys.mapPrefix(), 0, "the block map cannot be loaded: " + e.getMessage()));
        }
        if (mapObjects.isEmpty() && !chunks.isEmpty()) {
            problems.add(problem(keys.mapPrefix(), 0, "the volume has " + chunks.size()
                    + " chunks but no map object: its block map is lost; 'vblock check --repair' rebuilds it from the chunks"));
        }
        // map extents grouped by the chunk they point into: {start, length, index in chunk}
        Map<Long, List<long[]>> byChunk = new HashMap<>();
        if (map != null) {
            map.extents().forEachAll((start, length, chunkSeq, pos) ->
                    byChunk.computeIfAbsent(chunkSeq, k -> new ArrayList<>()).add(new long[] {start, length, pos}));
        }
        long chunkBlocks = 0;
        long newer = 0;
        for (ObjectInfo o : chunks) {
            long seq = seqOf(o.key());
            ByteBuffer obj = store.get(o.key());
            read[0] += obj.remaining();
            progress.advance(o.size());
            if (seq < 0) {
                problems.add(problem(o.key(), 0, "unexpected object among the chunks: its name is not 16 hex digits"));
                continue;
            }
            if (map != null && seq > map.maxSeq()) {
                newer++;
            }
            List<long[]> extents = byChunk.remove(seq);
            ChunkFooter footer;
            try {
                footer = ChunkFooter.parseObject(obj, seq, o.key());
            } catch (CorruptFormatException e) {
                problems.add(new Problem(o.key(), e.offset(), e.getMessage()
                        + (extents == null ? "" : " (the map points " + blocksIn(extents) + " blocks into it)")));
                continue;
            }
            chunkBlocks += footer.blocksHeld();
            boolean[] bad = new boolean[footer.count()];
            for (int i = 0; i < footer.count(); i++) {
                if (footer.block(i) < 0) {
                    continue; // a slot of a chunk made from a WAL segment where no block starts
                }
                try {
                    footer.verifyBlock(i, footer.blockIn(obj, i), o.key());
                } catch (CorruptFormatException e) {
                    bad[i] = true;
                    problems.add(new Problem(o.key(), e.offset(), e.getMessage()));
                }
            }
            if (extents != null) {
                int known = map.chunkBlockCount(seq);
                if (known != footer.count()) {
                    problems.add(problem(o.key(), ChunkFooter.footerOffset(footer.count()), "the map says the chunk has "
                            + known + " blocks, its footer says " + footer.count()));
                }
                checkExtents(o.key(), footer, bad, extents, problems);
            }
        }
        for (Map.Entry<Long, List<long[]>> e : new TreeMap<>(byChunk).entrySet()) {
            long[] first = e.getValue().get(0);
            problems.add(problem(keys.chunk(e.getKey()), 0, "missing chunk: the map points "
                    + blocksIn(e.getValue()) + " blocks into it (the first is block " + first[0] + ")"));
        }
        if (newer > 0) {
            notes.add(newer + " chunks are newer than the map (a consolidation cut short, whose WAL replays at the next open, or lost "
                    + "newest map deltas, which 'vblock check --repair' recovers)");
        }
        return new Report(List.copyOf(problems), List.copyOf(notes), chunks.size(), chunkBlocks, mapObjects.size(),
                map == null ? 0 : map.extents().mappedBlocks(), read[0], map == null ? 0 : map.walCoveredSeq());
    }

    private static void checkMapObject(ObjectStore store, ObjectInfo o, List<Problem> problems) throws IOException {
        long seq = seqOf(o.key());
        boolean delta = o.key().endsWith(Formats.DELTA_SUFFIX);
        if (seq < 0 || !(delta || o.key().endsWith(Formats.CKPT_SUFFIX))) {
            problems.add(problem(o.key(), 0, "unexpected object among the map objects (not <16 hex>.delta or .ckpt)"));
            return;
        }
        try {
            ByteBuffer b = store.get(o.key());
            if (delta) {
                MapDelta.decode(b, seq, o.key());
            } else {
                MapCheckpoint.decode(b, seq, o.key(), IGNORE);
            }
        } catch (NoSuchObjectException e) {
            return; // replaced by a checkpoint since the listing (the volume is open elsewhere)
        } catch (CorruptFormatException e) {
            problems.add(new Problem(o.key(), e.offset(), e.getMessage()));
        }
    }

    /** Each mapped block must lie inside the chunk, at an entry naming that block, with good data. */
    private static void checkExtents(String key, ChunkFooter footer, boolean[] bad, List<long[]> extents, List<Problem> problems) {
        for (long[] x : extents) {
            for (long j = 0; j < x[1]; j++) {
                long block = x[0] + j;
                long index = x[2] + j;
                if (index >= footer.count()) {
                    problems.add(problem(key, ChunkFooter.footerOffset(footer.count()), "the map puts block " + block + " at index "
                            + index + ", past the end of the chunk (" + footer.count() + " blocks)"));
                    break;
                }
                int i = (int) index;
                if (footer.block(i) != block) {
                    problems.add(problem(key, ChunkFooter.footerOffset(footer.count()) + (long) i * ChunkFooter.ENTRY_LENGTH,
                            "the map puts block " + block + " at index " + i + ", but the footer says that index holds block " + footer.block(i)));
                } else if (bad[i]) {
                    problems.add(problem(key, footer.dataOffset(i), "block " + block + " is live (the map points at it) and its data is damaged"));
                }
            }
        }
    }

    /** A problem found here (not by a parser): the message starts with the key and offset, as parser messages do. */
    private static Problem problem(String key, long offset, String text) {
        return new Problem(key, offset, key + " at offset " + offset + ": " + text);
    }

    private static long blocksIn(List<long[]> extents) {
        long n = 0;
        for (long[] x : extents) {
            n += x[1];
        }
        return n;
    }

    private static long seqOf(String key) {
        try {
            return Formats.seqOfKey(key);
        } catch (IllegalArgumentException e) {
            return -1;
        }
    }

    /**
     * Rebuilds the map from the chunk footers and writes it as a checkpoint that supersedes every
     * older map object; see the class comment. The caller holds the lease of epoch {@code epoch}.
     */
    static Repair repair(ObjectStore store, VolumeKeys keys, long epoch, Progress progress) throws IOException {
        List<ObjectInfo> mapObjects = store.list(keys.mapPrefix());
        List<ObjectInfo> chunks = store.list(keys.chunkPrefix()); // in sequence order
        long total = 0;
        for (ObjectInfo o : chunks) {
            total += o.size();
        }
        progress.start(total);
        long maxSeq = 0;
        for (ObjectInfo o : mapObjects) {
            maxSeq = Math.max(maxSeq, seqOf(o.key()));
        }
        ExtentMap best = new ExtentMap(1); // block -> (chunk seq, index in chunk)
        Map<Long, long[]> seqsOf = new HashMap<>(); // chunk seq -> the seq of each of its blocks
        long damaged = 0;
        Map<Long, Long> newestDamaged = new HashMap<>(); // block -> seq of a damaged copy newer than any good one so far
        for (ObjectInfo o : chunks) {
            long chunkSeq = seqOf(o.key());
            ByteBuffer obj = store.get(o.key());
            progress.advance(o.size());
            if (chunkSeq < 0) {
                continue;
            }
            maxSeq = Math.max(maxSeq, chunkSeq);
            ChunkFooter footer;
            try {
                footer = ChunkFooter.parseObject(obj, chunkSeq, o.key());
            } catch (CorruptFormatException e) {
                damaged += Math.max(0, ChunkFooter.blockCountForObjectSize(o.size()));
                continue;
            }
            long[] seqs = new long[footer.count()];
            seqsOf.put(chunkSeq, seqs); // before the loop: a chunk may hold a block twice
            for (int i = 0; i < footer.count(); i++) {
                seqs[i] = footer.seq(i);
                maxSeq = Math.max(maxSeq, seqs[i]);
                long block = footer.block(i);
                if (block < 0) {
                    continue; // a slot of a chunk made from a WAL segment where no block starts
                }
                ExtentMap.Extent cur = best.get(block);
                long curSeq = cur == null ? 0 : seqsOf.get(cur.tag())[(int) (cur.pos() + block - cur.start())];
                if (seqs[i] <= curSeq) {
                    continue;
                }
                try {
                    footer.verifyBlock(i, footer.blockIn(obj, i), o.key());
                } catch (CorruptFormatException e) {
                    damaged++;
                    newestDamaged.merge(block, seqs[i], Math::max);
                    continue;
                }
                best.put(block, 1, chunkSeq, i);
            }
        }
        long lost = 0;
        for (Map.Entry<Long, Long> e : newestDamaged.entrySet()) {
            ExtentMap.Extent cur = best.get(e.getKey());
            long curSeq = cur == null ? 0 : seqsOf.get(cur.tag())[(int) (cur.pos() + e.getKey() - cur.start())];
            if (e.getValue() > curSeq) {
                lost++;
            }
        }
        TreeMap<Long, Integer> used = new TreeMap<>();
        best.forEachAll((start, length, chunkSeq, pos) -> used.put(chunkSeq, seqsOf.get(chunkSeq).length));
        long ckptSeq = maxSeq + 1;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        MapCheckpoint.Writer w = new MapCheckpoint.Writer(out, new MapCheckpoint(ckptSeq, ckptSeq, 0, ckptSeq, epoch, used.size(),
                best.extentCount()));
        for (Map.Entry<Long, Integer> c : used.entrySet()) {
            w.chunk(c.getKey(), c.getValue());
        }
        List<long[]> extents = new ArrayList<>();
        best.forEachAll((start, length, chunkSeq, pos) -> extents.add(new long[] {start, length, chunkSeq, pos}));
        for (long[] x : extents) {
            w.extent(x[0], x[1], x[2], (int) x[3]);
        }
        w.finish();
        // walCoveredSeq 0: this node's WAL replays in full at the next open. What is left of it
        // was not consolidated yet (or is also in a chunk), so it is newer than or equal to the
        // chunks and replaying it is right.
        String key = keys.checkpoint(ckptSeq);
        store.put(key, ByteBuffer.wrap(out.toByteArray()));
        for (ObjectInfo o : mapObjects) {
            store.delete(o.key());
        }
        return new Repair(key, best.extentCount(), best.mappedBlocks(), used.size(), damaged, lost, mapObjects.size(), 0);
    }
}
