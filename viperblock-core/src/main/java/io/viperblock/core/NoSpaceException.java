package io.viperblock.core;

import java.io.IOException;

/** No room left (WAL disk full, store full): the write was not done, and nothing acknowledged is lost. Maps to ENOSPC. */
public class NoSpaceException extends IOException {
    private static final long serialVersionUID = 1L;

    public NoSpaceException(String message, Throwable cause) {
        super(message, cause);
    }
}
