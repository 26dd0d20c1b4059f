package io.viperblock.nbd.protocol;

/**
 * Every number the NBD protocol defines: magics, flags, option codes, option reply types, info
 * types, commands, command flags, structured reply types and error values. Values and names follow
 * the protocol document (NetworkBlockDevice/nbd, {@code doc/proto.md}), without the {@code NBD_}
 * prefix.
 *
 * <p>Java has no unsigned types, so a protocol field is held in the smallest Java type that
 * carries all its bits: 16-bit fields in an {@code int} (0..0xFFFF), 32-bit fields in an
 * {@code int} when they are codes or flags (so {@code REP_ERR_*} constants, which have bit 31
 * set, are negative {@code int}s) and in a {@code long} when they are lengths; 64-bit fields in a
 * {@code long}, to be read as unsigned where the protocol says so.
 *
 * <p>Stateless, hence thread-safe.
 */
public final class Nbd {

    private Nbd() {}

    // ---------------------------------------------------------------- magics

    /** ASCII "NBDMAGIC": first 8 bytes the server sends (also called INIT_PASSWD). */
    public static final long NBDMAGIC = 0x4e42444d41474943L;
    /** ASCII "IHAVEOPT": follows NBDMAGIC in the newstyle greeting, and starts every option request. */
    public static final long IHAVEOPT = 0x49484156454F5054L;
    /** Oldstyle negotiation's second magic ({@code cliserv_magic}); not supported, listed for diagnostics. */
    public static final long CLISERV_MAGIC = 0x00420281861253L;
    /** Magic of every fixed-newstyle option reply (64 bits on the wire). */
    public static final long OPTION_REPLY_MAGIC = 0x3e889045565a9L;
    /** Magic of every transmission request ({@code NBD_REQUEST_MAGIC}). */
    public static final int REQUEST_MAGIC = 0x25609513;
    /** Magic of a simple reply ({@code NBD_SIMPLE_REPLY_MAGIC}, formerly {@code NBD_REPLY_MAGIC}). */
    public static final int SIMPLE_REPLY_MAGIC = 0x67446698;
    /** Magic of a structured reply chunk ({@code NBD_STRUCTURED_REPLY_MAGIC}). */
    public static final int STRUCTURED_REPLY_MAGIC = 0x668e33ef;
    /** Request magic of the experimental EXTENDED_HEADERS extension; not supported, listed for diagnostics. */
    public static final int EXTENDED_REQUEST_MAGIC = 0x21e41c71;
    /** Reply magic of the experimental EXTENDED_HEADERS extension; not supported, listed for diagnostics. */
    public static final int EXTENDED_REPLY_MAGIC = 0x6e8a278c;

    // ---------------------------------------------------------------- handshake flags (server, u16)

    /** Handshake flag bit 0: the server supports fixed newstyle. A server MUST set it. */
    public static final int FLAG_FIXED_NEWSTYLE = 1;
    /** Handshake flag bit 1: the server can omit the 124 zero bytes after NBD_OPT_EXPORT_NAME. */
    public static final int FLAG_NO_ZEROES = 1 << 1;

    // ---------------------------------------------------------------- client flags (u32)

    /** Client flag bit 0: the client speaks fixed newstyle. */
    public static final int FLAG_C_FIXED_NEWSTYLE = 1;
    /** Client flag bit 1: omit the 124 zero bytes after NBD_OPT_EXPORT_NAME (only if the server offered it). */
    public static final int FLAG_C_NO_ZEROES = 1 << 1;
    /** Every client flag this protocol version defines. */
    public static final int KNOWN_CLIENT_FLAGS = FLAG_C_FIXED_NEWSTYLE | FLAG_C_NO_ZEROES;

    // ---------------------------------------------------------------- option codes (u32)

