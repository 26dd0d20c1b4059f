package io.viperblock.core.testing;

import java.util.SplittableRandom;

/**
 * Seeded randomness for tests of every module: {@code -Dviperblock.seed=N} replays a run; the seed
 * is always printed. Stateless.
 */
public final class Seeds {
    private Seeds() {}

    public static SplittableRandom random(String test) {
        Long fixed = Long.getLong("viperblock.seed");
        long seed = fixed != null ? fixed : System.nanoTime() ^ Thread.currentThread().threadId() * 0x9E3779B97F4A7C15L;
        System.out.println(test + ": seed=" + seed + " (rerun with -Dviperblock.seed=" + seed + ")");
        return new SplittableRandom(seed);
    }

    public static byte[] bytes(SplittableRandom r, int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i += 8) {
            long v = r.nextLong();
            for (int k = 0; k < 8 && i + k < n; k++) {
                b[i + k] = (byte) (v >>> (8 * k));
            }
        }
        return b;
    }
}
