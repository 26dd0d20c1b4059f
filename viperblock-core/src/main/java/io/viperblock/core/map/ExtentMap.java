package io.viperblock.core.map;

import java.util.Arrays;
import java.util.ConcurrentModificationException;

/**
 * A sorted map from ranges of logical blocks to (tag, pos), ext4-extent style: one entry per run
 * of blocks, never one per block. Block {@code start + i} of an extent maps to
 * {@code (tag, pos + i * stride)}, or to {@code (tag, ZERO)} when the extent's pos is
 * {@link #ZERO}. Unmapped blocks are holes.
 *
 * <p>Layout: leaf {@link ExtentPage}s of at most a few hundred extents in primitive arrays, and
 * an index of the pages (their first starts in a sorted {@code long[]}), i.e. a two-level B+-tree
 * costing about 32-40 bytes per extent. A lookup is a binary search of the index and an
 * interpolation search in the page. A put or remove whose extents lie in one page rewrites them
 * with one shift; one that covers many pages deletes with one compaction per touched page.
 *
 * <p>{@link #put} leaves no two neighbouring extents that could be one (adjacent, same tag,
 * contiguous pos); removals only create holes, so the map stays fully coalesced.
 *
 * <p>Not thread-safe: callers guard each instance with their own lock.
 */
public final class ExtentMap {

    /** The pos of an extent whose blocks read as zeros (trimmed); such extents have no stride. */
    public static final long ZERO = -1;

    /**
     * Entries per page. Smaller pages make random inserts shift less; larger ones keep the page
     * index short. 256 measured best for random inserts at 10M extents, with the same memory.
     */
    static final int DEFAULT_PAGE_CAPACITY = 256;

    /** A location (page, index) packed in a long; NONE means "no such extent". */
    private static final long NONE = -1;

    /** Receives extents from {@link #forEach} and {@link #forEachAll}. */
    @FunctionalInterface
    public interface Visitor {
        void extent(long start, long length, long tag, long pos);
    }

    /** One extent, as {@link #get} returns it. */
    public record Extent(long start, long length, long tag, long pos) {}

    private final long stride;
    private final int pageCapacity;
    /** A page below this many entries is merged into a neighbour when the two fit in one page. */
    private final int minFill;
    /** A full page hands entries to a neighbour with at least this much room instead of splitting. */
    private final int minSpillRoom;

    /** firsts[i] == pages[i].first(); pages are never empty and are in block order. */
    private long[] firsts;
    private ExtentPage[] pages;
    private int pageCount;

    private long extentCount;
    private long mappedBlocks;
    /** Bumped by every mutation so that a visitor changing the map is caught. */
    private int modCount;

    public ExtentMap(long stride) {
        this(stride, DEFAULT_PAGE_CAPACITY);
    }

    /** Small page capacities let tests drive page splits, spills and merges with few extents. */
    ExtentMap(long stride, int pageCapacity) {
        if (stride <= 0) {
            throw new IllegalArgumentException("stride must be > 0: " + stride);
        }
        if (pageCapacity < 4) {
            throw new IllegalArgumentException("page capacity must be >= 4: " + pageCapacity);
        }
        this.stride = stride;
        this.pageCapacity = pageCapacity;
        this.minFill = Math.max(2, pageCapacity / 4);
        // at least 2, so that a spill moves at least one entry and leaves room for the new one
        this.minSpillRoom = Math.max(2, pageCapacity / 8);
        clear();
    }

    // ---------------------------------------------------------------- public operations

    /**
     * Maps [start, start+length) to (tag, pos...) replacing whatever was mapped there (splitting
     * or trimming overlapped extents), then coalesces with contiguous neighbours.
     */
    public void put(long start, long length, long tag, long pos) {
        long end = checkRange(start, length, 1);
        checkPos(pos, length);
        modCount++;
        long last = floorLoc(end - 1);
        if (last == NONE || endAt(last) <= start) {
            // a hole, so the extent before end is also the one before start
            insertCoalescing(last, start, length, tag, pos);
        } else if (!rewriteWithinPage(last, start, end, true, tag, pos)) {
            mappedBlocks -= unmap(start, end, true, 0);
            insertCoalescing(floorLoc(start), start, length, tag, pos);
        }
    }