    public static final int OPT_EXPORT_NAME = 1;
    public static final int OPT_ABORT = 2;
    public static final int OPT_LIST = 3;
    /** Withdrawn experimental extension; not in use. */
    public static final int OPT_PEEK_EXPORT = 4;
    public static final int OPT_STARTTLS = 5;
    public static final int OPT_INFO = 6;
    public static final int OPT_GO = 7;
    public static final int OPT_STRUCTURED_REPLY = 8;
    public static final int OPT_LIST_META_CONTEXT = 9;
    public static final int OPT_SET_META_CONTEXT = 10;
    /** Experimental EXTENDED_HEADERS extension: just the number, not implemented. */
    public static final int OPT_EXTENDED_HEADERS = 11;

    // ---------------------------------------------------------------- option reply types (u32)

    public static final int REP_ACK = 1;
    public static final int REP_SERVER = 2;
    public static final int REP_INFO = 3;
    public static final int REP_META_CONTEXT = 4;
    /** Bit 31, set in every error reply type. */
    public static final int REP_FLAG_ERROR = 0x8000_0000;
    public static final int REP_ERR_UNSUP = REP_FLAG_ERROR | 1;
    public static final int REP_ERR_POLICY = REP_FLAG_ERROR | 2;
    public static final int REP_ERR_INVALID = REP_FLAG_ERROR | 3;
    public static final int REP_ERR_PLATFORM = REP_FLAG_ERROR | 4;
    public static final int REP_ERR_TLS_REQD = REP_FLAG_ERROR | 5;
    public static final int REP_ERR_UNKNOWN = REP_FLAG_ERROR | 6;
    public static final int REP_ERR_SHUTDOWN = REP_FLAG_ERROR | 7;
    public static final int REP_ERR_BLOCK_SIZE_REQD = REP_FLAG_ERROR | 8;
    public static final int REP_ERR_TOO_BIG = REP_FLAG_ERROR | 9;
    /** Experimental EXTENDED_HEADERS extension: just the number. */
    public static final int REP_ERR_EXT_HEADER_REQD = REP_FLAG_ERROR | 10;

    // ---------------------------------------------------------------- info types (u16)

    public static final int INFO_EXPORT = 0;
    public static final int INFO_NAME = 1;
    public static final int INFO_DESCRIPTION = 2;
    public static final int INFO_BLOCK_SIZE = 3;

    // ---------------------------------------------------------------- transmission flags (u16)

    /** Bit 0: MUST always be set. */
    public static final int FLAG_HAS_FLAGS = 1;
    public static final int FLAG_READ_ONLY = 1 << 1;
    public static final int FLAG_SEND_FLUSH = 1 << 2;
    public static final int FLAG_SEND_FUA = 1 << 3;
    public static final int FLAG_ROTATIONAL = 1 << 4;
    public static final int FLAG_SEND_TRIM = 1 << 5;
    public static final int FLAG_SEND_WRITE_ZEROES = 1 << 6;
    /** MUST be clear unless structured replies were negotiated. */
    public static final int FLAG_SEND_DF = 1 << 7;
    public static final int FLAG_CAN_MULTI_CONN = 1 << 8;
    /** Experimental RESIZE extension. */
    public static final int FLAG_SEND_RESIZE = 1 << 9;
    public static final int FLAG_SEND_CACHE = 1 << 10;
    /** MUST be clear unless {@link #FLAG_SEND_WRITE_ZEROES} is set. */
    public static final int FLAG_SEND_FAST_ZERO = 1 << 11;
    /** Experimental EXTENDED_HEADERS extension. */
    public static final int FLAG_BLOCK_STAT_PAYLOAD = 1 << 12;

    // ---------------------------------------------------------------- commands (u16)

    public static final int CMD_READ = 0;
    public static final int CMD_WRITE = 1;
    public static final int CMD_DISC = 2;
    public static final int CMD_FLUSH = 3;
    public static final int CMD_TRIM = 4;
    public static final int CMD_CACHE = 5;
    public static final int CMD_WRITE_ZEROES = 6;
    public static final int CMD_BLOCK_STATUS = 7;
    /** Experimental RESIZE extension. */
    public static final int CMD_RESIZE = 8;

