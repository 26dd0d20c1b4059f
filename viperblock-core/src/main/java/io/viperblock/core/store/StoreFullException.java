package io.viperblock.core.store;

import java.io.IOException;

/** The store has no room for the object (disk full, HTTP 507, quota); writers see ENOSPC. */
public class StoreFullException extends IOException {
    private static final long serialVersionUID = 1L;

    public StoreFullException(String message, Throwable cause) {
        super(message, cause);
    }
}
