package io.viperblock.nbd.protocol;

import java.util.SplittableRandom;

/** Seeded randomness for tests: {@code -Dviperblock.seed=N} replays a run; the seed is always printed. */
final class Seeds {
    private Seeds() {}

    static SplittableRandom random(String test) {
        Long fixed = Long.getLong("viperblock.seed");
        long seed = fixed != null ? fixed : System.nanoTime() ^ Thread.currentThread().threadId() * 0x9E3779B97F4A7C15L;
        System.out.println(test + ": seed=" + seed + " (rerun with -Dviperblock.seed=" + seed + ")");
        return new SplittableRandom(seed);
    }

    static byte[] bytes(SplittableRandom r, int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i += 8) {
            long v = r.nextLong();
            for (int k = 0; k < 8 && i + k < n; k++) {
                b[i + k] = (byte) (v >>> (8 * k));
            }
        }
        return b;
    }

    /** A random protocol string: no NUL, mixed 1- to 4-byte UTF-8 characters, at most {@code maxBytes} bytes. */
    static String string(SplittableRandom r, int maxBytes) {
        StringBuilder sb = new StringBuilder();
        int bytes = 0;
        int target = r.nextInt(maxBytes + 1);
        while (true) {
            int cp = switch (r.nextInt(5)) {
                case 0, 1 -> 0x20 + r.nextInt(0x5F);        // printable ASCII
                case 2 -> 0x80 + r.nextInt(0x780);          // 2 bytes
                case 3 -> {                                  // 3 bytes, no surrogates
                    int c = 0x800 + r.nextInt(0xF800);
                    yield c >= 0xD800 && c <= 0xDFFF ? 'x' : c;
                }
                default -> 0x10000 + r.nextInt(0x100000);    // 4 bytes
            };
            int n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
            if (bytes + n > target) {
                return sb.toString();
            }
            sb.appendCodePoint(cp);
            bytes += n;
        }
    }
}
