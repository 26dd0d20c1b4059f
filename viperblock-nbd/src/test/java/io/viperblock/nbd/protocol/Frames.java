package io.viperblock.nbd.protocol;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HexFormat;

/**
 * Socket-free harness for the incremental decoders, in the spirit of Netty's EmbeddedChannel:
 * bytes are made "available" a few at a time in the kind of buffer a server reads into.
 */
final class Frames {
    private Frames() {}

    /** A decoder under test. */
    @FunctionalInterface
    interface Decoder<T> {
        T decode(ByteBuffer src) throws NbdProtocolException;
    }

    /** Bytes that follow the frame in the stream (the start of the next message); must be left alone. */
    static final byte[] TRAILER = {(byte) 0xA5, 0x5A, 0x00, (byte) 0xFF};
    /** Bytes before the frame that were consumed earlier; must be left alone. */
    static final int PREFIX = 3;

    static byte[] bytes(ByteBuffer readable) {
        ByteBuffer d = readable.duplicate();
        byte[] b = new byte[d.remaining()];
        d.get(b);
        return b;
    }

    static byte[] hex(String s) {
        return HexFormat.of().parseHex(s.replaceAll("[\\s|]", ""));
    }

    /**
     * A buffer holding junk, then {@code frame}, then {@link #TRAILER}, with position at the
     * frame and limit at the frame's end (nothing of the trailer visible yet). Alternately heap
     * big-endian and direct little-endian (a pooled buffer someone left in the wrong order): the
     * codec must read big-endian either way.
     */
    static ByteBuffer staged(byte[] frame, boolean direct) {
        ByteBuffer b = direct ? ByteBuffer.allocateDirect(PREFIX + frame.length + TRAILER.length).order(ByteOrder.LITTLE_ENDIAN)
                : ByteBuffer.allocate(PREFIX + frame.length + TRAILER.length);
        for (int i = 0; i < PREFIX; i++) {
            b.put((byte) 0xEE);
        }
        b.put(frame).put(TRAILER);
        b.position(PREFIX);
        return b;
    }

    /**
     * The frame split into two parts at every byte boundary, and fed one byte at a time (the
     * buffer compacted between reads, as a server does): the decoder returns null and consumes
     * nothing until the last byte of the frame is there, then returns a message equal to
     * {@code expected} and consumes exactly the frame.
     */
    static <T> void assertIncremental(byte[] frame, T expected, Decoder<T> decoder) throws NbdProtocolException {
        for (int split = 0; split <= frame.length; split++) {
            ByteBuffer b = staged(frame, (split & 1) == 1);
            b.limit(PREFIX + split);
            T first = decoder.decode(b);
            if (split < frame.length) {
                assertNull(first, "decoded from " + split + " of " + frame.length + " bytes");
                assertEquals(PREFIX, b.position(), "consumed bytes of an incomplete frame, split " + split);
                b.limit(b.capacity());
                first = decoder.decode(b);
            } else {
                b.limit(b.capacity());
            }
            assertNotNull(first, "nothing decoded from the whole frame, split " + split);
            assertEquals(expected, first, "split " + split);
            assertEquals(PREFIX + frame.length, b.position(), "must consume exactly the frame, split " + split);
            assertArrayEquals(TRAILER, bytes(b), "trailer touched, split " + split);
        }
        // one byte at a time into a small buffer that is compacted between reads
        ByteBuffer b = ByteBuffer.allocate(frame.length + TRAILER.length).flip();
        T got = null;
        for (int i = 0; i < frame.length; i++) {
            b.compact().put(frame[i]).flip();
            got = decoder.decode(b);
            if (i < frame.length - 1) {
                assertNull(got, "decoded after " + (i + 1) + " of " + frame.length + " bytes");
                assertEquals(0, b.position());
                assertEquals(i + 1, b.remaining());
            }
        }
        if (frame.length == 0) {
            got = decoder.decode(b);
        }
        assertEquals(expected, got, "byte at a time");
        assertEquals(0, b.remaining(), "byte at a time: must consume exactly the frame");
    }

    /** Decodes a whole frame from a fresh buffer, asserting it is consumed exactly. */
    static <T> T decodeWhole(byte[] frame, Decoder<T> decoder) throws NbdProtocolException {
        ByteBuffer b = staged(frame, false);
        b.limit(b.capacity());
        T t = decoder.decode(b);
        assertNotNull(t);
        assertEquals(PREFIX + frame.length, b.position());
        return t;
    }

    /** Bytes this thread has allocated so far (HotSpot's per-thread allocation counter). */
    static long allocatedBytes() {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean()).getCurrentThreadAllocatedBytes();
    }

    /** Something that must fail. */
    @FunctionalInterface
    interface Hostile {
        void run() throws Exception;
    }

    /**
     * Runs {@code hostile} a few times, each time expecting {@code expected}; asserts that the last
     * run, with classes loaded and lambdas linked, allocated less than {@code limit} bytes. A
     * decoder that sized anything by the hostile length would allocate that much every time (or
     * run out of memory).
     */
    static <X extends Throwable> X assertRejectedWithoutAllocating(Class<X> expected, long limit, String what,
                                                                   Hostile hostile) {
        X last = null;
        long allocated = 0;
        for (int round = 0; round < 3; round++) {
            long before = allocatedBytes();
            try {
                hostile.run();
                throw new AssertionError("not rejected: " + what);
            } catch (Throwable t) {
                allocated = allocatedBytes() - before;
                if (!expected.isInstance(t)) {
                    throw new AssertionError("expected " + expected.getSimpleName() + " for " + what + ", got " + t, t);
                }
                last = expected.cast(t);
            }
        }
        if (allocated >= limit) {
            throw new AssertionError("allocated " + allocated + " bytes rejecting " + what + " (limit " + limit + ")");
        }
        return last;
    }
}
