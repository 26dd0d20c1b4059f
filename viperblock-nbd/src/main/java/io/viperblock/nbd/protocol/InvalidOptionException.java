package io.viperblock.nbd.protocol;

/**
 * A complete, well-framed option request whose data is malformed (a name length that runs past
 * the option data, a query count that cannot fit, a name that is not UTF-8, trailing bytes). The
 * option frame itself was consumed, so the stream is still in step: the server answers with an
 * option reply of type {@link #replyType()} ({@link Nbd#REP_ERR_INVALID}) carrying
 * {@link #getMessage()}, and goes on reading options. The protocol requires exactly this for
 * syntactically invalid INFO, GO, LIST_META_CONTEXT and SET_META_CONTEXT requests.
 *
 * <p>The exception is NBD_OPT_EXPORT_NAME, which cannot be answered with an error: the server
 * must terminate the session.
 *
 * <p>Immutable, hence thread-safe.
 */
public class InvalidOptionException extends NbdProtocolException {

    private final int option;
    private final int replyType;

    public InvalidOptionException(int option, String message) {
        this(option, Nbd.REP_ERR_INVALID, message);
    }

    public InvalidOptionException(int option, int replyType, String message) {
        super(message);
        this.option = option;
        this.replyType = replyType;
    }

    /** The option code of the request that was malformed. */
    public int option() {
        return option;
    }

    /** The error reply type to answer with (an {@code REP_ERR_*} value). */
    public int replyType() {
        return replyType;
    }
}
