package io.viperblock.nbd.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.nbd.protocol.Nbd;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Small reads that arrive back to back are served together by one worker, their replies in one
 * write: each is answered once, with its own cookie and its own bytes (data, holes, or zeros with
 * DF), and the requests around them (large reads, unaligned ones, reads past the end, writes to
 * other regions) are served as usual. If the volume cannot read, each joined read gets the error.
 */
class JoinedReadsTest {
    private static final int BLOCK = 4096;
    private static final long SIZE = 64L << 20;

    /** Joined whenever they queue: reads in a JVM that has not compiled its read path yet may take longer than the default bound. */
    @RegisterExtension
    final NbdFixture nbd = NbdFixture.fileStore().volume("v", SIZE).config(NbdServerConfig.defaults().withFastRead(Duration.ofSeconds(1)));

    @Test
    void pipelinedSmallReadsAreJoinedAndEachGetsItsOwnBytes() throws Exception {
        SplittableRandom r = new SplittableRandom(20261128);
        byte[] model = new byte[(int) SIZE];
        try (TestNbdClient c = TestNbdClient.connect(nbd.address(), "v", true)) {
            // every other MiB written, so that reads find data, holes, and both
            for (long off = 0; off < SIZE; off += 2 << 20) {
                byte[] d = bytes(r, 1 << 20);
                c.write(off, d);
                System.arraycopy(d, 0, model, (int) off, d.length);
            }
        }
        for (boolean structured : new boolean[] {false, true}) {
            long joinedBefore = nbd.server().stats().joinedReads();
            try (TestNbdClient c = TestNbdClient.connect(nbd.address(), "v", structured)) {
                for (int round = 0; round < 8; round++) {
                    Map<Long, Integer> expected = new HashMap<>(); // cookie -> errno
                    Map<Long, long[]> readsOf = new HashMap<>(); // cookie -> {offset, length}
                    // writes get regions of their own; reads may share theirs with other reads only
                    int[] slots = r.ints(0, (int) (SIZE / (128 << 10))).distinct().limit(48).toArray();
                    for (int slot : slots) {
                        long base = (long) slot * (128 << 10);
                        int kind = r.nextInt(10);
                        long cookie;
                        if (kind < 7) { // joinable: up to 16 KiB, some with DF, some not whole blocks
                            int length = r.nextInt(4) == 0 ? 1 + r.nextInt(16 << 10) : (1 + r.nextInt(4)) * BLOCK;
                            long off = base + (r.nextBoolean() ? (long) r.nextInt(16) * BLOCK : r.nextInt(100_000));
                            int flags = structured && r.nextInt(4) == 0 ? Nbd.CMD_FLAG_DF : 0;
                            cookie = c.sendLater(Nbd.CMD_READ, flags, off, length, null);
                            readsOf.put(cookie, new long[] {off, length});
                        } else if (kind == 7) { // too large to join
                            cookie = c.sendLater(Nbd.CMD_READ, 0, base, 64 << 10, null);
                            readsOf.put(cookie, new long[] {base, 64 << 10});
                        } else if (kind == 8) { // past the end: refused, the stream goes on
                            cookie = c.sendLater(Nbd.CMD_READ, 0, SIZE - BLOCK * r.nextInt(2), 2 * BLOCK, null);
                            expected.put(cookie, Nbd.EINVAL);
                            continue;
                        } else { // a write in between
                            byte[] d = bytes(r, BLOCK);
                            cookie = c.sendLater(Nbd.CMD_WRITE, 0, base, BLOCK, d);
                            System.arraycopy(d, 0, model, (int) base, BLOCK);
                        }
                        expected.put(cookie, 0);
                    }
                    c.receiveAll(expected, readsOf, model);
                }
            }
            long joined = nbd.server().stats().joinedReads() - joinedBefore;
            assertTrue(joined >= 40, joined + " reads joined (structured replies " + structured + ")");
        }
    }

    @Test
    void eachJoinedReadIsAnsweredWithTheErrorWhenTheVolumeCannotRead() throws Exception {
        try (TestNbdClient c = TestNbdClient.connect(nbd.address(), "v", true)) {
            c.read(0, BLOCK); // the connection is up and serving
            nbd.volume("v").close(); // as at a shutdown: reads fail with ESHUTDOWN
            long joinedBefore = nbd.server().stats().joinedReads();
            for (int i = 0; i < 24; i++) {
                c.sendLater(Nbd.CMD_READ, 0, (long) i * BLOCK, BLOCK, null);
            }
            for (int i = 0; i < 24; i++) {
                assertEquals(Nbd.ESHUTDOWN, c.receive().error(), "reply " + i);
            }
            assertTrue(nbd.server().stats().joinedReads() - joinedBefore > 1, "the reads were joined");
        }
    }

    /** Reads slower than the bound are served one by one: one waiting on the disk would hold up the rest. */
    @Nested
    class SlowReads {
        @RegisterExtension
        final NbdFixture slow = NbdFixture.fileStore().volume("v", SIZE).config(NbdServerConfig.defaults().withFastRead(Duration.ofNanos(1)));

        @Test
        void areNotJoined() throws Exception {
            try (TestNbdClient c = TestNbdClient.connect(slow.address(), "v", true)) {
                byte[] d = bytes(new SplittableRandom(3), 32 * BLOCK);
                c.write(0, d);
                c.read(0, BLOCK); // a read takes more than 1 ns
                Map<Long, Integer> offsets = new HashMap<>();
                for (int i = 0; i < 32; i++) {
                    offsets.put(c.sendLater(Nbd.CMD_READ, 0, (long) i * BLOCK, BLOCK, null), i);
                }
                for (int i = 0; i < 32; i++) {
                    TestNbdClient.Reply reply = c.receive().ok();
                    int at = offsets.remove(reply.cookie());
                    assertArrayEquals(Arrays.copyOfRange(d, at * BLOCK, (at + 1) * BLOCK), reply.data(), "block " + at);
                }
                assertEquals(0, slow.server().stats().joinedReads(), "no read joined");
            }
        }
    }

    private static byte[] bytes(SplittableRandom r, int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        return b;
    }
}