    // ---------------------------------------------------------------- command flags (u16)

    public static final int CMD_FLAG_FUA = 1;
    /** Valid with WRITE_ZEROES. */
    public static final int CMD_FLAG_NO_HOLE = 1 << 1;
    /** Valid with READ, only if {@link #FLAG_SEND_DF} was advertised. */
    public static final int CMD_FLAG_DF = 1 << 2;
    /** Valid with BLOCK_STATUS. */
    public static final int CMD_FLAG_REQ_ONE = 1 << 3;
    /** Valid with WRITE_ZEROES, only if {@link #FLAG_SEND_FAST_ZERO} was advertised. */
    public static final int CMD_FLAG_FAST_ZERO = 1 << 4;
    /** Experimental EXTENDED_HEADERS extension. */
    public static final int CMD_FLAG_PAYLOAD_LEN = 1 << 5;

    // ---------------------------------------------------------------- structured replies

    /** Structured reply flag bit 0: this is the last chunk of the reply. */
    public static final int REPLY_FLAG_DONE = 1;
    public static final int REPLY_TYPE_NONE = 0;
    public static final int REPLY_TYPE_OFFSET_DATA = 1;
    public static final int REPLY_TYPE_OFFSET_HOLE = 2;
    public static final int REPLY_TYPE_BLOCK_STATUS = 5;
    /** Experimental EXTENDED_HEADERS extension: just the number. */
    public static final int REPLY_TYPE_BLOCK_STATUS_EXT = 6;
    /** Bit 15, set in every error chunk type. */
    public static final int REPLY_TYPE_FLAG_ERROR = 1 << 15;
    public static final int REPLY_TYPE_ERROR = REPLY_TYPE_FLAG_ERROR | 1;
    public static final int REPLY_TYPE_ERROR_OFFSET = REPLY_TYPE_FLAG_ERROR | 2;

    // ---------------------------------------------------------------- error values (u32)

    public static final int EPERM = 1;
    public static final int EIO = 5;
    public static final int ENOMEM = 12;
    public static final int EINVAL = 22;
    public static final int ENOSPC = 28;
    public static final int EOVERFLOW = 75;
    public static final int ENOTSUP = 95;
    public static final int ESHUTDOWN = 108;

    // ---------------------------------------------------------------- base:allocation

    /** Name of the one metadata context the protocol document defines. */
    public static final String CONTEXT_BASE_ALLOCATION = "base:allocation";
    /** base:allocation status bit 0: the extent is a hole (not allocated). */
    public static final int STATE_HOLE = 1;
    /** base:allocation status bit 1: the extent reads as zeroes. */
    public static final int STATE_ZERO = 1 << 1;

    // ---------------------------------------------------------------- limits

    /** Longest string (export name, error message, query) the protocol allows, in UTF-8 bytes. */
    public static final int MAX_STRING_LENGTH = 4096;

    // ---------------------------------------------------------------- names, for logs and messages

    /** {@code "GO"} for {@link #OPT_GO}; {@code "option 0x0000002a"} for an unknown code. */
    public static String optionName(int option) {
        return switch (option) {
            case OPT_EXPORT_NAME -> "EXPORT_NAME";
            case OPT_ABORT -> "ABORT";
            case OPT_LIST -> "LIST";
            case OPT_PEEK_EXPORT -> "PEEK_EXPORT";
            case OPT_STARTTLS -> "STARTTLS";
            case OPT_INFO -> "INFO";
            case OPT_GO -> "GO";
            case OPT_STRUCTURED_REPLY -> "STRUCTURED_REPLY";
            case OPT_LIST_META_CONTEXT -> "LIST_META_CONTEXT";
            case OPT_SET_META_CONTEXT -> "SET_META_CONTEXT";
            case OPT_EXTENDED_HEADERS -> "EXTENDED_HEADERS";
            default -> String.format("option 0x%08x", option);
        };
    }

