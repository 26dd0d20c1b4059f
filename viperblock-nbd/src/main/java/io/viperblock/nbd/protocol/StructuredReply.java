package io.viperblock.nbd.protocol;

import java.nio.ByteBuffer;
import java.util.List;

/**
 * Encoders for structured reply chunks, the server's reply form once the client negotiated
 * NBD_OPT_STRUCTURED_REPLY. A reply is one or more chunks with the request's cookie; the last has
 * {@link Nbd#REPLY_FLAG_DONE}. Each encoder writes at {@code dst}'s position, advances it, and
 * throws IllegalArgumentException (writing nothing) if the chunk does not fit or a value is out
 * of range. Every chunk starts with the 20-byte {@link StructuredReplyHeader}; the payloads are:
 *
 * <pre>
 * NONE (0)          no payload; length = 0; DONE MUST be set
 *
 * OFFSET_DATA (1)   +------------------+=========================+    length = 8 + data (at least 9)
 *                   |      offset      |          data           |
 *                   |       u64        | length - 8 bytes, apart |
 *                   +------------------+=========================+
 *
 * OFFSET_HOLE (2)   +------------------+-----------+                  length = 12
 *                   |      offset      | hole size |  (reads as zeroes; size MUST be nonzero)
 *                   |       u64        |    u32    |
 *                   +------------------+-----------+
 *
 * BLOCK_STATUS (5)  +------------+----------+----------+-----+----------+----------+
 *                   | context id | length 0 | status 0 | ... | length n | status n |
 *                   |    u32     |   u32    |   u32    |     |   u32    |   u32    |
 *                   +------------+----------+----------+-----+----------+----------+
 *                                 \___ one or more BlockStatusDescriptor ___/      length = 4 + 8k
 *
 * ERROR (2^15+1)    +----------+---------+=================+               length = 6 + m
 *                   |  error   | msg len |     message     |
 *                   |   u32    | u16 = m |  m bytes UTF-8  |
 *                   +----------+---------+=================+
 *
 * ERROR_OFFSET      +----------+---------+=================+------------------+  length = 14 + m
 *   (2^15+2)        |  error   | msg len |     message     |      offset      |
 *                   |   u32    | u16 = m |  m bytes UTF-8  |       u64        |
 *                   +----------+---------+=================+------------------+
 * </pre>
 *
 * Error values are NBD errnos and MUST be nonzero in error chunks; messages longer than 4096
 * UTF-8 bytes are cut at a character boundary.
 *
 * <p>Stateless, hence thread-safe.
 */
public final class StructuredReply {

    private StructuredReply() {}

    /** Header plus the 8-byte offset: what {@link #offsetDataHeader} writes before the data. */
    public static final int OFFSET_DATA_HEADER_LENGTH = StructuredReplyHeader.LENGTH + 8;
    /** A whole OFFSET_HOLE chunk. */
    public static final int OFFSET_HOLE_LENGTH = StructuredReplyHeader.LENGTH + 12;
    /** A whole NONE chunk. */
    public static final int NONE_LENGTH = StructuredReplyHeader.LENGTH;
    /** The longest ERROR or ERROR_OFFSET chunk (a 4096-byte message with an offset). */
    public static final int MAX_ERROR_LENGTH = StructuredReplyHeader.LENGTH + 14 + Nbd.MAX_STRING_LENGTH;
    /** The most descriptors a BLOCK_STATUS chunk SHOULD carry (2^20). */
    public static final int MAX_DESCRIPTORS = 1 << 20;

    private static int flags(boolean done) {
        return done ? Nbd.REPLY_FLAG_DONE : 0;
    }

    /** NBD_REPLY_TYPE_NONE with DONE: ends a reply; alone it means success. */
    public static void none(ByteBuffer dst, long cookie) {
        Wire.requireRoom(dst, NONE_LENGTH, "NONE chunk");
        StructuredReplyHeader.put(dst, dst.position(), Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_NONE, cookie, 0);
        dst.position(dst.position() + NONE_LENGTH);
    }

