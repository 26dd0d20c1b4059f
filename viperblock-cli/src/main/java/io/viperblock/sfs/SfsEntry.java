package io.viperblock.sfs;

import java.nio.charset.StandardCharsets;
import java.util.HexFormat;

/**
 * One stored file: its path relative to the uploaded directory ('/'-separated), where its bytes
 * are in the volume, and their SHA-256. An empty file has offset 0 and length 0. Immutable.
 *
 * @param path   relative path, '/'-separated, no empty, "." or ".." segments
 * @param offset byte offset in the volume, a multiple of 4096 (0 for an empty file)
 * @param length the file's length in bytes; it occupies {@code length} rounded up to 4096
 * @param sha256 64 lowercase hex digits
 */
record SfsEntry(String path, long offset, long length, String sha256) {
    static final int MAX_PATH_BYTES = 4096;

    SfsEntry {
        String bad = pathProblem(path);
        if (bad != null) {
            throw new IllegalArgumentException("invalid sfs path \"" + path + "\": " + bad);
        }
        if (offset < 0 || length < 0 || offset % SfsTable.BLOCK != 0 || (length == 0) != (offset == 0)) {
            throw new IllegalArgumentException("invalid extent of \"" + path + "\": offset " + offset + ", length " + length);
        }
        if (sha256 == null || !sha256.matches("[0-9a-f]{64}")) {
            throw new IllegalArgumentException("invalid SHA-256 of \"" + path + "\": " + sha256);
        }
    }

    /** Why {@code path} cannot be stored, or null if it can. */
    static String pathProblem(String path) {
        if (path == null || path.isEmpty()) {
            return "empty";
        }
        if (path.getBytes(StandardCharsets.UTF_8).length > MAX_PATH_BYTES) {
            return "longer than " + MAX_PATH_BYTES + " bytes";
        }
        if (path.indexOf('\0') >= 0) {
            return "contains a NUL character";
        }
        for (String segment : path.split("/", -1)) {
            if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
                return "must be relative, with no empty, \".\" or \"..\" parts";
            }
        }
        return null;
    }

    /** The bytes the file takes in the volume: its length rounded up to whole blocks. */
    long allocated() {
        return (length + SfsTable.BLOCK - 1) / SfsTable.BLOCK * SfsTable.BLOCK;
    }

    long end() {
        return offset + allocated();
    }

    byte[] shaBytes() {
        return HexFormat.of().parseHex(sha256);
    }
}