    /** {@code "ERR_UNSUP"} for {@link #REP_ERR_UNSUP}; {@code "reply 0x..."} for an unknown type. */
    public static String replyTypeName(int replyType) {
        return switch (replyType) {
            case REP_ACK -> "ACK";
            case REP_SERVER -> "SERVER";
            case REP_INFO -> "INFO";
            case REP_META_CONTEXT -> "META_CONTEXT";
            case REP_ERR_UNSUP -> "ERR_UNSUP";
            case REP_ERR_POLICY -> "ERR_POLICY";
            case REP_ERR_INVALID -> "ERR_INVALID";
            case REP_ERR_PLATFORM -> "ERR_PLATFORM";
            case REP_ERR_TLS_REQD -> "ERR_TLS_REQD";
            case REP_ERR_UNKNOWN -> "ERR_UNKNOWN";
            case REP_ERR_SHUTDOWN -> "ERR_SHUTDOWN";
            case REP_ERR_BLOCK_SIZE_REQD -> "ERR_BLOCK_SIZE_REQD";
            case REP_ERR_TOO_BIG -> "ERR_TOO_BIG";
            case REP_ERR_EXT_HEADER_REQD -> "ERR_EXT_HEADER_REQD";
            default -> String.format("reply 0x%08x", replyType);
        };
    }

    /** {@code "WRITE"} for {@link #CMD_WRITE}; {@code "command 0x002a"} for an unknown type. */
    public static String commandName(int type) {
        return switch (type) {
            case CMD_READ -> "READ";
            case CMD_WRITE -> "WRITE";
            case CMD_DISC -> "DISC";
            case CMD_FLUSH -> "FLUSH";
            case CMD_TRIM -> "TRIM";
            case CMD_CACHE -> "CACHE";
            case CMD_WRITE_ZEROES -> "WRITE_ZEROES";
            case CMD_BLOCK_STATUS -> "BLOCK_STATUS";
            case CMD_RESIZE -> "RESIZE";
            default -> String.format("command 0x%04x", type);
        };
    }

    /** {@code "OFFSET_DATA"} for {@link #REPLY_TYPE_OFFSET_DATA}; {@code "chunk 0x002a"} otherwise. */
    public static String chunkTypeName(int type) {
        return switch (type) {
            case REPLY_TYPE_NONE -> "NONE";
            case REPLY_TYPE_OFFSET_DATA -> "OFFSET_DATA";
            case REPLY_TYPE_OFFSET_HOLE -> "OFFSET_HOLE";
            case REPLY_TYPE_BLOCK_STATUS -> "BLOCK_STATUS";
            case REPLY_TYPE_BLOCK_STATUS_EXT -> "BLOCK_STATUS_EXT";
            case REPLY_TYPE_ERROR -> "ERROR";
            case REPLY_TYPE_ERROR_OFFSET -> "ERROR_OFFSET";
            default -> String.format("chunk 0x%04x", type);
        };
    }

    /** {@code "EIO"} for {@link #EIO}; {@code "error 42"} for a value the protocol does not define. */
    public static String errorName(int error) {
        return switch (error) {
            case 0 -> "OK";
            case EPERM -> "EPERM";
            case EIO -> "EIO";
            case ENOMEM -> "ENOMEM";
            case EINVAL -> "EINVAL";
            case ENOSPC -> "ENOSPC";
            case EOVERFLOW -> "EOVERFLOW";
            case ENOTSUP -> "ENOTSUP";
            case ESHUTDOWN -> "ESHUTDOWN";
            default -> "error " + Integer.toUnsignedString(error);
        };
    }

    /** True for an option reply type with bit 31 set. */
    public static boolean isErrorReply(int replyType) {
        return (replyType & REP_FLAG_ERROR) != 0;
    }

    /** True for a structured reply chunk type with bit 15 set. */
    public static boolean isErrorChunk(int chunkType) {
        return (chunkType & REPLY_TYPE_FLAG_ERROR) != 0;
    }
}
