package io.viperblock.core.volume;

import java.io.IOException;

/** Another writer holds the volume's lease. */
public final class VolumeInUseException extends IOException {
    private static final long serialVersionUID = 1L;

    public VolumeInUseException(String message) {
        super(message);
    }
}
