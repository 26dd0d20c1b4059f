package io.viperblock.core.format;

import java.io.IOException;

/**
 * A structure read from disk or from the object store failed a check (magic, version, length
 * bounds, checksum, field range) and must not be trusted. The message names what was being read,
 * where it came from (file path or object key) and the byte offset of the bad part, e.g.
 * {@code chunk volumes/db1/chunks/0000000000000a1f: bad footer checksum at offset 4218880
 * (stored 0x1234abcd, computed 0x0badf00d)}.
 *
 * <p>Immutable, hence thread-safe.
 */
public class CorruptFormatException extends IOException {

    private final String source;
    private final long offset;

    /**
     * A message of the form {@code <kind> <source>: <problem> at offset <offset>[ (<detail>)]}.
     *
     * @param kind    what was being read, e.g. "chunk", "WAL segment"
     * @param source  file path or object key, as passed in by the caller
     * @param problem what is wrong, e.g. "bad footer checksum"
     * @param offset  byte offset of the bad part within the file or object
     * @param detail  optional extra facts (stored and computed values), or null
     */
    public CorruptFormatException(String kind, String source, String problem, long offset, String detail) {
        this(kind + " " + source + ": " + problem + " at offset " + offset
                + (detail == null ? "" : " (" + detail + ")"), source, offset);
    }

    public CorruptFormatException(String kind, String source, String problem, long offset) {
        this(kind, source, problem, offset, null);
    }

    /** A ready-made message, which must name {@code source} and {@code offset} itself. */
    public CorruptFormatException(String message, String source, long offset) {
        super(message);
        this.source = source;
        this.offset = offset;
    }

    /** The file path or object key that was being read. */
    public String source() {
        return source;
    }

    /** Byte offset (character offset for JSON) of the problem within the source. */
    public long offset() {
        return offset;
    }
}
