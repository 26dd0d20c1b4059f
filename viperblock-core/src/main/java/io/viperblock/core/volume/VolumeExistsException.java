package io.viperblock.core.volume;

import java.io.IOException;

/** A volume of that name (or what is left of one) already exists. */
public final class VolumeExistsException extends IOException {
    private static final long serialVersionUID = 1L;

    public VolumeExistsException(String message) {
        super(message);
    }
}
