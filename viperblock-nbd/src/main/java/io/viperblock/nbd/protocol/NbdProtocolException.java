package io.viperblock.nbd.protocol;

import java.io.IOException;

/**
 * The peer sent bytes that break the NBD protocol's framing (a wrong magic, a length above the
 * configured bound). The stream can no longer be trusted to be in step, so the server closes the
 * connection (a "hard disconnect", which the protocol allows on a violation of a mandatory
 * condition).
 *
 * <p>One subclass is different: {@link InvalidOptionException} reports a well-framed option
 * whose <em>payload</em> is malformed; the stream is still in step and the server answers it
 * with an error reply instead of closing.
 *
 * <p>Immutable, hence thread-safe.
 */
public class NbdProtocolException extends IOException {

    public NbdProtocolException(String message) {
        super(message);
    }
}
