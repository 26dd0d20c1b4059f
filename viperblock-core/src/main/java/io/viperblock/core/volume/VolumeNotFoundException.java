package io.viperblock.core.volume;

import java.io.IOException;

/** No volume of that name exists in the store. */
public final class VolumeNotFoundException extends IOException {
    private static final long serialVersionUID = 1L;

    public VolumeNotFoundException(String name, String store) {
        super("volume \"" + name + "\" does not exist in " + store + " (list the volumes there, or create it first)");
    }
}