    /** Unmaps [start, start+length). */
    public void remove(long start, long length) {
        long end = checkRange(start, length, 0);
        modCount++;
        if (length == 0) {
            return;
        }
        long last = floorLoc(end - 1);
        if (last != NONE && endAt(last) > start && !rewriteWithinPage(last, start, end, false, 0, 0)) {
            mappedBlocks -= unmap(start, end, true, 0);
        }
    }

    /**
     * Unmaps only the parts of [start, start+length) whose extents carry exactly {@code tag};
     * returns the number of blocks unmapped.
     */
    public long removeMatching(long start, long length, long tag) {
        long end = checkRange(start, length, 0);
        modCount++;
        long removed = unmap(start, end, false, tag);
        mappedBlocks -= removed;
        return removed;
    }

    /**
     * Visits, in ascending order, the extents overlapping [start, start+length), clipped to the
     * range (pos advanced for the clipped-off head). Gaps are not visited. The visitor must not
     * change this map.
     */
    public void forEach(long start, long length, Visitor v) {
        long end = checkRange(start, length, 0);
        if (length == 0) {
            return;
        }
        long loc = floorLoc(start);
        if (loc == NONE || endAt(loc) <= start) {
            loc = nextLoc(loc);
        }
        if (loc == NONE) {
            return;
        }
        int expectedModCount = modCount;
        int e = index(loc);
        for (int p = page(loc); p < pageCount; p++, e = 0) {
            ExtentPage pg = pages[p];
            for (; e < pg.size; e++) {
                long s = pg.start[e];
                if (s >= end) {
                    return;
                }
                long clipStart = Math.max(s, start);
                long clipEnd = Math.min(pg.end(e), end);
                v.extent(clipStart, clipEnd - clipStart, pg.tag[e], advance(pg.pos[e], clipStart - s));
                if (modCount != expectedModCount) {
                    throw new ConcurrentModificationException("visitor changed the extent map");
                }
            }
        }
    }

    /** Visits every extent in ascending order. The visitor must not change this map. */
    public void forEachAll(Visitor v) {
        forEach(0, Long.MAX_VALUE, v);
    }

    /** The extent containing {@code block}, or null. */
    public Extent get(long block) {
        long loc = floorLoc(block);
        if (loc == NONE || endAt(loc) <= block) {
            return null;
        }
        ExtentPage pg = pages[page(loc)];
        int e = index(loc);
        return new Extent(pg.start[e], pg.length[e], pg.tag[e], pg.pos[e]);
    }

    public long extentCount() {
        return extentCount;
    }

    /** Sum of the extents' lengths. */
    public long mappedBlocks() {
        return mappedBlocks;
    }

    public boolean isEmpty() {
        return extentCount == 0;
    }

    public long stride() {
        return stride;
    }

    /**
     * Heap bytes used, assuming compressed references: the pages' arrays (including unused
     * capacity), the page objects and the page index.
     */
    public long estimatedBytes() {
        long bytes = 64 + (16 + 8L * firsts.length) + (16 + 4L * pages.length);
        for (int p = 0; p < pageCount; p++) {
            bytes += pages[p].estimatedBytes();
        }
        return bytes;
    }

    public void clear() {
        modCount++;
        firsts = new long[4];
        pages = new ExtentPage[4];
        pageCount = 0;
        extentCount = 0;
        mappedBlocks = 0;
    }

