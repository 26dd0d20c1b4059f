package io.viperblock.nbd.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.nbd.protocol.Nbd;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A request alone in flight (the client waits for its reply) is served by the connection's
 * reader itself; pipelined requests go to workers; with a remote store only a lone flush is.
 */
class ReaderServesAloneTest {
    private static final int BLOCK = 4096;

    @Nested
    class LocalStore {
        @RegisterExtension
        final NbdFixture nbd = NbdFixture.fileStore().volume("v", 16 << 20);

        @Test
        void requestsOneAtATimeAreServedByTheReader() throws Exception {
            byte[] data = new byte[BLOCK];
            new SplittableRandom(1).nextBytes(data);
            try (TestNbdClient c = TestNbdClient.connect(nbd.address(), "v", true)) {
                c.write(8 * BLOCK, data);
                assertArrayEquals(data, c.read(8 * BLOCK, BLOCK));
                c.flush();
                c.trim(8 * BLOCK, BLOCK);
                assertArrayEquals(new byte[BLOCK], c.read(8 * BLOCK, BLOCK));
            }
            assertEquals(5, nbd.server().stats().servedByReader(), "write, read, flush, trim, read");
        }

        @Test
        void pipelinedRequestsGoToWorkers() throws Exception {
            byte[][] data = pipelinedWrites(12, BLOCK); // one write call from the client's buffer
            long byReader = nbd.server().stats().servedByReader();
            // the reader finds the next request already read for all but the last of each read call
            assertTrue(byReader <= 2, byReader + " of 12 pipelined writes served by the reader");
            check(data, BLOCK);

            try (TestNbdClient c = TestNbdClient.connect(nbd.address(), "v", true)) {
                long before = nbd.server().stats().servedByReader();
                for (int i = 0; i < 12; i++) {
                    c.sendLater(Nbd.CMD_READ, 0, (long) i * BLOCK, BLOCK, null);
                }
                for (int i = 0; i < 12; i++) {
                    c.receive().ok();
                }
                byReader = nbd.server().stats().servedByReader() - before;
                assertTrue(byReader <= 2, byReader + " of 12 pipelined reads served by the reader");
            }
        }

        /** Sends {@code n} writes of {@code size} bytes at once (one after the other on the disk), then takes every reply. */
        private byte[][] pipelinedWrites(int n, int size) throws Exception {
            SplittableRandom rnd = new SplittableRandom(size);
            Map<Long, Integer> sent = new HashMap<>();
            byte[][] data = new byte[n][size];
            try (TestNbdClient c = TestNbdClient.connect(nbd.address(), "v", true)) {
                for (int i = 0; i < n; i++) {
                    rnd.nextBytes(data[i]);
                    sent.put(c.sendLater(Nbd.CMD_WRITE, 0, (long) i * size, size, data[i]), i);
                }
                for (int i = 0; i < n; i++) {
                    TestNbdClient.Reply r = c.receive().ok();
                    assertTrue(sent.remove(r.cookie()) != null, "a reply to a request sent: " + r.cookie());
                }
            }
            return data;
        }

        /** Reads back what {@link #pipelinedWrites} wrote, one request at a time. */
        private void check(byte[][] data, int size) throws Exception {
            try (TestNbdClient c = TestNbdClient.connect(nbd.address(), "v", true)) {
                for (int i = 0; i < data.length; i++) {
                    assertArrayEquals(data[i], c.read((long) i * size, size), "write " + i);
                }
            }
        }
    }

    @Nested
    class RemoteStore {
        @RegisterExtension
        final NbdFixture nbd = NbdFixture.remoteStore().volume("v", 16 << 20);

        @Test
        void onlyAFlushIsServedByTheReader() throws Exception {
            byte[] data = new byte[BLOCK];
            new SplittableRandom(3).nextBytes(data);
            try (TestNbdClient c = TestNbdClient.connect(nbd.address(), "v", true)) {
                c.write(0, data);
                assertArrayEquals(data, c.read(0, BLOCK));
                c.flush();
            }
            assertEquals(1, nbd.server().stats().servedByReader(), "the flush only: a read may wait on the network");
        }
    }
}
