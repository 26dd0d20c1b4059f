package io.viperblock.cli;

/** Parses sizes like {@code 4096}, {@code 512M}, {@code 10G}, {@code 1T} (powers of 1024). Stateless. */
public final class Sizes {
    private Sizes() {}

    /** A size above 0. */
    public static long parse(String text) {
        return parse(text, false);
    }

    /** A size of 0 or more ({@code 0}, {@code 0G} and the like included). */
    public static long parseAllowingZero(String text) {
        return parse(text, true);
    }

    private static long parse(String text, boolean zero) {
        String s = text.trim();
        if (s.isEmpty()) {
            throw new IllegalArgumentException("empty size");
        }
        char unit = Character.toUpperCase(s.charAt(s.length() - 1));
        int shift = switch (unit) {
            case 'K' -> 10;
            case 'M' -> 20;
            case 'G' -> 30;
            case 'T' -> 40;
            case 'P' -> 50;
            default -> 0;
        };
        String digits = shift == 0 ? s : s.substring(0, s.length() - 1);
        long n;
        try {
            n = Long.parseLong(digits);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad size \"" + text + "\": use bytes or a number with K, M, G, T (e.g. 512M, 10G)");
        }
        if (n < (zero ? 0 : 1) || n > (Long.MAX_VALUE >> shift)) {
            throw new IllegalArgumentException("bad size \"" + text + "\": must be " + (zero ? "0 or more" : "positive") + " and below 8 EiB");
        }
        return n << shift;
    }

    /** {@code bytes} in binary units for people: "512 B", "4.0 KiB", "1.5 GiB". */
    static String human(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        String units = "KMGTPE";
        double v = bytes;
        int u = -1;
        while (v >= 1024 && u < units.length() - 1) {
            v /= 1024;
            u++;
        }
        return String.format("%.1f %siB", v, units.charAt(u));
    }
}