    /** A deep copy, independent of this map (e.g. a snapshot for a checkpoint). */
    public ExtentMap copy() {
        ExtentMap c = new ExtentMap(stride, pageCapacity);
        int capacity = Math.max(4, pageCount);
        c.firsts = Arrays.copyOf(firsts, capacity);
        c.pages = new ExtentPage[capacity];
        for (int p = 0; p < pageCount; p++) {
            c.pages[p] = pages[p].copy();
        }
        c.pageCount = pageCount;
        c.extentCount = extentCount;
        c.mappedBlocks = mappedBlocks;
        return c;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        forEachAll((s, l, t, p) -> {
            if (sb.length() < 10_000) {
                sb.append(sb.isEmpty() ? "" : ", ").append(s).append('+').append(l).append("->")
                        .append(t).append(':').append(p == ZERO ? "ZERO" : Long.toString(p));
            }
        });
        return "ExtentMap[" + sb + "]";
    }

    // ---------------------------------------------------------------- put and remove internals

    /**
     * The common case of put and remove: when every extent overlapping [start, end) is in the page
     * of {@code last} (the last of them) and the result fits, rewrites them as [left remainder]
     * [the new extent, if {@code insert}] [right remainder] with a single shift. Returns false,
     * changing nothing, otherwise.
     */
    private boolean rewriteWithinPage(long last, long start, long end, boolean insert, long tag, long pos) {
        int p = page(last);
        ExtentPage pg = pages[p];
        int i = firstOverlapping(p, start);
        if (i < 0) {
            return false;
        }
        int j = index(last) + 1;
        long leftStart = pg.start[i];
        long rightEnd = pg.end(j - 1);
        boolean left = leftStart < start;
        boolean right = rightEnd > end;
        int pieces = (left ? 1 : 0) + (insert ? 1 : 0) + (right ? 1 : 0);
        int growth = pieces - (j - i);
        if (pg.size + growth > pageCapacity) {
            return false;
        }
        long unmapped = -(left ? start - leftStart : 0) - (right ? rightEnd - end : 0);
        for (int k = i; k < j; k++) {
            unmapped += pg.length[k];
        }
        // read the remainders' mappings before the shift overwrites them
        long leftTag = pg.tag[i];
        long leftPos = pg.pos[i];
        long rightTag = pg.tag[j - 1];
        long rightPos = advance(pg.pos[j - 1], end - pg.start[j - 1]);
        pg.ensureCapacity(pg.size + growth, pageCapacity);
        pg.replace(i, j, pieces);
        int e = i;
        if (left) {
            pg.set(e++, leftStart, start - leftStart, leftTag, leftPos);
        }
        int added = e;
        if (insert) {
            pg.set(e++, start, end - start, tag, pos);
        }
        if (right) {
            pg.set(e, end, rightEnd - end, rightTag, rightPos);
        }
        extentCount += growth;
        mappedBlocks += (insert ? end - start : 0) - unmapped;
        if (pg.size >= minFill) {
            firsts[p] = pg.first();
        } else {
            repairPages(p, p); // may empty the page or move its entries into its predecessor
            added = -1;
        }
        if (insert) {
            coalesce(added >= 0 ? loc(p, added) : floorLoc(start));
        }
        return true;
    }

    /**
     * Index in page p of the first extent ending after block, given that one in page p does;
     * -1 if an extent in an earlier page does too.
     */
    private int firstOverlapping(int p, long block) {
        ExtentPage pg = pages[p];
        int i = pg.floorIndex(block, limitOf(p));
        if (i >= 0) {
            return pg.end(i) > block ? i : i + 1;
        }
        return p > 0 && pages[p - 1].end(pages[p - 1].size - 1) > block ? -1 : 0;
    }

    /** Joins the extent at loc with its neighbours where they are contiguous. */
    private void coalesce(long loc) {
        long prev = prevLoc(loc);
        long next = nextLoc(loc);
        boolean joinPrev = prev != NONE && joinable(prev, loc);
        boolean joinNext = next != NONE && joinable(loc, next);
        // grow the surviving extent first, then delete the absorbed ones by start: a deletion may
        // merge pages and so invalidate locations
        if (joinPrev) {
            long s = startAt(loc);
            pages[page(prev)].length[index(prev)] += lengthAt(loc) + (joinNext ? lengthAt(next) : 0);
            deleteAbsorbed(s, joinNext ? startAt(next) + 1 : s + 1);
        } else if (joinNext) {
            long s = startAt(next);
            pages[page(loc)].length[index(loc)] += lengthAt(next);
            deleteAbsorbed(s, s + 1);
        }
    }