    /**
     * The first 28 bytes of an NBD_REPLY_TYPE_OFFSET_DATA chunk: header (length = 8 + dataLength)
     * and offset. The server writes the {@code dataLength} data bytes after it itself, e.g. with a
     * gathering write. Set {@code done} only if no error can still be detected while the data is
     * sent.
     *
     * @param dataLength 1 to {@code Integer.MAX_VALUE}
     */
    public static void offsetDataHeader(ByteBuffer dst, boolean done, long cookie, long offset, int dataLength) {
        if (dataLength < 1) {
            throw new IllegalArgumentException("OFFSET_DATA must carry at least one byte: " + dataLength);
        }
        Wire.requireRoom(dst, OFFSET_DATA_HEADER_LENGTH, "OFFSET_DATA header");
        int p = dst.position();
        StructuredReplyHeader.put(dst, p, flags(done), Nbd.REPLY_TYPE_OFFSET_DATA, cookie, 8 + dataLength);
        Wire.put64(dst, p + 20, offset);
        dst.position(p + OFFSET_DATA_HEADER_LENGTH);
    }

    /** A whole NBD_REPLY_TYPE_OFFSET_HOLE chunk: {@code holeSize} (1 to 0xFFFFFFFF) bytes of zeroes at {@code offset}. */
    public static void offsetHole(ByteBuffer dst, boolean done, long cookie, long offset, long holeSize) {
        if (holeSize < 1 || holeSize > 0xFFFF_FFFFL) {
            throw new IllegalArgumentException("hole size must be in [1, 0xffffffff]: " + holeSize);
        }
        Wire.requireRoom(dst, OFFSET_HOLE_LENGTH, "OFFSET_HOLE chunk");
        int p = dst.position();
        StructuredReplyHeader.put(dst, p, flags(done), Nbd.REPLY_TYPE_OFFSET_HOLE, cookie, 12);
        Wire.put64(dst, p + 20, offset);
        Wire.put32(dst, p + 28, (int) holeSize);
        dst.position(p + OFFSET_HOLE_LENGTH);
    }

    /** Size of a BLOCK_STATUS chunk with {@code descriptors} descriptors. */
    public static int blockStatusLength(int descriptors) {
        return StructuredReplyHeader.LENGTH + 4 + BlockStatusDescriptor.LENGTH * descriptors;
    }

    /**
     * A whole NBD_REPLY_TYPE_BLOCK_STATUS chunk for context {@code contextId} (u32, the id the
     * server assigned in SET_META_CONTEXT). One chunk per selected context per request; with
     * REQ_ONE exactly one descriptor, not longer than the request.
     *
     * @param descriptors 1 to {@link #MAX_DESCRIPTORS} extents
     */
    public static void blockStatus(ByteBuffer dst, boolean done, long cookie, int contextId,
                                   List<BlockStatusDescriptor> descriptors) {
        blockStatusHeader(dst, done, cookie, contextId, descriptors.size());
        for (BlockStatusDescriptor d : descriptors) {
            descriptor(dst, d.length(), d.flags());
        }
    }

    /**
     * The first 24 bytes of a BLOCK_STATUS chunk (header and context id) announcing
     * {@code descriptorCount} descriptors; follow with exactly that many {@link #descriptor} calls.
     * Checks that the header and all descriptors will fit, so the caller can stream them.
     */
    public static void blockStatusHeader(ByteBuffer dst, boolean done, long cookie, int contextId,
                                         int descriptorCount) {
        if (descriptorCount < 1 || descriptorCount > MAX_DESCRIPTORS) {
            throw new IllegalArgumentException("BLOCK_STATUS needs 1 to " + MAX_DESCRIPTORS + " descriptors: "
                    + descriptorCount);
        }
        Wire.requireRoom(dst, blockStatusLength(descriptorCount), "BLOCK_STATUS chunk");
        int p = dst.position();
        StructuredReplyHeader.put(dst, p, flags(done), Nbd.REPLY_TYPE_BLOCK_STATUS, cookie,
                4 + BlockStatusDescriptor.LENGTH * descriptorCount);
        Wire.put32(dst, p + 20, contextId);
        dst.position(p + 24);
    }

