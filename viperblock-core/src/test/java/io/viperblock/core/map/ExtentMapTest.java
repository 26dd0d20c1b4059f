package io.viperblock.core.map;

import static io.viperblock.core.map.ExtentMap.ZERO;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.core.map.ExtentMap.Extent;
import java.util.ArrayList;
import java.util.ConcurrentModificationException;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class ExtentMapTest {

    private static final long WAL_STRIDE = 4096;

    static List<Extent> extents(ExtentMap map) {
        List<Extent> out = new ArrayList<>();
        map.forEachAll((s, l, t, p) -> out.add(new Extent(s, l, t, p)));
        return out;
    }

    static List<Extent> extents(ExtentMap map, long start, long length) {
        List<Extent> out = new ArrayList<>();
        map.forEach(start, length, (s, l, t, p) -> out.add(new Extent(s, l, t, p)));
        return out;
    }

    private static Extent x(long start, long length, long tag, long pos) {
        return new Extent(start, length, tag, pos);
    }

    @Test
    void putIntoEmpty() {
        ExtentMap m = new ExtentMap(1);
        assertTrue(m.isEmpty());
        m.put(10, 5, 7, 100);
        assertEquals(List.of(x(10, 5, 7, 100)), extents(m));
        assertEquals(1, m.extentCount());
        assertEquals(5, m.mappedBlocks());
        assertEquals(x(10, 5, 7, 100), m.get(10));
        assertEquals(x(10, 5, 7, 100), m.get(14));
        assertNull(m.get(9));
        assertNull(m.get(15));
    }

    @Test
    void overwriteMiddleSplitsInThree() {
        ExtentMap m = new ExtentMap(WAL_STRIDE);
        m.put(0, 10, 1, 0);
        m.put(3, 2, 2, 999 * WAL_STRIDE);
        assertEquals(List.of(
                x(0, 3, 1, 0),
                x(3, 2, 2, 999 * WAL_STRIDE),
                x(5, 5, 1, 5 * WAL_STRIDE)), extents(m));
        assertEquals(3, m.extentCount());
        assertEquals(10, m.mappedBlocks());
    }

    @Test
    void overwriteSpanningSeveralExtents() {
        ExtentMap m = new ExtentMap(1);
        m.put(0, 10, 1, 0);
        m.put(10, 10, 2, 0);
        m.put(25, 5, 3, 0);
        m.put(40, 10, 4, 0);
        m.put(5, 40, 9, 1000);
        assertEquals(List.of(x(0, 5, 1, 0), x(5, 40, 9, 1000), x(45, 5, 4, 5)), extents(m));
        assertEquals(3, m.extentCount());
        assertEquals(50, m.mappedBlocks());
    }

    @Test
    void exactOverwriteReplacesInPlace() {
        ExtentMap m = new ExtentMap(1);
        m.put(0, 4, 1, 0);
        m.put(4, 4, 2, 50);
        m.put(8, 4, 3, 0);
        m.put(4, 4, 5, 77);
        assertEquals(List.of(x(0, 4, 1, 0), x(4, 4, 5, 77), x(8, 4, 3, 0)), extents(m));
        // an exact overwrite that makes the extent contiguous with both neighbours joins all three
        m.put(0, 4, 5, 73);
        m.put(8, 4, 5, 81);
        assertEquals(List.of(x(0, 12, 5, 73)), extents(m));
        assertEquals(12, m.mappedBlocks());

        ExtentMap both = new ExtentMap(1);
        both.put(0, 4, 5, 0);
        both.put(4, 4, 9, 0);
        both.put(8, 4, 5, 8);
        both.put(4, 4, 5, 4);
        assertEquals(List.of(x(0, 12, 5, 0)), extents(both));
    }

    @Test
    void removeSplits() {
        ExtentMap m = new ExtentMap(WAL_STRIDE);
        m.put(0, 10, 1, 0);
        m.remove(4, 2);
        assertEquals(List.of(x(0, 4, 1, 0), x(6, 4, 1, 6 * WAL_STRIDE)), extents(m));
        assertEquals(8, m.mappedBlocks());
        m.remove(0, 100);
        assertTrue(m.isEmpty());
        assertEquals(0, m.mappedBlocks());
        m.remove(5, 0);
        m.remove(1000, 5);
        assertTrue(m.isEmpty());
    }

    @Test
    void removeMatchingOnlyTouchesThatTag() {
        ExtentMap m = new ExtentMap(1);
        m.put(0, 10, 1, 0);
        m.put(10, 10, 2, 0);
        m.put(20, 10, 1, 10);
        m.put(30, 10, 3, 0);
        assertEquals(15, m.removeMatching(5, 28, 1));
        assertEquals(List.of(x(0, 5, 1, 0), x(10, 10, 2, 0), x(30, 10, 3, 0)), extents(m));
        assertEquals(25, m.mappedBlocks());
        assertEquals(0, m.removeMatching(0, 100, 7));
        assertEquals(3, m.extentCount());
        // a matching extent straddling both ends of the range is split around it
        assertEquals(4, m.removeMatching(13, 4, 2));
        assertEquals(List.of(x(0, 5, 1, 0), x(10, 3, 2, 0), x(17, 3, 2, 7), x(30, 10, 3, 0)), extents(m));
    }

    @Test
    void zeroExtentsHaveNoStride() {
        ExtentMap m = new ExtentMap(WAL_STRIDE);
        m.put(0, 100, 5, ZERO);
        m.put(40, 10, 6, 8192);
        assertEquals(List.of(x(0, 40, 5, ZERO), x(40, 10, 6, 8192), x(50, 50, 5, ZERO)), extents(m));
        assertEquals(List.of(x(60, 5, 5, ZERO)), extents(m, 60, 5));
        // zero extents of one tag join whatever their "positions"
        m.put(40, 10, 5, ZERO);
        assertEquals(List.of(x(0, 100, 5, ZERO)), extents(m));
        // a zero extent never joins a data extent of the same tag, nor the reverse
        m.put(100, 5, 5, 0);
        m.put(105, 5, 5, ZERO);
        assertEquals(3, m.extentCount());
    }

    @Test
    void coalescesAppendsAndPrepends() {
        ExtentMap m = new ExtentMap(WAL_STRIDE);
        for (long b = 100; b < 200; b++) {
            m.put(b, 1, 3, b * WAL_STRIDE);
        }
        assertEquals(List.of(x(100, 100, 3, 100 * WAL_STRIDE)), extents(m));
        for (long b = 99; b >= 50; b--) {
            m.put(b, 1, 3, b * WAL_STRIDE);
        }
        assertEquals(List.of(x(50, 150, 3, 50 * WAL_STRIDE)), extents(m));
        // filling a hole joins both sides
        m.put(300, 10, 3, 300 * WAL_STRIDE);
        m.put(200, 100, 3, 200 * WAL_STRIDE);
        assertEquals(List.of(x(50, 260, 3, 50 * WAL_STRIDE)), extents(m));
        // overwriting with the same mapping changes nothing
        m.put(120, 30, 3, 120 * WAL_STRIDE);
        assertEquals(List.of(x(50, 260, 3, 50 * WAL_STRIDE)), extents(m));
        assertEquals(260, m.mappedBlocks());
    }

    @Test
    void doesNotCoalesceDifferentTagOrDiscontiguousPos() {
        ExtentMap m = new ExtentMap(1);
        m.put(0, 10, 1, 0);
        m.put(10, 10, 2, 10);   // other tag
        m.put(20, 10, 2, 21);   // pos gap
        m.put(31, 10, 2, 31);   // block gap
        assertEquals(4, m.extentCount());
    }

    @Test
    void hugeLengths() {
        long start = (1L << 40) - 7;
        long length = 1L << 31;
        ExtentMap m = new ExtentMap(WAL_STRIDE);
        m.put(start, length, 1, ZERO);
        m.put(start + length, length, 1, ZERO);
        assertEquals(List.of(x(start, 2 * length, 1, ZERO)), extents(m));
        m.put(start + length, 1, 2, 4096);
        assertEquals(3, m.extentCount());
        assertEquals(2 * length, m.mappedBlocks());
        assertEquals(x(start + length + 1, length - 1, 1, ZERO), m.get(start + 2 * length - 1));

        ExtentMap data = new ExtentMap(WAL_STRIDE);
        data.put(start, length, 9, 0);
        data.remove(start + length - 10, 5);
        assertEquals(x(start + length - 5, 5, 9, (length - 5) * WAL_STRIDE), data.get(start + length - 1));
        assertEquals(length - 5, data.mappedBlocks());
        assertThrows(IllegalArgumentException.class, () -> data.put(Long.MAX_VALUE - 5, 10, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> data.put(0, 10, 1, Long.MAX_VALUE - 4096));
    }

    @Test
    void forEachClipsToTheRange() {
        ExtentMap m = new ExtentMap(WAL_STRIDE);
        m.put(0, 10, 1, 0);
        m.put(20, 10, 2, ZERO);
        m.put(30, 10, 3, 4096);
        assertEquals(List.of(x(5, 5, 1, 5 * WAL_STRIDE), x(20, 10, 2, ZERO), x(30, 2, 3, 4096)),
                extents(m, 5, 27));
        assertEquals(List.of(x(22, 3, 2, ZERO)), extents(m, 22, 3));
        assertEquals(List.of(x(33, 1, 3, 4096 + 3 * WAL_STRIDE)), extents(m, 33, 1));
        assertEquals(List.of(), extents(m, 10, 10));
        assertEquals(List.of(), extents(m, 40, 1000));
        assertEquals(List.of(), extents(m, 3, 0));
    }

    @Test
    void visitorMayNotChangeTheMap() {
        ExtentMap m = new ExtentMap(1);
        m.put(0, 1, 1, 0);
        m.put(5, 1, 1, 0);
        assertThrows(ConcurrentModificationException.class, () -> m.forEachAll((s, l, t, p) -> m.remove(s, l)));
    }

    @Test
    void pagesSplitAndDisappear() {
        int n = 10 * ExtentMap.DEFAULT_PAGE_CAPACITY + 17;
        ExtentMap m = new ExtentMap(1);
        for (int i = 0; i < n; i++) {   // ascending
            m.put(4L * n + 2L * i, 1, i, i);
        }
        for (int i = 1; i <= n; i++) {  // descending, in front of everything
            m.put(4L * n - 2L * i, 1, -i, i);
        }
        assertEquals(2 * n, m.extentCount());
        SplittableRandom rnd = new SplittableRandom(1);
        for (int i = 0; i < 5 * n; i++) { // random inserts into full pages
            long b = rnd.nextLong(8L * n + 10) | 1;
            m.put(b, 1, i, 7);
        }
        checkSortedAndDisjoint(m);
        long count = m.extentCount();
        assertEquals(count, extents(m).size());

        m.remove(100, 4L * n);           // drops whole pages in the middle
        checkSortedAndDisjoint(m);
        assertEquals(m.extentCount(), extents(m).size());
        assertEquals(List.of(), extents(m, 100, 4L * n));
        m.remove(0, Long.MAX_VALUE);
        assertTrue(m.isEmpty());
        assertTrue(m.estimatedBytes() < 1000, "an emptied map keeps no pages: " + m.estimatedBytes());
        m.put(5, 1, 1, 1);
        assertEquals(List.of(x(5, 1, 1, 1)), extents(m));
    }

    @Test
    void emptiedPagesMergeWithNeighbours() {
        int n = 20 * ExtentMap.DEFAULT_PAGE_CAPACITY;
        ExtentMap m = new ExtentMap(1);
        for (int i = 0; i < n; i++) {
            m.put(2L * i, 1, i % 10, i);
        }
        long full = m.estimatedBytes();
        // leave one extent in ten behind
        for (int tag = 1; tag < 10; tag++) {
            m.removeMatching(0, 2L * n, tag);
        }
        assertEquals(n / 10, m.extentCount());
        assertEquals(n / 10, extents(m).size());
        checkSortedAndDisjoint(m);
        // a tenth of the extents, in pages at least half full
        assertTrue(m.estimatedBytes() < full / 4, full + " then " + m.estimatedBytes());
    }

    @Test
    void copyIsIndependent() {
        ExtentMap m = new ExtentMap(1);
        for (int i = 0; i < 3000; i++) {
            m.put(3L * i, 2, i, 0);
        }
        ExtentMap c = m.copy();
        assertEquals(extents(m), extents(c));
        assertEquals(m.mappedBlocks(), c.mappedBlocks());
        assertEquals(m.extentCount(), c.extentCount());
        List<Extent> before = extents(m);
        c.put(0, 9000, 1, 0);
        c.remove(50, 10);
        assertEquals(before, extents(m));
        m.clear();
        assertEquals(List.of(x(0, 50, 1, 0), x(60, 8940, 1, 60)), extents(c));
        assertNotSame(m, c);
    }

    @Test
    void estimatedBytesGrowsLinearly() {
        ExtentMap m = new ExtentMap(1);
        long small = 0;
        for (int i = 0; i < 200_000; i++) {
            m.put(2L * i, 1, i, i);
            if (i == 20_000 - 1) {
                small = m.estimatedBytes();
            }
        }
        long big = m.estimatedBytes();
        double perExtentSmall = small / 20_000.0;
        double perExtentBig = big / 200_000.0;
        assertTrue(perExtentBig >= 32 && perExtentBig < 40, "bytes per extent " + perExtentBig);
        assertTrue(Math.abs(perExtentBig - perExtentSmall) < 4, perExtentSmall + " vs " + perExtentBig);
    }

    @Test
    void rejectsBadArguments() {
        ExtentMap m = new ExtentMap(1);
        assertThrows(IllegalArgumentException.class, () -> new ExtentMap(0));
        assertThrows(IllegalArgumentException.class, () -> m.put(-1, 1, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> m.put(0, 0, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> m.put(0, 1, 1, -2));
        assertThrows(IllegalArgumentException.class, () -> m.remove(0, -1));
        assertThrows(IllegalArgumentException.class, () -> m.forEach(-5, 1, (s, l, t, p) -> {}));
    }

    @Test
    void millionExtents() {
        int n = 1_000_000;
        ExtentMap m = new ExtentMap(1);
        for (int i = 0; i < n; i++) {
            m.put(2L * i, 1, i, i);
        }
        assertEquals(n, m.extentCount());
        assertEquals(n, m.mappedBlocks());
        SplittableRandom rnd = new SplittableRandom(42);
        for (int k = 0; k < 100_000; k++) {
            int i = rnd.nextInt(n);
            assertEquals(x(2L * i, 1, i, i), m.get(2L * i));
            assertNull(m.get(2L * i + 1));
        }
        // sequential writes of one chunk over the top coalesce into a single extent
        for (int b = 0; b < 2 * n; b++) {
            m.put(b, 1, -5, b);
        }
        assertEquals(List.of(x(0, 2L * n, -5, 0)), extents(m));
    }

    /** Sorted, non-overlapping and non-empty. */
    static void checkSortedAndDisjoint(ExtentMap m) {
        long[] prev = null;
        for (Extent e : extents(m)) {
            assertTrue(e.length() >= 1, "empty extent " + e);
            if (prev != null) {
                assertTrue(prev[0] + prev[1] <= e.start(), "overlap or disorder at " + e);
            }
            prev = new long[] {e.start(), e.length()};
        }
    }
}
