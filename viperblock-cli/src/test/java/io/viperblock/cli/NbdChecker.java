package io.viperblock.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import io.viperblock.nbd.protocol.Nbd;
import io.viperblock.nbd.server.TestNbdClient;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.BooleanSupplier;
import java.util.function.IntPredicate;
import java.util.function.Supplier;

/**
 * The campaigns' NBD workload and its expected state. Writes (1 to 64 blocks, aligned),
 * WRITE_ZEROES, TRIM, FUA and flushes, up to 16 in flight, never two requests on one block at a
 * time, so each block can only hold: the value last acknowledged, the value in flight, or the
 * value of a write that failed (it may have landed). Every block written carries its write's id
 * and block number and bytes derived from both, so a wrong, misplaced or garbage block is
 * recognised as such, not only as "different".
 *
 * <p>Not thread-safe: one checker drives one connection at a time.
 */
final class NbdChecker {
    static final int BLOCK = 4096;
    private static final int QUEUE_DEPTH = 16;
    private static final int NONE = -1;
    private static final int ZERO = 0;

    private final int blocks;
    private final SplittableRandom rnd;
    private final int[] acked;
    private final int[] inFlight;
    private final int[] failed;
    private int nextId = 1;
    long acknowledged;
    long errors;

    private record Op(int firstBlock, int count, int id) {}

    NbdChecker(int blocks, SplittableRandom rnd) {
        this.blocks = blocks;
        this.rnd = rnd;
        this.acked = new int[blocks];
        this.inFlight = new int[blocks];
        this.failed = new int[blocks];
        Arrays.fill(inFlight, NONE);
        Arrays.fill(failed, NONE);
    }

    /**
     * Sends requests while {@code keepGoing} holds, then collects the replies still due. A reply
     * with an error not in {@code allowedErrors} fails the test. Throws IOException when the
     * connection dies (the campaigns kill the server).
     */
    void run(TestNbdClient c, BooleanSupplier keepGoing, IntPredicate allowedErrors, String ctx) throws IOException {
        Map<Long, Op> ops = new HashMap<>();
        while (true) {
            while (ops.size() < QUEUE_DEPTH && keepGoing.getAsBoolean()) {
                long cookie;
                Op op;
                int kind = rnd.nextInt(100);
                if (kind < 4) {
                    cookie = c.send(Nbd.CMD_FLUSH, 0, 0, 0, null);
                    op = new Op(0, 0, NONE);
                } else {
                    int count = rnd.nextInt(8) == 0 ? rnd.nextInt(1, 65) : rnd.nextInt(1, 5);
                    int first = rnd.nextInt(blocks - count + 1);
                    if (!free(first, count)) {
                        continue;
                    }
                    int flags = rnd.nextInt(10) == 0 ? Nbd.CMD_FLAG_FUA : 0;
                    op = new Op(first, count, kind < 92 ? nextId++ : ZERO);
                    for (int b = first; b < first + count; b++) {
                        inFlight[b] = op.id();
                    }
                    long off = (long) first * BLOCK;
                    long len = (long) count * BLOCK;
                    if (kind < 92) {
                        cookie = c.send(Nbd.CMD_WRITE, flags, off, len, payload(op));
                    } else if (kind < 96) {
                        cookie = c.send(Nbd.CMD_WRITE_ZEROES, flags, off, len, null);
                    } else {
                        cookie = c.send(Nbd.CMD_TRIM, 0, off, len, null);
                    }
                }
                ops.put(cookie, op);
            }
            if (ops.isEmpty()) {
                return;
            }
            TestNbdClient.Reply r = c.receive();
            Op op = ops.remove(r.cookie());
            if (op == null) {
                fail(ctx + ": a reply for cookie " + r.cookie() + ", which is not in flight");
            }
            if (r.error() != 0) {
                if (!allowedErrors.test(r.error())) {
                    fail(ctx + ": request " + op + " failed with errno " + r.error() + " (" + Nbd.errorName(r.error()) + ") " + r.message());
                }
                errors++;
            } else {
                acknowledged++;
            }
            for (int b = op.firstBlock(); b < op.firstBlock() + op.count(); b++) {
                if (r.error() == 0) {
                    acked[b] = op.id();
                    failed[b] = NONE;
                } else {
                    failed[b] = op.id(); // it may have landed, or not
                }
                inFlight[b] = NONE;
            }
        }
    }

    private boolean free(int first, int count) {
        for (int b = first; b < first + count; b++) {
            if (inFlight[b] != NONE) {
                return false;
            }
        }
        return true;
    }

    private static byte[] payload(Op op) {
        byte[] p = new byte[op.count() * BLOCK];
        for (int i = 0; i < op.count(); i++) {
            fillBlock(p, i * BLOCK, op.id(), op.firstBlock() + i);
        }
        return p;
    }

    /** Block {@code block} as write {@code id} writes it: its id, its number, then bytes from both. */
    private static void fillBlock(byte[] dst, int at, int id, int block) {
        ByteBuffer b = ByteBuffer.wrap(dst, at, BLOCK);
        b.putLong(id).putLong(block);
        SplittableRandom r = new SplittableRandom(((long) id << 32) ^ block);
        while (b.hasRemaining()) {
            b.putLong(r.nextLong());
        }
    }

    /**
     * Reads the whole volume and checks every block; afterwards what was read is the new
     * acknowledged state (nothing is in flight any more).
     */
    void verify(TestNbdClient c, String ctx, Supplier<String> serverLog) throws IOException {
        byte[] want = new byte[BLOCK];
        assertEquals((long) blocks * BLOCK, c.size(), ctx);
        int per = 256;
        for (int first = 0; first < blocks; first += per) {
            int n = Math.min(per, blocks - first);
            byte[] data = c.read((long) first * BLOCK, n * BLOCK);
            for (int i = 0; i < n; i++) {
                int b = first + i;
                int at = i * BLOCK;
                int id = ZERO;
                if (!isZero(data, at)) {
                    ByteBuffer h = ByteBuffer.wrap(data, at, 16);
                    long gotId = h.getLong();
                    long gotBlock = h.getLong();
                    if (gotBlock != b || gotId <= 0 || gotId >= nextId) {
                        fail(ctx + ": block " + b + " holds garbage (header says write " + gotId + ", block " + gotBlock + ")\n"
                                + serverLog.get());
                    }
                    id = (int) gotId;
                    fillBlock(want, 0, id, b);
                    if (!Arrays.equals(data, at, at + BLOCK, want, 0, BLOCK)) {
                        fail(ctx + ": block " + b + " has write " + id + "'s header but not its bytes\n" + serverLog.get());
                    }
                }
                if (id != acked[b] && id != inFlight[b] && id != failed[b]) {
                    fail(ctx + ": block " + b + " holds " + describe(id) + ", but the last acknowledged write was " + describe(acked[b])
                            + (inFlight[b] == NONE ? "" : ", " + describe(inFlight[b]) + " was in flight")
                            + (failed[b] == NONE ? "" : ", " + describe(failed[b]) + " failed") + "\n" + serverLog.get());
                }
                acked[b] = id;
                inFlight[b] = NONE;
                failed[b] = NONE;
            }
        }
    }

    private static String describe(int id) {
        return id == ZERO ? "zeros" : "write " + id;
    }

    private static boolean isZero(byte[] d, int at) {
        for (int i = at; i < at + BLOCK; i++) {
            if (d[i] != 0) {
                return false;
            }
        }
        return true;
    }
}
