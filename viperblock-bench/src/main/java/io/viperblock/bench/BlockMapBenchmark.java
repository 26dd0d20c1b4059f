package io.viperblock.bench;

import io.viperblock.core.map.ExtentMap;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * The block map ({@link ExtentMap}) at 1M and 10M extents: lookups, and puts that overwrite
 * random extents.
 *
 * <p>Layout: extent {@code i} covers blocks {@code [3i, 3i+2)} and block {@code 3i+2} is a hole.
 * Every extent has its own tag, so no two can merge and the count stays exactly {@code extents}
 * (a map of one big extent would make every operation look free). The holes give the insert
 * benchmark somewhere to put a new extent without growing the map for good.
 *
 * <p>Memory per extent is printed at setup twice: as the map estimates it
 * ({@link ExtentMap#estimatedBytes()}) and as measured (used heap after a full GC, before and
 * after building the map). The puts can split pages, so the estimate is printed again at teardown.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xmx4g", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"})
public class BlockMapBenchmark {

    /** Random extent indexes, precomputed so the measured loop does not pay for the generator. */
    static final int PICKS = 1 << 20;

    @State(Scope.Benchmark)
    public static class MapState {
        @Param({"1000000", "10000000"})
        int extents;

        ExtentMap map;
        long[] picks;
        int next;
        long tag;
        long[] sink = new long[1];
        ExtentMap.Visitor visitor;

        /** The benchmark method's name, for the lines printed at setup and teardown. */
        String label;

        @Setup(Level.Trial)
        public void setup(BenchmarkParams params) {
            label = params.getBenchmark().substring(params.getBenchmark().lastIndexOf('.') + 1);
            picks = new long[PICKS];
            SplittableRandom rnd = new SplittableRandom(7);
            for (int i = 0; i < PICKS; i++) {
                picks[i] = rnd.nextInt(extents);
            }
            visitor = (start, length, t, pos) -> sink[0] += start + length + t + pos;

            long before = usedAfterGc();
            map = new ExtentMap(1);
            for (long i = 0; i < extents; i++) {
                // pos steps by 3 per extent of 2 blocks: never contiguous, so never mergeable
                map.put(3 * i, 2, i + 1, 3 * i);
            }
            long after = usedAfterGc();
            tag = extents + 1;
            if (map.extentCount() != extents) {
                throw new IllegalStateException("built " + map.extentCount() + " extents, wanted " + extents);
            }
            System.out.printf("[vb] block map of %d extents (%s): estimatedBytes %.1f bytes/extent, measured (heap delta after GC) %.1f bytes/extent%n",
                    extents, label, (double) map.estimatedBytes() / extents, (double) (after - before) / extents);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            System.out.printf("[vb] block map of %d extents after %s: %d extents, estimatedBytes %.1f bytes/extent%n",
                    extents, label, map.extentCount(), (double) map.estimatedBytes() / map.extentCount());
        }

        long pick() {
            return picks[next++ & (PICKS - 1)];
        }

        private static long usedAfterGc() {
            Runtime rt = Runtime.getRuntime();
            long used = Long.MAX_VALUE;
            // a few rounds: the first GC can leave work (reference processing, humongous regions) for the next
            for (int i = 0; i < 4; i++) {
                System.gc();
                try {
                    Thread.sleep(100);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                used = Math.min(used, rt.totalMemory() - rt.freeMemory());
            }
            return used;
        }
    }

    /** The extent holding one random mapped block. */
    @Benchmark
    public ExtentMap.Extent get(MapState s) {
        return s.map.get(3 * s.pick() + 1);
    }

    /** forEach over a 1-block range (what a 4 KiB read plan does). */
    @Benchmark
    public long forEach1(MapState s) {
        s.map.forEach(3 * s.pick() + 1, 1, s.visitor);
        return s.sink[0];
    }

    /** Replaces a random extent with one that cannot merge with its neighbours (a new tag). */
    @Benchmark
    public void putOverwrite(MapState s) {
        long i = s.pick();
        s.map.put(3 * i, 2, s.tag++, 3 * i);
    }

    /**
     * Puts a 1-block extent into a random hole (an insert in the middle of a page, which may
     * spill or split it) and removes it again, so the map keeps its size.
     */
    @Benchmark
    public void putIntoHoleThenRemove(MapState s) {
        long i = s.pick();
        s.map.put(3 * i + 2, 1, s.tag++, 0);
        s.map.remove(3 * i + 2, 1);
    }
}
