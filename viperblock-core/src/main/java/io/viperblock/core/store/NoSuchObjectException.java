package io.viperblock.core.store;

import java.io.IOException;

/** The object does not exist. */
public final class NoSuchObjectException extends IOException {
    private static final long serialVersionUID = 1L;

    public NoSuchObjectException(String store, String key) {
        super("object " + key + " not found in " + store);
    }
}