    /**
     * Maps the hole [start, start+length), extending a contiguous neighbour instead of adding an
     * extent when it can. {@code prev} is the extent before start (or NONE).
     */
    private void insertCoalescing(long prev, long start, long length, long tag, long pos) {
        long end = start + length;
        long next = nextLoc(prev);
        boolean joinPrev = prev != NONE
                && endAt(prev) == start && tagAt(prev) == tag && continues(posAt(prev), lengthAt(prev), pos);
        boolean joinNext = next != NONE
                && startAt(next) == end && tagAt(next) == tag && continues(pos, length, posAt(next));
        mappedBlocks += length;
        if (joinPrev) {
            ExtentPage pg = pages[page(prev)];
            pg.length[index(prev)] += length + (joinNext ? lengthAt(next) : 0);
            if (joinNext) {
                deleteAbsorbed(end, end + 1);
            }
        } else if (joinNext) {
            ExtentPage pg = pages[page(next)];
            int e = index(next);
            pg.set(e, start, length + pg.length[e], tag, pos);
            if (e == 0) {
                firsts[page(next)] = start;
            }
        } else if (prev == NONE) {
            insertAt(0, 0, start, length, tag, pos);
        } else {
            insertAt(page(prev), index(prev) + 1, start, length, tag, pos);
        }
    }

    /** Drops extents (starting in [from, to)) whose blocks a neighbour has just taken over. */
    private void deleteAbsorbed(long from, long to) {
        deleteStartingIn(from, to, true, 0);
    }

    /**
     * Unmaps the blocks of [start, end) (only those of extents tagged {@code tag} unless
     * anyTag); returns how many were mapped. Does not update mappedBlocks.
     */
    private long unmap(long start, long end, boolean anyTag, long tag) {
        if (start == end) {
            return 0;
        }
        cut(start, anyTag, tag);
        cut(end, anyTag, tag);
        return deleteStartingIn(start, end, anyTag, tag);
    }

    /**
     * Splits the extent straddling {@code block} (if it is to be removed) so that an extent
     * boundary falls at block.
     */
    private void cut(long block, boolean anyTag, long tag) {
        long loc = floorLoc(block);
        if (loc == NONE) {
            return;
        }
        ExtentPage pg = pages[page(loc)];
        int e = index(loc);
        long s = pg.start[e];
        long end = pg.end(e);
        if (s == block || end <= block || (!anyTag && pg.tag[e] != tag)) {
            return;
        }
        pg.length[e] = block - s;
        insertAt(page(loc), e + 1, block, end - block, pg.tag[e], advance(pg.pos[e], block - s));
    }

    /**
     * Deletes the whole extents that start in [from, to) (only those tagged {@code tag} unless
     * anyTag), with one compaction per touched page; returns the blocks they covered.
     */
    private long deleteStartingIn(long from, long to, boolean anyTag, long tag) {
        long loc = floorLoc(from);
        loc = loc != NONE && startAt(loc) == from ? loc : nextLoc(loc);
        if (loc == NONE || startAt(loc) >= to) {
            return 0;
        }
        int firstPage = page(loc);
        int lastPage = floorPage(to - 1);
        long blocks = 0;
        for (int p = firstPage; p <= lastPage; p++) {
            ExtentPage pg = pages[p];
            int a = p == firstPage ? index(loc) : 0;
            int b = p == lastPage ? pg.ceilingIndex(to, limitOf(p)) : pg.size;
            int before = pg.size;
            blocks += anyTag ? pg.removeRange(a, b) : pg.removeTagged(a, b, tag);
            extentCount -= before - pg.size;
        }
        repairPages(firstPage, lastPage);
        return blocks;
    }

    // ---------------------------------------------------------------- page management

