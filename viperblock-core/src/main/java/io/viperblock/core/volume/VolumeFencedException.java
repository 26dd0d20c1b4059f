package io.viperblock.core.volume;

import java.io.IOException;

/**
 * This node's lease on the volume was taken over by another node ({@code --force-takeover}): it
 * no longer writes to the store, and every operation on this open volume fails.
 */
public final class VolumeFencedException extends IOException {
    private static final long serialVersionUID = 1L;

    public VolumeFencedException(String message) {
        super(message);
    }
}
