package io.viperblock.nbd.protocol;

import java.util.SplittableRandom;

/** The shared seeded randomness ({@link io.viperblock.core.testing.Seeds}) plus random protocol strings. Stateless. */
final class Seeds {
    private Seeds() {}

    static SplittableRandom random(String test) {
        return io.viperblock.core.testing.Seeds.random(test);
    }

    static byte[] bytes(SplittableRandom r, int n) {
        return io.viperblock.core.testing.Seeds.bytes(r, n);
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
