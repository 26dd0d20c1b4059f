package io.viperblock.core.map;

import static io.viperblock.core.map.ExtentMap.ZERO;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.core.map.ExtentMap.Extent;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.LongStream;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Random put / remove / removeMatching / copy sequences checked after every step against a
 * naive per-block model. Reproduce a failure with -Dextentmap.seed=N (the seed is in every
 * message); -Dextentmap.steps=N runs longer.
 */
class ExtentMapModelTest {

    private static final int BLOCKS = 5000;
    private static final long[] TAGS = {1, 2, 3};

    static Stream<Arguments> configurations() {
        List<Arguments> out = new ArrayList<>();
        for (long stride : new long[] {1, 4096}) {
            // tiny pages exercise splits, spills and merges constantly
            for (int pageCapacity : new int[] {4, 7, 64, ExtentMap.DEFAULT_PAGE_CAPACITY}) {
                for (long seed : seeds()) {
                    out.add(Arguments.of(stride, pageCapacity, seed));
                }
            }
        }
        return out.stream();
    }

    private static long[] seeds() {
        String fixed = System.getProperty("extentmap.seed");
        return fixed != null ? new long[] {Long.parseLong(fixed)} : LongStream.rangeClosed(1, 3).toArray();
    }

    @ParameterizedTest(name = "stride {0}, page capacity {1}, seed {2}")
    @MethodSource("configurations")
    void matchesPerBlockModel(long stride, int pageCapacity, long seed) {
        int steps = Integer.getInteger("extentmap.steps", 3000);
        new Run(stride, pageCapacity, seed).go(steps);
    }

    /** One randomized run: the map under test, the model, and the frozen copy being watched. */
    private static final class Run {
        final long stride;
        final long seed;
        final SplittableRandom rnd;
        ExtentMap map;
        Model model;
        ExtentMap frozen;
        Model frozenModel;
        String where = "start";

        Run(long stride, int pageCapacity, long seed) {
            this.stride = stride;
            this.seed = seed;
            this.rnd = new SplittableRandom(seed);
            this.map = new ExtentMap(stride, pageCapacity);
            this.model = new Model(stride);
        }

        void go(int steps) {
            for (int step = 0; step < steps; step++) {
                int op = rnd.nextInt(100);
                long start = rnd.nextInt(BLOCKS);
                long length = randomLength(start);
                long tag = TAGS[rnd.nextInt(TAGS.length)];
                where = "seed " + seed + " (stride " + stride + "), step " + step + ": ";
                if (op < 50) {
                    Extent existing = map.get(start);
                    if (existing != null && rnd.nextInt(4) == 0) {
                        // exactly over an extent: the in-place path, which may join both neighbours
                        start = existing.start();
                        length = existing.length();
                    }
                    long pos = randomPos(start);
                    where += "put(" + start + ", " + length + ", " + tag + ", " + pos + ")";
                    map.put(start, length, tag, pos);
                    model.put(start, length, tag, pos);
                } else if (op < 70) {
                    where += "remove(" + start + ", " + length + ")";
                    map.remove(start, length);
                    model.remove(start, length);
                } else if (op < 97) {
                    where += "removeMatching(" + start + ", " + length + ", " + tag + ")";
                    long removed = map.removeMatching(start, length, tag);
                    assertEquals(model.removeMatching(start, length, tag), removed, where);
                } else if (op < 99) {
                    where += "copy()";
                    switchToCopy();
                } else {
                    where += "clear()";
                    map.clear();
                    model = new Model(stride);
                }
                check(map, model);
                checkQueries();
            }
            if (frozen != null) {
                check(frozen, frozenModel);
            }
        }

        private long randomLength(long start) {
            int kind = rnd.nextInt(10);
            long max = kind < 6 ? 8 : kind < 9 ? 200 : BLOCKS;
            return 1 + rnd.nextLong(Math.min(max, BLOCKS - start));
        }

        /**
         * Mostly positions on one of two "diagonals" (pos a function of the block), so that
         * neighbouring puts are often contiguous and must coalesce; sometimes anything.
         */
        private long randomPos(long start) {
            int kind = rnd.nextInt(10);
            if (kind < 2) {
                return ZERO;
            }
            if (kind < 8) {
                return (start + (kind < 5 ? 0 : 100_000)) * stride;
            }
            return rnd.nextLong(1_000_000) * stride;
        }

        /** Continues on a copy of the map, and later checks that the old map never changed. */
        private void switchToCopy() {
            if (frozen != null) {
                check(frozen, frozenModel);
            }
            ExtentMap copy = map.copy();
            check(copy, model);
            frozen = map;
            frozenModel = model.copy();
            map = copy;
        }

