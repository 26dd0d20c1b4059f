package io.viperblock.core.volume;

/**
 * An offset or length outside the volume (or negative). NBD answers EINVAL for reads and trims,
 * ENOSPC for writes.
 */
public final class OutOfRangeException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    public OutOfRangeException(String message) {
        super(message);
    }
}
