package io.viperblock.core.map;

import java.util.Arrays;

/**
 * One leaf of an {@link ExtentMap}: up to a few hundred extents sorted by start, kept in parallel
 * primitive arrays so an extent costs 32 bytes and no object. It only stores and moves entries;
 * the map decides what goes where. Not thread-safe: owned by one map, guarded by the map's caller.
 */
final class ExtentPage {

    /** Smallest array length a page is given, so that a map of a few extents stays small. */
    static final int MIN_CAPACITY = 16;

    long[] start;
    long[] length;
    long[] tag;
    long[] pos;
    int size;

    ExtentPage(int capacity) {
        start = new long[capacity];
        length = new long[capacity];
        tag = new long[capacity];
        pos = new long[capacity];
    }

    int capacity() {
        return start.length;
    }

    long first() {
        return start[0];
    }

    long end(int i) {
        return start[i] + length[i];
    }

    /**
     * Index of the last extent starting at or before {@code block}, or -1. {@code limit} bounds
     * the starts from above (the next page's first start), so the position can be guessed by
     * interpolation: a binary search of a page's 2 KiB of starts costs about five dependent cache
     * misses, a good guess one or two. Clustered starts only cost a few more galloping steps.
     */
    int floorIndex(long block, long limit) {
        if (size == 0 || block < start[0]) {
            return -1;
        }
        int lo;
        int hi;
        // gallop from the guess to bracket the answer: start[lo] <= block < start[hi] (or hi == size)
        int g = guess(block, limit);
        if (start[g] <= block) {
            lo = g;
            hi = g + 1;
            for (int step = 2; hi < size && start[hi] <= block; step <<= 1) {
                lo = hi;
                hi = lo + step;
            }
            hi = Math.min(hi, size);
        } else {
            hi = g;
            lo = g - 1; // g > 0, as start[0] <= block
            for (int step = 2; start[lo] > block; step <<= 1) {
                hi = lo;
                lo = Math.max(0, hi - step);
            }
        }
        while (hi - lo > 1) {
            int mid = (lo + hi) >>> 1;
            if (start[mid] <= block) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    /** Where block would be if the starts were evenly spread over [start[0], limit). */
    private int guess(long block, long limit) {
        double fraction = (double) (block - start[0]) / Math.max(1, limit - start[0]);
        return (int) Math.min(size - 1, Math.max(0, (long) (fraction * size)));
    }

    /** An upper bound for the starts when the next page's first start is not at hand. */
    long limit() {
        return start[size - 1] + 1;
    }

    /** Index of the first extent starting at or after {@code block}, or size. */
    int ceilingIndex(long block, long limit) {
        int i = floorIndex(block, limit);
        return i >= 0 && start[i] == block ? i : i + 1;
    }

    /**
     * Makes room for {@code needed} entries. Grows by doubling (capped at {@code limit}) so a page
     * that fills one entry at a time is copied only a handful of times.
     */
    void ensureCapacity(int needed, int limit) {
        if (needed > capacity()) {
            resize(Math.max(needed, Math.min(limit, capacity() * 2)));
        }
    }

    /** Gives back array space after the page lost most of its entries. */
    void shrinkIfSparse() {
        if (capacity() > MIN_CAPACITY && size < capacity() / 4) {
            resize(Math.max(MIN_CAPACITY, size * 2));
        }
    }

    private void resize(int capacity) {
        start = Arrays.copyOf(start, capacity);
        length = Arrays.copyOf(length, capacity);
        tag = Arrays.copyOf(tag, capacity);
        pos = Arrays.copyOf(pos, capacity);
    }

    /** Inserts before index {@code i}; the caller has ensured capacity. */
    void insert(int i, long s, long l, long t, long p) {
        shift(i, i + 1, size - i);
        set(i, s, l, t, p);
        size++;
    }

    /**
     * Turns entries [from, to) into {@code count} slots (contents unspecified) for the caller to
     * set, shifting the rest once; the caller has ensured capacity.
     */
    void replace(int from, int to, int count) {
        shift(to, from + count, size - to);
        size += count - (to - from);
    }

    void set(int i, long s, long l, long t, long p) {
        start[i] = s;
        length[i] = l;
        tag[i] = t;
        pos[i] = p;
    }

    /** Removes entries [from, to) with one shift; returns the number of blocks they covered. */
    long removeRange(int from, int to) {
        long blocks = 0;
        for (int i = from; i < to; i++) {
            blocks += length[i];
        }
        shift(to, from, size - to);
        size -= to - from;
        return blocks;
    }

    /**
     * Removes the entries in [from, to) carrying {@code t}, compacting the survivors in one pass;
     * returns the number of blocks removed.
     */
    long removeTagged(int from, int to, long t) {
        long blocks = 0;
        int w = from;
        for (int r = from; r < to; r++) {
            if (tag[r] == t) {
                blocks += length[r];
            } else {
                if (w != r) {
                    set(w, start[r], length[r], tag[r], pos[r]);
                }
                w++;
            }
        }
        shift(to, w, size - to);
        size -= to - w;
        return blocks;
    }

    /** Moves the last {@code k} entries to the front of {@code dst}, which follows this page. */
    void moveTailTo(ExtentPage dst, int k, int limit) {
        dst.ensureCapacity(dst.size + k, limit);
        dst.shift(0, k, dst.size);
        copy(this, size - k, dst, 0, k);
        dst.size += k;
        size -= k;
    }

    /** Moves the first {@code k} entries to the end of {@code dst}, which precedes this page. */
    void moveHeadTo(ExtentPage dst, int k, int limit) {
        dst.ensureCapacity(dst.size + k, limit);
        copy(this, 0, dst, dst.size, k);
        dst.size += k;
        shift(k, 0, size - k);
        size -= k;
    }

    /** A copy whose arrays are trimmed to the entries (a snapshot rarely grows much). */
    ExtentPage copy() {
        ExtentPage c = new ExtentPage(size);
        copy(this, 0, c, 0, size);
        c.size = size;
        return c;
    }

    /** Heap bytes, assuming compressed references and 16-byte array headers. */
    long estimatedBytes() {
        return 40 + 4 * (16 + 8L * capacity());
    }

    private void shift(int from, int to, int count) {
        if (from == to || count == 0) {
            return;
        }
        System.arraycopy(start, from, start, to, count);
        System.arraycopy(length, from, length, to, count);
        System.arraycopy(tag, from, tag, to, count);
        System.arraycopy(pos, from, pos, to, count);
    }

    private static void copy(ExtentPage src, int from, ExtentPage dst, int to, int count) {
        System.arraycopy(src.start, from, dst.start, to, count);
        System.arraycopy(src.length, from, dst.length, to, count);
        System.arraycopy(src.tag, from, dst.tag, to, count);
        System.arraycopy(src.pos, from, dst.pos, to, count);
    }
}