        private void checkQueries() {
            for (int i = 0; i < 4; i++) {
                int b = rnd.nextInt(BLOCKS + 10);
                Extent e = map.get(b);
                if (b >= BLOCKS || !model.mapped[b]) {
                    assertNull(e, () -> where + ": get(" + b + ")");
                } else {
                    assertTrue(e.start() <= b && b < e.start() + e.length(), () -> where + ": get(" + b + ") " + e);
                    assertEquals(model.tag[b], e.tag(), () -> where + ": get(" + b + ") " + e);
                    assertEquals(model.pos[b], advance(e.pos(), b - e.start()), () -> where + ": get(" + b + ") " + e);
                }
            }
            long start = rnd.nextInt(BLOCKS);
            long length = randomLength(start);
            Model clipped = new Model(stride);
            map.forEach(start, length, (s, l, t, p) -> {
                assertTrue(s >= start && s + l <= start + length,
                        () -> where + ": forEach(" + start + ", " + length + ") gave " + s + "+" + l);
                clipped.put(s, l, t, p);
            });
            for (long b = start; b < start + length; b++) {
                int i = (int) b;
                assertEquals(model.describe(i), clipped.describe(i),
                        () -> where + ": forEach(" + start + ", " + length + ") at block " + i);
            }
        }

        /** Compares m to the model block by block and checks the structural invariants. */
        private void check(ExtentMap m, Model expected) {
            Model actual = new Model(stride);
            List<Extent> extents = ExtentMapTest.extents(m);
            Extent prev = null;
            for (Extent e : extents) {
                final Extent before = prev;
                assertTrue(e.length() >= 1 && e.start() >= 0 && e.start() + e.length() <= BLOCKS,
                        () -> where + ": bad extent " + e);
                if (before != null) {
                    assertTrue(before.start() + before.length() <= e.start(),
                            () -> where + ": unsorted or overlapping " + before + ", " + e);
                    // put guarantees this; removals only punch holes, so it holds throughout
                    assertTrue(!joinable(before, e), () -> where + ": not coalesced " + before + ", " + e);
                }
                actual.put(e.start(), e.length(), e.tag(), e.pos());
                prev = e;
            }
            for (int b = 0; b < BLOCKS; b++) {
                if (!expected.same(actual, b)) {
                    int block = b;
                    assertEquals(expected.describe(block), actual.describe(block),
                            () -> where + ": block " + block + " in " + m);
                }
            }
            assertEquals(extents.size(), m.extentCount(), () -> where + ": extentCount");
            assertEquals(expected.mappedBlocks(), m.mappedBlocks(), () -> where + ": mappedBlocks");
        }

        private boolean joinable(Extent a, Extent b) {
            return a.start() + a.length() == b.start() && a.tag() == b.tag()
                    && (a.pos() == ZERO ? b.pos() == ZERO : b.pos() == a.pos() + a.length() * stride);
        }

        private long advance(long pos, long blocks) {
            return pos == ZERO ? ZERO : pos + blocks * stride;
        }
    }

    /** The obvious implementation: one (tag, pos) per block. */
    private static final class Model {
        final long stride;
        final boolean[] mapped = new boolean[BLOCKS];
        final long[] tag = new long[BLOCKS];
        final long[] pos = new long[BLOCKS];

        Model(long stride) {
            this.stride = stride;
        }

        void put(long start, long length, long t, long p) {
            for (long i = 0; i < length; i++) {
                int b = (int) (start + i);
                mapped[b] = true;
                tag[b] = t;
                pos[b] = p == ZERO ? ZERO : p + i * stride;
            }
        }

        void remove(long start, long length) {
            Arrays.fill(mapped, (int) start, (int) (start + length), false);
        }

        long removeMatching(long start, long length, long t) {
            long removed = 0;
            for (int b = (int) start; b < start + length; b++) {
                if (mapped[b] && tag[b] == t) {
                    mapped[b] = false;
                    removed++;
                }
            }
            return removed;
        }

        long mappedBlocks() {
            long n = 0;
            for (boolean m : mapped) {
                n += m ? 1 : 0;
            }
            return n;
        }

        boolean same(Model o, int b) {
            return mapped[b] == o.mapped[b] && (!mapped[b] || (tag[b] == o.tag[b] && pos[b] == o.pos[b]));
        }

        String describe(int b) {
            return mapped[b] ? "tag " + tag[b] + " pos " + pos[b] : "hole";
        }

        Model copy() {
            Model c = new Model(stride);
            System.arraycopy(mapped, 0, c.mapped, 0, BLOCKS);
            System.arraycopy(tag, 0, c.tag, 0, BLOCKS);
            System.arraycopy(pos, 0, c.pos, 0, BLOCKS);
            return c;
        }
    }
}
