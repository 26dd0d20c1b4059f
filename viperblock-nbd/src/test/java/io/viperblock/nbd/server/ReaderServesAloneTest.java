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
 * reader itself, and so are writes joined into one group commit; other pipelined requests go to
 * workers; with a remote store only a lone flush is served by the reader.
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
        void pipelinedReadsGoToWorkersAndJoinedWritesToTheReader() throws Exception {
            SplittableRandom rnd = new SplittableRandom(2);
            byte[][] data = new byte[12][BLOCK]; // 12 writes and their headers: one write call from the client's buffer
            try (TestNbdClient c = TestNbdClient.connect(nbd.address(), "v", true)) {
                for (int i = 0; i < data.length; i++) {
                    rnd.nextBytes(data[i]);
                    c.sendLater(Nbd.CMD_WRITE, 0, (long) i * BLOCK, BLOCK, data[i]);
                }
                for (int i = 0; i < data.length; i++) {
                    c.receive().ok(); // the client refuses a reply to a request it did not send
                }
                long byReader = nbd.server().stats().servedByReader();
                long joined = nbd.server().stats().joinedWrites();
                // the reader finds the next write already read whole for all but the last of each read call
                assertTrue(joined >= 10, joined + " of 12 pipelined writes joined");
                assertTrue(byReader >= joined, byReader + " of 12 pipelined writes served by the reader, " + joined + " joined");

                Map<Long, Integer> blockOf = new HashMap<>();
                for (int i = 0; i < data.length; i++) {
                    blockOf.put(c.sendLater(Nbd.CMD_READ, 0, (long) i * BLOCK, BLOCK, null), i);
                }
                for (int i = 0; i < data.length; i++) {
                    TestNbdClient.Reply r = c.receive().ok();
                    int block = blockOf.get(r.cookie());
                    assertArrayEquals(data[block], r.data(), "block " + block);
                }
                long reads = nbd.server().stats().servedByReader() - byReader;
                assertTrue(reads <= 2, reads + " of 12 pipelined reads served by the reader");
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

        @Test
        void joinedWritesGoToAWorker() throws Exception {
            SplittableRandom rnd = new SplittableRandom(4);
            byte[][] data = new byte[12][BLOCK];
            try (TestNbdClient c = TestNbdClient.connect(nbd.address(), "v", true)) {
                for (int i = 0; i < data.length; i++) {
                    rnd.nextBytes(data[i]);
                    c.sendLater(Nbd.CMD_WRITE, 0, (long) i * BLOCK, BLOCK, data[i]);
                }
                for (int i = 0; i < data.length; i++) {
                    c.receive().ok();
                }
                for (int i = 0; i < data.length; i++) {
                    assertArrayEquals(data[i], c.read((long) i * BLOCK, BLOCK), "block " + i);
                }
            }
            assertTrue(nbd.server().stats().joinedWrites() >= 10, nbd.server().stats().joinedWrites() + " of 12 pipelined writes joined");
            assertEquals(0, nbd.server().stats().servedByReader(), "a write may wait on a read-modify-write that reads from the network");
        }
    }
}