    /** Inserts an extent before index e of page p, making room by spilling or splitting. */
    private void insertAt(int p, int e, long s, long l, long t, long pos) {
        extentCount++;
        if (pageCount == 0) {
            insertPage(0, singleton(s, l, t, pos));
            return;
        }
        ExtentPage pg = pages[p];
        if (pg.size == pageCapacity) {
            if (e == 0 || e == pg.size) {
                // at an edge of a full page: start a new page, which keeps sequential inserts from
                // leaving a trail of half-empty split pages behind
                insertPage(e == 0 ? p : p + 1, singleton(s, l, t, pos));
                return;
            }
            long target = makeRoom(p, e);
            p = page(target);
            e = index(target);
            pg = pages[p];
        }
        pg.ensureCapacity(pg.size + 1, pageCapacity);
        pg.insert(e, s, l, t, pos);
        if (e == 0) {
            firsts[p] = s;
        }
    }

    private ExtentPage singleton(long s, long l, long t, long pos) {
        ExtentPage pg = new ExtentPage(Math.min(ExtentPage.MIN_CAPACITY, pageCapacity));
        pg.insert(0, s, l, t, pos);
        return pg;
    }

    /**
     * Frees space for an insert before index e of the full page p, and returns where that insert
     * now goes. Moving entries into a neighbour with room (as a B*-tree does) before splitting
     * keeps pages fuller under random inserts than plain halving.
     */
    private long makeRoom(int p, int e) {
        ExtentPage pg = pages[p];
        if (p + 1 < pageCount && pageCapacity - pages[p + 1].size >= minSpillRoom) {
            ExtentPage next = pages[p + 1];
            pg.moveTailTo(next, (pg.size - next.size) / 2, pageCapacity);
            firsts[p + 1] = next.first();
            return e <= pg.size ? loc(p, e) : loc(p + 1, e - pg.size);
        }
        if (p > 0 && pageCapacity - pages[p - 1].size >= minSpillRoom) {
            ExtentPage prev = pages[p - 1];
            int prevSize = prev.size;
            int k = (pg.size - prevSize) / 2;
            pg.moveHeadTo(prev, k, pageCapacity);
            firsts[p] = pg.first();
            return e <= k ? loc(p - 1, prevSize + e) : loc(p, e - k);
        }
        ExtentPage right = new ExtentPage(pageCapacity);
        int mid = pg.size / 2;
        pg.moveTailTo(right, pg.size - mid, pageCapacity);
        insertPage(p + 1, right);
        return e <= mid ? loc(p, e) : loc(p + 1, e - mid);
    }

    private void insertPage(int i, ExtentPage pg) {
        if (pageCount == pages.length) {
            int capacity = pages.length + (pages.length >> 1);
            pages = Arrays.copyOf(pages, capacity);
            firsts = Arrays.copyOf(firsts, capacity);
        }
        System.arraycopy(pages, i, pages, i + 1, pageCount - i);
        System.arraycopy(firsts, i, firsts, i + 1, pageCount - i);
        pages[i] = pg;
        firsts[i] = pg.first();
        pageCount++;
    }

    /**
     * After deletions from pages [from, to]: drops emptied pages, merges underfull pages into
     * their predecessor and refreshes the index, in one pass over those pages and their two
     * neighbours plus one shift of the rest of the index.
     */
    private void repairPages(int from, int to) {
        int lo = Math.max(0, from - 1);
        int hi = Math.min(pageCount - 1, to + 1);
        int w = lo;
        for (int r = lo; r <= hi; r++) {
            ExtentPage pg = pages[r];
            if (pg.size == 0) {
                continue;
            }
            if (w > lo && mergeable(pages[w - 1], pg)) {
                pg.moveHeadTo(pages[w - 1], pg.size, pageCapacity);
                continue;
            }
            pages[w] = pg;
            firsts[w] = pg.first();
            w++;
        }
        for (int i = lo; i < w; i++) {
            pages[i].shrinkIfSparse();
        }
        if (w == hi + 1) {
            return; // no page went away; don't shift the (possibly long) rest of the index
        }
        int tail = pageCount - (hi + 1);
        System.arraycopy(pages, hi + 1, pages, w, tail);
        System.arraycopy(firsts, hi + 1, firsts, w, tail);
        int newCount = w + tail;
        Arrays.fill(pages, newCount, pageCount, null);
        pageCount = newCount;
        if (pages.length > 16 && pageCount < pages.length / 4) {
            pages = Arrays.copyOf(pages, Math.max(4, 2 * pageCount));
            firsts = Arrays.copyOf(firsts, pages.length);
        }
    }

