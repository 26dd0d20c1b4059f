package io.viperblock.nbd.protocol;

/**
 * One extent in an NBD_REPLY_TYPE_BLOCK_STATUS chunk: {@code length} bytes that share the status
 * {@code flags} (for base:allocation, {@link Nbd#STATE_HOLE} and {@link Nbd#STATE_ZERO}).
 *
 * <pre>
 * offset 0          4          8
 *        +----------+----------+
 *        |  length  |  status  |
 *        |   u32    |   u32    |
 *        +----------+----------+
 * </pre>
 *
 * <p>Immutable record. Thread-safe.
 *
 * @param length extent length in bytes, 1 to 0xFFFFFFFF (MUST be nonzero)
 * @param flags  status flags, as the metadata context defines them
 */
public record BlockStatusDescriptor(long length, int flags) {

    /** Bytes on the wire. */
    public static final int LENGTH = 8;

    public BlockStatusDescriptor {
        if (length < 1 || length > 0xFFFF_FFFFL) {
            throw new IllegalArgumentException("extent length must be in [1, 0xffffffff]: " + length);
        }
    }
}
