package io.viperblock.nbd.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataInputStream;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Replies from many threads at once over a real loopback socket ({@link WireChannel#write}, as
 * the workers of one connection send them): every reply must arrive whole, never interleaved with
 * another, each once; and a write to a client that went away fails and closes the channel.
 */
class WireChannelTest {
    private static final int THREADS = 32;
    private static final int PER_THREAD = 300;

    @Test
    void repliesFromManyThreadsArriveWholeAndEachOnce() throws Exception {
        try (ServerSocketChannel listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
                SocketChannel client = SocketChannel.open(listener.getLocalAddress());
                WireChannel wire = new WireChannel(listener.accept())) {
            Set<Long> received = new HashSet<>();
            java.util.concurrent.atomic.AtomicReference<Throwable> failed = new java.util.concurrent.atomic.AtomicReference<>();
            assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
                List<Thread> senders = new ArrayList<>();
                for (int t = 0; t < THREADS; t++) {
                    int thread = t;
                    Runnable work = () -> {
                        SplittableRandom random = new SplittableRandom(thread);
                        for (int i = 0; i < PER_THREAD; i++) {
                            long id = ((long) thread << 32) | i;
                            int length = random.nextInt(3) == 0 ? 0 : 1 + random.nextInt(9000);
                            ByteBuffer header = ByteBuffer.allocate(12).putLong(id).putInt(length).flip();
                            byte[] body = new byte[length];
                            java.util.Arrays.fill(body, (byte) id);
                            try {
                                ByteBuffer data = ByteBuffer.wrap(body);
                                wire.write(header, data);
                                assertEquals(0, data.remaining(), "write returns once the reply is written");
                            } catch (Exception | AssertionError e) { // reported below: a thread's own would go unseen
                                failed.compareAndSet(null, e);
                            }
                        }
                    };
                    senders.add(t % 2 == 0 ? Thread.ofVirtual().start(work) : Thread.ofPlatform().start(work));
                }
                DataInputStream in = new DataInputStream(Channels.newInputStream(client));
                for (int n = 0; n < THREADS * PER_THREAD; n++) {
                    long id = in.readLong();
                    int length = in.readInt();
                    assertTrue(length >= 0 && length <= 9000, "reply " + n + ": a whole header, length " + length);
                    byte[] body = new byte[length];
                    in.readFully(body);
                    for (byte b : body) {
                        assertEquals((byte) id, b, "reply " + Long.toHexString(id) + " is not interleaved with another");
                    }
                    assertTrue(received.add(id), "reply " + Long.toHexString(id) + " once");
                }
                for (Thread t : senders) {
                    t.join();
                }
            });
            if (failed.get() != null) {
                throw new AssertionError("a sender failed", failed.get());
            }
            assertEquals(THREADS * PER_THREAD, received.size());
        }
    }

    @Test
    void aWriteAfterTheClientLeftFailsAndClosesTheChannel() throws Exception {
        try (ServerSocketChannel listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
            SocketChannel client = SocketChannel.open(listener.getLocalAddress());
            try (WireChannel wire = new WireChannel(listener.accept())) {
                client.setOption(java.net.StandardSocketOptions.SO_LINGER, 0);
                client.close(); // a reset: the next writes fail
                ByteBuffer big = ByteBuffer.allocate(1 << 20);
                org.junit.jupiter.api.Assertions.assertThrows(WireChannel.SendFailedException.class, () -> {
                    for (int i = 0; i < 100; i++) {
                        wire.write(big.clear());
                    }
                });
                assertTrue(!wire.isOpen(), "closed after the failure");
                org.junit.jupiter.api.Assertions.assertThrows(WireChannel.SendFailedException.class,
                        () -> wire.write(ByteBuffer.allocate(16)), "a closed channel refuses the next reply");
            }
        }
    }
}