    private boolean mergeable(ExtentPage a, ExtentPage b) {
        return a.size + b.size <= pageCapacity && (a.size < minFill || b.size < minFill);
    }

    // ---------------------------------------------------------------- locations

    private static long loc(int page, int index) {
        return ((long) page << 32) | index;
    }

    private static int page(long loc) {
        return (int) (loc >>> 32);
    }

    private static int index(long loc) {
        return (int) loc;
    }

    /** Index of the last page whose first extent starts at or before block, or -1. */
    private int floorPage(long block) {
        int lo = 0;
        int hi = pageCount - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (firsts[mid] <= block) {
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        return hi;
    }

    /** An upper bound for the starts in page p: the next page's first start, which is at hand. */
    private long limitOf(int p) {
        return p + 1 < pageCount ? firsts[p + 1] : pages[p].limit();
    }

    /** The last extent starting at or before block, or NONE. */
    private long floorLoc(long block) {
        int p = floorPage(block);
        return p < 0 ? NONE : loc(p, pages[p].floorIndex(block, limitOf(p)));
    }

    /** The extent after loc; after NONE, the first extent. */
    private long nextLoc(long loc) {
        if (loc == NONE) {
            return pageCount == 0 ? NONE : loc(0, 0);
        }
        int p = page(loc);
        int e = index(loc);
        if (e + 1 < pages[p].size) {
            return loc(p, e + 1);
        }
        return p + 1 < pageCount ? loc(p + 1, 0) : NONE;
    }

    private long prevLoc(long loc) {
        int p = page(loc);
        int e = index(loc);
        if (e > 0) {
            return loc(p, e - 1);
        }
        return p > 0 ? loc(p - 1, pages[p - 1].size - 1) : NONE;
    }

    private long startAt(long loc) {
        return pages[page(loc)].start[index(loc)];
    }

    private long lengthAt(long loc) {
        return pages[page(loc)].length[index(loc)];
    }

    private long endAt(long loc) {
        return pages[page(loc)].end(index(loc));
    }

    private long tagAt(long loc) {
        return pages[page(loc)].tag[index(loc)];
    }

    private long posAt(long loc) {
        return pages[page(loc)].pos[index(loc)];
    }

    // ---------------------------------------------------------------- extent arithmetic

    /** Whether the extent at b directly continues the one at a (so they can be one extent). */
    private boolean joinable(long a, long b) {
        return endAt(a) == startAt(b) && tagAt(a) == tagAt(b) && continues(posAt(a), lengthAt(a), posAt(b));
    }

    /** Whether nextPos is the pos that follows an extent of this pos and length. */
    private boolean continues(long pos, long length, long nextPos) {
        return pos == ZERO ? nextPos == ZERO : nextPos == pos + length * stride;
    }

    private long advance(long pos, long blocks) {
        return pos == ZERO ? ZERO : pos + blocks * stride;
    }

    /** Validates a range and returns its end. */
    private static long checkRange(long start, long length, long minLength) {
        if (start < 0 || length < minLength || start > Long.MAX_VALUE - length) {
            throw new IllegalArgumentException("bad block range: start " + start + ", length " + length);
        }
        return start + length;
    }

    /** Rejects a pos whose extent would run past Long.MAX_VALUE, so pos arithmetic never overflows. */
    private void checkPos(long pos, long length) {
        if (pos == ZERO) {
            return;
        }
        if (pos < 0) {
            throw new IllegalArgumentException("bad pos: " + pos);
        }
        try {
            Math.addExact(pos, Math.multiplyExact(length, stride));
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("pos overflows: pos " + pos + ", length " + length, e);
        }
    }
}
