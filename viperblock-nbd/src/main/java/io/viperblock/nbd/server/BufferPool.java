package io.viperblock.nbd.server;

import java.nio.ByteBuffer;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Direct buffers for request payloads and read replies, reused in power-of-two size classes
 * (4 KiB to 32 MiB). Direct buffers go to the socket and the WAL file without the copy the JDK
 * makes of a heap buffer, and reuse keeps large requests from churning the heap. Each class keeps
 * at most {@code MAX_POOLED_BYTES} of idle buffers; beyond that they are left to the collector.
 *
 * <p>Thread-safety: lock-free queues per class.
 */
final class BufferPool {
    private static final int MIN_SHIFT = 12;
    private static final int MAX_SHIFT = 25;
    private static final long MAX_POOLED_BYTES = 64L << 20;

    private final ConcurrentLinkedQueue<ByteBuffer>[] free;
    private final AtomicInteger[] idle;

    @SuppressWarnings("unchecked")
    BufferPool() {
        int classes = MAX_SHIFT - MIN_SHIFT + 1;
        free = new ConcurrentLinkedQueue[classes];
        idle = new AtomicInteger[classes];
        for (int i = 0; i < classes; i++) {
            free[i] = new ConcurrentLinkedQueue<>();
            idle[i] = new AtomicInteger();
        }
    }

    /** A cleared buffer with {@code limit == size}. */
    ByteBuffer acquire(int size) {
        int c = sizeClass(size);
        if (c < 0) {
            return ByteBuffer.allocateDirect(size);
        }
        ByteBuffer b = free[c].poll();
        if (b == null) {
            b = ByteBuffer.allocateDirect(1 << (c + MIN_SHIFT));
        } else {
            idle[c].decrementAndGet();
        }
        return b.clear().limit(size);
    }

    /** Gives a buffer back; the caller must not touch it afterwards. */
    void release(ByteBuffer b) {
        if (b == null || !b.isDirect()) {
            return;
        }
        int c = Integer.numberOfTrailingZeros(b.capacity()) - MIN_SHIFT;
        if (Integer.bitCount(b.capacity()) != 1 || c < 0 || c >= free.length) {
            return;
        }
        if ((long) (idle[c].get() + 1) << (c + MIN_SHIFT) <= Math.max(MAX_POOLED_BYTES, 1L << (c + MIN_SHIFT))) {
            idle[c].incrementAndGet();
            free[c].offer(b);
        }
    }

    /** Bytes of the idle buffers kept for reuse (at most {@code MAX_POOLED_BYTES} per size class). */
    long idleBytes() {
        long sum = 0;
        for (int c = 0; c < idle.length; c++) {
            sum += (long) idle[c].get() << (c + MIN_SHIFT);
        }
        return sum;
    }

    private static int sizeClass(int size) {
        int shift = Math.max(MIN_SHIFT, 32 - Integer.numberOfLeadingZeros(Math.max(1, size) - 1));
        return shift > MAX_SHIFT ? -1 : shift - MIN_SHIFT;
    }
}
