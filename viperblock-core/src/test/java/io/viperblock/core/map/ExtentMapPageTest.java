package io.viperblock.core.map;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The page's search in isolation (named ExtentMap* so it runs with the map's tests). */
class ExtentMapPageTest {

    /** The interpolation guess must never change the answer, whatever the spread or the limit. */
    @Test
    void floorIndexMatchesLinearScan() {
        long seed = Long.getLong("extentmap.seed", 20240601L);
        SplittableRandom rnd = new SplittableRandom(seed);
        for (int round = 0; round < 2000; round++) {
            int size = 1 + rnd.nextInt(300);
            ExtentPage pg = new ExtentPage(size);
            long s = rnd.nextLong(1000);
            boolean skewed = rnd.nextBoolean();
            for (int i = 0; i < size; i++) {
                pg.insert(i, s, 1, 0, 0);
                // skewed: mostly tiny gaps with rare huge jumps, the worst case for a guess
                s += 1 + (skewed && rnd.nextInt(20) == 0 ? rnd.nextLong(1L << 40) : rnd.nextInt(4));
            }
            long[] limits = {s, pg.limit(), pg.start[0] + 1, Long.MAX_VALUE, s + rnd.nextLong(1L << 50)};
            for (int q = 0; q < 50; q++) {
                long block = rnd.nextInt(4) == 0 ? pg.start[rnd.nextInt(size)] + rnd.nextInt(3) - 1
                        : pg.start[0] - 5 + rnd.nextLong(s - pg.start[0] + 10);
                int expected = -1;
                while (expected + 1 < size && pg.start[expected + 1] <= block) {
                    expected++;
                }
                for (long limit : limits) {
                    int want = expected;
                    assertEquals(want, pg.floorIndex(block, limit),
                            () -> "seed " + seed + ": floorIndex(" + block + ", " + limit + ") size " + size);
                }
            }
        }
    }
}
