package io.viperblock.core.chunk;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.viperblock.core.format.ChunkFooter;
import io.viperblock.core.format.CorruptFormatException;
import io.viperblock.core.format.Formats;
import io.viperblock.core.store.ObjectStore;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongFunction;

/**
 * Reads blocks of chunks from the store: through a bounded cache of blocks, one ranged read per
 * contiguous run of missing blocks, and every block checked against the chunk footer's CRC32C
 * and block number before it is served (corrupt bytes are reported, never returned as data).
 * With a cache of 0 bytes there is no cache: each read is one ranged read per chunk it touches
 * (a volume on a local store reads so, as the page cache holds its chunk files already).
 *
 * <p>Thread-safety: the caches are concurrent; chunks are immutable, so concurrent readers of one
 * chunk at worst fetch a block twice.
 */
public final class ChunkReader {
    private static final int BLOCK = Formats.BLOCK_SIZE;
    /**
     * Runs of up to this many blocks are kept in the cache; longer ones are streaming reads that
     * would only push out the blocks random readers come back to.
     */
    private static final int CACHED_RUN = 32;
    /** Blocks (footer entries) of the footers kept, in all. */
    private static final long FOOTER_BLOCKS = 4L << 20;

    private final ObjectStore store;
    private final LongFunction<String> chunkKey;
    private final Cache<BlockKey, byte[]> blocks;
    /** Whether there is a block cache at all (cacheBytes > 0). */
    private final boolean caching;
    private final Cache<Long, ChunkFooter> footers;
    private final LongAdder hits = new LongAdder();
    private final LongAdder misses = new LongAdder();
    private final LongAdder storeReads = new LongAdder();
    private final LongAdder storeBytes = new LongAdder();

    /**
     * The cache key of block {@code index} of chunk {@code chunkSeq}. Its hash mixes both parts: a
     * record's default hash collides a lot for neighbouring chunks, which turned the cache's hash
     * bins into trees. (Packing both into one long does not fit: sequence numbers use all 63 bits
     * after takeovers.)
     */
    private record BlockKey(long chunkSeq, int index) {
        @Override
        public int hashCode() {
            long h = (chunkSeq * 1024 + index) * 0x9E3779B97F4A7C15L;
            return (int) (h ^ (h >>> 32));
        }
    }

    private static BlockKey key(long chunkSeq, int index) {
        return new BlockKey(chunkSeq, index);
    }

    public ChunkReader(ObjectStore store, LongFunction<String> chunkKey, long cacheBytes) {
        this.store = store;
        this.chunkKey = chunkKey;
        this.caching = cacheBytes > 0;
        this.blocks = Caffeine.newBuilder().maximumWeight(Math.max(0, cacheBytes)).weigher((BlockKey k, byte[] v) -> v.length + 48).build();
        // footers are small (about 24 bytes a block); keep those of up to 4M blocks (16 GiB of data)
        this.footers = Caffeine.newBuilder().maximumWeight(FOOTER_BLOCKS).weigher((Long k, ChunkFooter f) -> f.count()).build();
    }

    /**
     * Copies blocks [index, index + count) of chunk {@code chunkSeq} (which holds
     * {@code chunkBlocks} blocks) into {@code dst}; {@code firstBlock} is the logical block number
     * the map says the first of them holds.
     */
    public void read(long chunkSeq, int chunkBlocks, int index, int count, long firstBlock, ByteBuffer dst) throws IOException {
        if (!caching) {
            misses.add(count);
            fetch(chunkSeq, chunkBlocks, index, count, firstBlock, dst);
            return;
        }
        int i = 0;
        while (i < count) {
            byte[] cached = blocks.getIfPresent(key(chunkSeq, index + i));
            if (cached != null) {
                hits.increment();
                dst.put(cached);
                i++;
                continue;
            }
            int run = 1;
            while (i + run < count && blocks.getIfPresent(key(chunkSeq, index + i + run)) == null) {
                run++;
            }
            misses.add(run);
            fetch(chunkSeq, chunkBlocks, index + i, run, firstBlock + i, dst);
            i += run;
        }
    }

    private void fetch(long chunkSeq, int chunkBlocks, int index, int run, long firstBlock, ByteBuffer dst) throws IOException {
        String key = chunkKey.apply(chunkSeq);
        ChunkFooter footer = footer(chunkSeq, chunkBlocks);
        boolean keep = caching && run <= CACHED_RUN;
        for (int done = 0; done < run; ) {
            int i = index + done;
            // one read of the blocks that lie back to back: all of them in a version-1 chunk, those of
            // one WAL record in a chunk made from a WAL segment
            int n = footer.contiguous(i, run - done);
            long offset = footer.dataOffset(i);
            // straight into the caller's buffer, checked there before the caller may use it
            ByteBuffer data = dst.slice(dst.position(), n * BLOCK);
            int got = store.read(key, offset, data);
            storeReads.increment();
            storeBytes.add(got);
            if (got != n * BLOCK) {
                throw new CorruptFormatException("chunk " + key + ": truncated: " + got + " bytes at offset " + offset
                        + " where " + n * BLOCK + " were expected", key, offset);
            }
            for (int j = 0; j < n; j++) {
                ByteBuffer block = data.slice(j * BLOCK, BLOCK);
                if (footer.block(i + j) != firstBlock + done + j) {
                    throw new CorruptFormatException("chunk " + key + ": block " + (i + j) + " holds logical block " + footer.block(i + j)
                            + " but the map expects " + (firstBlock + done + j) + " there (offset " + footer.dataOffset(i + j) + ")", key,
                            footer.dataOffset(i + j));
                }
                footer.verifyBlock(i + j, block, key);
                if (keep) {
                    byte[] copy = new byte[BLOCK];
                    block.get(copy);
                    blocks.put(key(chunkSeq, i + j), copy);
                }
            }
            dst.position(dst.position() + n * BLOCK);
            done += n;
        }
    }

    private ChunkFooter footer(long chunkSeq, int chunkBlocks) throws IOException {
        ChunkFooter f = footers.getIfPresent(chunkSeq);
        if (f == null) {
            String key = chunkKey.apply(chunkSeq);
            long offset = (long) chunkBlocks * BLOCK;
            ByteBuffer buf = store.get(key, offset, ChunkFooter.footerLength(chunkBlocks));
            storeReads.increment();
            f = ChunkFooter.parse(buf, chunkSeq, key, offset);
            if (f.count() != chunkBlocks) {
                throw new CorruptFormatException("chunk " + key + ": footer lists " + f.count() + " blocks, the map says " + chunkBlocks, key, offset);
            }
            footers.put(chunkSeq, f);
        }
        return f;
    }

    /** Drops the cached footer of a chunk deleted from the store (its cached blocks age out: no map names them). */
    public void forget(long chunkSeq) {
        footers.invalidate(chunkSeq);
    }

    /** Drops every cached block and footer (benchmarks use it for cold reads). */
    public void invalidate() {
        blocks.invalidateAll();
        footers.invalidateAll();
    }

    public long hits() { return hits.sum(); }
    public long misses() { return misses.sum(); }
    public long storeReads() { return storeReads.sum(); }
    public long storeBytes() { return storeBytes.sum(); }
}
