package io.viperblock.core.store;

/**
 * Validation of object keys and of the names that become part of them (volumes, snapshots).
 * Stateless.
 */
public final class ObjectKeys {
    /** Longest key any store must accept; S3 allows 1024 bytes. */
    public static final int MAX_KEY_LENGTH = 1024;
    /** Longest volume or snapshot name. */
    public static final int MAX_NAME_LENGTH = 128;

    private ObjectKeys() {}

    /** Returns {@code key} if it is a valid key, else throws IllegalArgumentException saying why. */
    public static String check(String key) {
        if (key == null || key.isEmpty()) {
            throw new IllegalArgumentException("object key is empty");
        }
        if (key.length() > MAX_KEY_LENGTH) {
            throw new IllegalArgumentException("object key is longer than " + MAX_KEY_LENGTH + " characters: " + key.substring(0, 40) + "...");
        }
        for (String segment : key.split("/", -1)) {
            if (segment.isEmpty() || segment.equals(".") || segment.equals("..") || !allowedChars(segment)) {
                throw new IllegalArgumentException("invalid object key \"" + printable(key)
                        + "\": segments between '/' must be non-empty, not '.' or '..', and use only A-Z a-z 0-9 . _ -");
            }
        }
        return key;
    }

    /** Checks that {@code prefix} is empty or a valid key optionally ending in '/'. */
    public static String checkPrefix(String prefix) {
        if (prefix.isEmpty()) {
            return prefix;
        }
        check(prefix.endsWith("/") ? prefix.substring(0, prefix.length() - 1) : prefix);
        return prefix;
    }

    /**
     * Returns {@code name} if it is a valid volume or snapshot name: 1 to 128 characters of
     * {@code [A-Za-z0-9._-]}, starting with a letter or digit.
     */
    public static String checkName(String kind, String name) {
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException(kind + " name is empty");
        }
        if (name.length() > MAX_NAME_LENGTH || !allowedChars(name) || !Character.isLetterOrDigit(name.charAt(0))) {
            throw new IllegalArgumentException("invalid " + kind + " name \"" + printable(name)
                    + "\": use 1 to " + MAX_NAME_LENGTH + " characters of A-Z a-z 0-9 . _ -, starting with a letter or digit");
        }
        return name;
    }

    private static boolean allowedChars(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '.' || c == '_' || c == '-';
            if (!ok) {
                return false;
            }
        }
        return true;
    }

    private static String printable(String s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < Math.min(s.length(), 80); i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c > 0x7e) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return s.length() > 80 ? b + "..." : b.toString();
    }
}
