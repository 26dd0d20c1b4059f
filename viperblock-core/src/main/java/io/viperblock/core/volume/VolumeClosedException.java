package io.viperblock.core.volume;

/** The volume was closed (or failed and was shut); open it again to go on. */
public final class VolumeClosedException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    public VolumeClosedException(String name) {
        super("volume \"" + name + "\" is closed; open it again");
    }
}
