package io.viperblock.nbd.server;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One client's socket: blocking reads by the connection's reader thread, and replies written
 * whole (gathering writes) under a lock, so replies from many workers never interleave.
 *
 * <p>Thread-safety: reads are confined to the reader thread; writes are guarded by {@code writeLock}.
 */
final class WireChannel implements AutoCloseable {
    private final SocketChannel channel;
    private final ReentrantLock writeLock = new ReentrantLock();

    WireChannel(SocketChannel channel) {
        this.channel = channel;
    }

    /** Fills {@code dst}; EOFException if the client went away. */
    void readFully(ByteBuffer dst) throws IOException {
        while (dst.hasRemaining()) {
            if (channel.read(dst) < 0) {
                throw new EOFException("client closed the connection");
            }
        }
    }

    /** Reads and drops {@code n} bytes (a payload that is refused) through a small scratch buffer. */
    void skip(long n, ByteBuffer scratch) throws IOException {
        while (n > 0) {
            scratch.clear().limit((int) Math.min(scratch.capacity(), n));
            readFully(scratch);
            n -= scratch.limit();
        }
    }

    /** Writes every remaining byte of the buffers, as one reply that nothing else interleaves with. */
    void write(ByteBuffer... bufs) throws IOException {
        writeLock.lock();
        try {
            long left = 0;
            for (ByteBuffer b : bufs) {
                left += b.remaining();
            }
            while (left > 0) {
                left -= channel.write(bufs);
            }
        } finally {
            writeLock.unlock();
        }
    }

    /** Stops reading (the reader sees end of stream) while replies can still be written. */
    void shutdownInput() {
        try {
            channel.shutdownInput();
        } catch (IOException ignored) {
            // already closed
        }
    }

    boolean isOpen() {
        return channel.isOpen();
    }

    String describe() {
        try {
            return String.valueOf(channel.getRemoteAddress());
        } catch (IOException e) {
            return "client";
        }
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException ignored) {
            // closing is best effort; the peer may already be gone
        }
    }
}