    /** One block status descriptor: {@code length} 1 to 0xFFFFFFFF, then the status flags. */
    public static void descriptor(ByteBuffer dst, long length, int flags) {
        if (length < 1 || length > 0xFFFF_FFFFL) {
            throw new IllegalArgumentException("extent length must be in [1, 0xffffffff]: " + length);
        }
        Wire.requireRoom(dst, BlockStatusDescriptor.LENGTH, "block status descriptor");
        int p = dst.position();
        Wire.put32(dst, p, (int) length);
        Wire.put32(dst, p + 4, flags);
        dst.position(p + BlockStatusDescriptor.LENGTH);
    }

    /** A whole NBD_REPLY_TYPE_ERROR chunk: the request failed; no assumption about partial success. */
    public static void error(ByteBuffer dst, boolean done, long cookie, int error, String message) {
        errorChunk(dst, done, cookie, Nbd.REPLY_TYPE_ERROR, error, Wire.encodeMessage(message), 0);
    }

    /** A whole NBD_REPLY_TYPE_ERROR_OFFSET chunk: the request failed at {@code offset} (within the request). */
    public static void errorOffset(ByteBuffer dst, boolean done, long cookie, int error, String message, long offset) {
        errorChunk(dst, done, cookie, Nbd.REPLY_TYPE_ERROR_OFFSET, error, Wire.encodeMessage(message), offset);
    }

    private static void errorChunk(ByteBuffer dst, boolean done, long cookie, int type, int error, byte[] msg,
                                   long offset) {
        if (error == 0) {
            throw new IllegalArgumentException("an error chunk's error must be nonzero");
        }
        int tail = type == Nbd.REPLY_TYPE_ERROR_OFFSET ? 8 : 0;
        int payload = 6 + msg.length + tail;
        Wire.requireRoom(dst, StructuredReplyHeader.LENGTH + payload, Nbd.chunkTypeName(type) + " chunk");
        int p = dst.position();
        StructuredReplyHeader.put(dst, p, flags(done), type, cookie, payload);
        Wire.put32(dst, p + 20, error);
        Wire.put16(dst, p + 24, msg.length);
        dst.put(p + 26, msg);
        if (tail != 0) {
            Wire.put64(dst, p + 26 + msg.length, offset);
        }
        dst.position(p + StructuredReplyHeader.LENGTH + payload);
    }

    // ------------------------------------------------------------------ convenience: new buffers

    /** {@link #none} into a new heap buffer, ready to read. */
    public static ByteBuffer none(long cookie) {
        ByteBuffer b = ByteBuffer.allocate(NONE_LENGTH);
        none(b, cookie);
        return b.flip();
    }

    /** {@link #offsetDataHeader} into a new heap buffer, ready to read. */
    public static ByteBuffer offsetDataHeader(boolean done, long cookie, long offset, int dataLength) {
        ByteBuffer b = ByteBuffer.allocate(OFFSET_DATA_HEADER_LENGTH);
        offsetDataHeader(b, done, cookie, offset, dataLength);
        return b.flip();
    }

    /** {@link #offsetHole} into a new heap buffer, ready to read. */
    public static ByteBuffer offsetHole(boolean done, long cookie, long offset, long holeSize) {
        ByteBuffer b = ByteBuffer.allocate(OFFSET_HOLE_LENGTH);
        offsetHole(b, done, cookie, offset, holeSize);
        return b.flip();
    }

    /** {@link #blockStatus} into a new heap buffer, ready to read. */
    public static ByteBuffer blockStatus(boolean done, long cookie, int contextId,
                                         List<BlockStatusDescriptor> descriptors) {
        ByteBuffer b = ByteBuffer.allocate(blockStatusLength(Math.min(descriptors.size(), MAX_DESCRIPTORS)));
        blockStatus(b, done, cookie, contextId, descriptors);
        return b.flip();
    }

    /** {@link #error} into a new heap buffer, ready to read. */
    public static ByteBuffer error(boolean done, long cookie, int error, String message) {
        ByteBuffer b = ByteBuffer.allocate(MAX_ERROR_LENGTH);
        error(b, done, cookie, error, message);
        return b.flip();
    }

    /** {@link #errorOffset} into a new heap buffer, ready to read. */
    public static ByteBuffer errorOffset(boolean done, long cookie, int error, String message, long offset) {
        ByteBuffer b = ByteBuffer.allocate(MAX_ERROR_LENGTH);
        errorOffset(b, done, cookie, error, message, offset);
        return b.flip();
    }
}
