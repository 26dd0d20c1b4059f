package io.viperblock.nbd.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.nbd.protocol.Nbd;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Small whole-block writes that arrive back to back are served together (one group commit, one
 * reply write): each is answered once with its own cookie, the others in the same stream (an
 * unaligned write, a FUA write, a large one, one out of range, reads) are served as usual, and
 * every byte reads back. If the volume cannot write, each joined write gets the error.
 */
class JoinedWritesTest {
    private static final int BLOCK = 4096;
    private static final long SIZE = 64L << 20;

    @RegisterExtension
    final NbdFixture nbd = NbdFixture.fileStore().volume("v", SIZE);

    @Test
    void pipelinedSmallWritesAreJoinedAndEachIsAnsweredAndStored() throws Exception {
        SplittableRandom r = new SplittableRandom(20261127);
        byte[] model = new byte[(int) SIZE];
        for (boolean structured : new boolean[] {false, true}) {
            long joinedBefore = nbd.server().stats().joinedWrites();
            try (TestNbdClient c = TestNbdClient.connect(nbd.address(), "v", structured)) {
                for (int round = 0; round < 8; round++) {
                    Map<Long, Integer> expected = new HashMap<>(); // cookie -> errno
                    Map<Long, long[]> readsOf = new HashMap<>(); // cookie -> {offset, length}
                    // each request of a round gets a region of its own (in-flight writes have no order)
                    int[] slots = r.ints(0, (int) (SIZE / (128 << 10))).distinct().limit(40).toArray();
                    for (int slot : slots) {
                        long base = (long) slot * (128 << 10);
                        int kind = r.nextInt(10);
                        if (kind < 6) { // joinable: whole blocks, up to 16 KiB
                            byte[] d = bytes(r, (1 + r.nextInt(r.nextInt(8) == 0 ? 16 : 4)) * BLOCK); // some too large to join
                            long off = base + (long) r.nextInt(16) * BLOCK;
                            expected.put(c.sendLater(Nbd.CMD_WRITE, 0, off, d.length, d), 0);
                            System.arraycopy(d, 0, model, (int) off, d.length);
                        } else if (kind == 6) { // unaligned
                            byte[] d = bytes(r, 1 + r.nextInt(9000));
                            long off = base + 1 + r.nextInt(5000);
                            expected.put(c.sendLater(Nbd.CMD_WRITE, 0, off, d.length, d), 0);
                            System.arraycopy(d, 0, model, (int) off, d.length);
                        } else if (kind == 7) { // FUA, or larger than 64 KiB
                            boolean fua = r.nextBoolean();
                            byte[] d = bytes(r, fua ? BLOCK : 128 << 10);
                            expected.put(c.sendLater(Nbd.CMD_WRITE, fua ? Nbd.CMD_FLAG_FUA : 0, base, d.length, d), 0);
                            System.arraycopy(d, 0, model, (int) base, d.length);
                        } else if (kind == 8) { // past the end: refused, the stream goes on
                            expected.put(c.sendLater(Nbd.CMD_WRITE, 0, SIZE - BLOCK * r.nextInt(2), 2 * BLOCK, new byte[2 * BLOCK]),
                                    Nbd.ENOSPC);
                        } else { // a read of a region nobody writes this round
                            long cookie = c.sendLater(Nbd.CMD_READ, 0, base, 8 * BLOCK, null);
                            expected.put(cookie, 0);
                            readsOf.put(cookie, new long[] {base, 8 * BLOCK});
                        }
                    }
                    c.receiveAll(expected, readsOf, model);
                }
                for (long off = 0; off < SIZE; off += 1 << 20) {
                    assertArrayEquals(Arrays.copyOfRange(model, (int) off, (int) off + (1 << 20)), c.read(off, 1 << 20), "MiB at " + off);
                }
            }
            long joined = nbd.server().stats().joinedWrites() - joinedBefore;
            assertTrue(joined >= 20, joined + " writes joined (structured replies " + structured + ")");
        }
        nbd.restart(); // what was acknowledged is in the WAL: it replays
        try (TestNbdClient c = TestNbdClient.connect(nbd.address(), "v", true)) {
            for (long off = 0; off < SIZE; off += 1 << 20) {
                assertArrayEquals(Arrays.copyOfRange(model, (int) off, (int) off + (1 << 20)), c.read(off, 1 << 20), "MiB at " + off + " after a restart");
            }
        }
    }

    @Test
    void eachJoinedWriteIsAnsweredWithTheErrorWhenTheVolumeCannotWrite() throws Exception {
        try (TestNbdClient c = TestNbdClient.connect(nbd.address(), "v", true)) {
            c.write(0, new byte[BLOCK]); // the connection is up and serving
            nbd.volume("v").close(); // as at a shutdown: writes fail with ESHUTDOWN
            long joinedBefore = nbd.server().stats().joinedWrites();
            for (int i = 0; i < 24; i++) {
                c.sendLater(Nbd.CMD_WRITE, 0, (long) i * BLOCK, BLOCK, new byte[BLOCK]);
            }
            for (int i = 0; i < 24; i++) {
                assertEquals(Nbd.ESHUTDOWN, c.receive().error(), "reply " + i);
            }
            assertTrue(nbd.server().stats().joinedWrites() - joinedBefore > 1, "the writes were joined");
        }
    }

    private static byte[] bytes(SplittableRandom r, int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) r.nextInt();
        }
        return b;
    }
}
