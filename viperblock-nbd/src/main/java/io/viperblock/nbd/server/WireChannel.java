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
 * <p>Thread-safety: reads (and the input buffer) are confined to the reader thread; writes are
 * guarded by {@code writeLock}.
 */
final class WireChannel implements AutoCloseable {
    private final SocketChannel channel;
    private final ReentrantLock writeLock = new ReentrantLock();
    /** Bytes read from the socket and not yet consumed, between position and limit. */
    private final ByteBuffer in = ByteBuffer.allocateDirect(128 << 10).flip();

    /** The peer's address, taken while the channel is open (it is asked for in logs after closing too). */
    private final String description;

    WireChannel(SocketChannel channel) {
        this.channel = channel;
        String d;
        try {
            d = String.valueOf(channel.getRemoteAddress());
        } catch (IOException e) {
            d = "client";
        }
        this.description = d;
    }

    /**
     * Fills {@code dst}; EOFException if the client went away. Reads go through a buffer, so the
     * headers and small payloads of many pipelined requests arrive with one read call; a payload
     * larger than the buffer is read straight into {@code dst}.
     */
    void readFully(ByteBuffer dst) throws IOException {
        if (in.hasRemaining()) {
            int n = Math.min(in.remaining(), dst.remaining());
            dst.put(dst.position(), in, in.position(), n);
            dst.position(dst.position() + n);
            in.position(in.position() + n);
        }
        while (dst.hasRemaining()) {
            if (dst.remaining() >= in.capacity()) {
                if (channel.read(dst) < 0) {
                    throw new EOFException("client closed the connection");
                }
                continue;
            }
            in.clear();
            if (channel.read(in) < 0) {
                in.flip();
                throw new EOFException("client closed the connection");
            }
            in.flip();
            int n = Math.min(in.remaining(), dst.remaining());
            dst.put(dst.position(), in, in.position(), n);
            dst.position(dst.position() + n);
            in.position(in.position() + n);
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

    /**
     * Writes every remaining byte of the buffers, as one reply that nothing else interleaves with.
     * If that fails the client is gone or the stream is broken (a reply may be half sent), so the
     * channel is closed: nothing more can be sent on it.
     *
     * @throws SendFailedException if the bytes could not be sent
     */
    void write(ByteBuffer... bufs) throws SendFailedException {
        writeLock.lock();
        try {
            long left = 0;
            for (ByteBuffer b : bufs) {
                left += b.remaining();
            }
            while (left > 0) {
                left -= channel.write(bufs);
            }
        } catch (IOException e) {
            close();
            throw new SendFailedException(e);
        } finally {
            writeLock.unlock();
        }
    }

    /** A reply could not be sent: the client went away (or the connection was closed). */
    static final class SendFailedException extends IOException {
        SendFailedException(IOException cause) {
            super("cannot send to the client: " + cause, cause);
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

    /** Bytes already read from the socket and not yet consumed: reading them never blocks. */
    int buffered() {
        return in.remaining();
    }

    /** A view of the next {@code n} buffered bytes (not consumed), or null if fewer are buffered. */
    ByteBuffer peek(int n) {
        return in.remaining() < n ? null : in.slice(in.position(), n);
    }

    /** Whether bytes the client sent are read and not yet consumed (more requests are waiting). */
    boolean hasBuffered() {
        return in.hasRemaining();
    }

    boolean isOpen() {
        return channel.isOpen();
    }

    String describe() {
        return description;
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
