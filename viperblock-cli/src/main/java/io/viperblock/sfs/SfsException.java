package io.viperblock.sfs;

import java.io.IOException;

/** A failure of an sfs operation that the user can act on; its message is the whole error line. */
final class SfsException extends IOException {
    private static final long serialVersionUID = 1L;

    SfsException(String message) {
        super(message);
    }
}
