package io.viperblock.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import io.viperblock.nbd.protocol.Nbd;
import io.viperblock.nbd.server.TestNbdClient;
import io.viperblock.nbd.server.Tools;
import io.viperblock.s3.S3ProxyFixture;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Campaign 1, kill -9: this JVM is the checker; {@code bin/vblock serve} runs in another JVM. The
 * checker writes over NBD (1 to 64 blocks, aligned, up to 16 in flight, with WRITE_ZEROES, TRIM,
 * FUA and flushes), keeping for every block the value last acknowledged and the one in flight
 * (it never has two requests on one block in flight, so nothing else is possible), kills the
 * server with SIGKILL at a random moment (sometimes during its recovery, before it serves),
 * restarts it and reads the whole volume back: every block must hold its acknowledged value or
 * the one in flight (a kill leaves the page cache, so acknowledged means durable here), and every
 * block's bytes must be exactly what that write wrote. Each block carries its write's id and
 * block number, so misplaced or garbage data is told apart from an old value.
 *
 * <p>{@code -Dcampaign.cycles=N} (default 3 in {@code make test}), {@code -Dcampaign.seed=S},
 * {@code -Dcampaign.stores=file,s3}. {@code make campaign-kill} runs the long version; the
 * result line goes to target/campaign-kill-STORE.json.
 */
class KillCampaignIT {
    private static final int BLOCK = 4096;
    private static final int BLOCKS = 16384; // a 64 MiB volume
    private static final int QUEUE_DEPTH = 16;
    private static final int NONE = -1;
    private static final int ZERO = 0;

    @TempDir
    Path tmp;

    /** What the checker knows of each block. */
    private final int[] acked = new int[BLOCKS];
    private final int[] inFlight = new int[BLOCKS];
    private int nextId = 1;

    private record Op(int firstBlock, int count, int id) {}

    @ParameterizedTest
    @ValueSource(strings = {"file", "s3"})
    void killDashNine(String store) throws Exception {
        String stores = System.getProperty("campaign.stores", "file,s3");
        if (!Arrays.asList(stores.split(",")).contains(store)) {
            return; // not asked for in this run (-Dcampaign.stores)
        }
        int cycles = Integer.getInteger("campaign.cycles", 3);
        long seed = Long.getLong("campaign.seed", System.nanoTime());
        SplittableRandom rnd = new SplittableRandom(seed);
        String ctx = "kill -9 campaign on " + store + ", seed " + seed + " (-Dcampaign.seed=" + seed + ")";
        Arrays.fill(acked, ZERO);
        Arrays.fill(inFlight, NONE);

        S3ProxyFixture proxy = store.equals("s3") ? S3ProxyFixture.start() : null;
        String bucket = proxy == null ? null : proxy.newBucket();
        long started = System.nanoTime();
        long acks = 0;
        int killedInRecovery = 0;
        try {
            cmd(proxy, bucket, "create", "vol", "--size", String.valueOf((long) BLOCKS * BLOCK)).run().ok();
            VblockServer server = serve(proxy, bucket);
            for (int cycle = 1; cycle <= cycles; cycle++) {
                String at = ctx + ", cycle " + cycle;
                if (rnd.nextInt(10) == 0) {
                    // crash during the recovery of the previous crash: kill a fresh server early
                    server.kill();
                    Process early = cmd(proxy, bucket, "serve", "--listen", "127.0.0.1:0", "vol").start(tmp.resolve("early.log"));
                    Thread.sleep(rnd.nextLong(200, 1500));
                    early.destroyForcibly();
                    early.waitFor();
                    killedInRecovery++;
                    server = serve(proxy, bucket);
                }
                acks += workload(server, rnd, at);
                server = serve(proxy, bucket);
                verify(server, at);
            }
            server.stop();
        } finally {
            if (proxy != null) {
                proxy.close();
            }
        }
        double secs = (System.nanoTime() - started) / 1e9;
        String summary = String.format(java.util.Locale.ROOT,
                "{\"campaign\":\"kill-9\",\"store\":\"%s\",\"cycles\":%d,\"killsDuringRecovery\":%d,\"acknowledgedRequests\":%d,"
                        + "\"dataErrors\":0,\"seed\":%d,\"seconds\":%.1f,\"finished\":\"%s\"}%n",
                store, cycles, killedInRecovery, acks, seed, secs, Instant.now());
        System.out.print(summary);
        Files.writeString(Path.of("target", "campaign-kill-" + store + ".json"), summary, StandardCharsets.UTF_8);
    }

    private Tools.Cmd cmd(S3ProxyFixture proxy, String bucket, String... args) {
        Tools.Cmd c = Tools.exec(VblockServer.VBLOCK, args).env("VB_DATA", tmp.resolve("node").toString()).timeout(Duration.ofMinutes(2));
        if (proxy == null) {
            return c.env("VB_STORE", "file:" + tmp.resolve("store"));
        }
        return c.env("VB_STORE", "s3://" + bucket + "/vb/")
                .env("AWS_ENDPOINT_URL", proxy.endpoint().toString())
                .env("AWS_REGION", "us-east-1")
                .env("AWS_ACCESS_KEY_ID", S3ProxyFixture.IDENTITY)
                .env("AWS_SECRET_ACCESS_KEY", S3ProxyFixture.CREDENTIAL);
    }

    private VblockServer serve(S3ProxyFixture proxy, String bucket) throws Exception {
        return VblockServer.start(cmd(proxy, bucket, "serve", "--listen", "127.0.0.1:0", "vol"), Files.createTempFile(tmp, "serve-", ".log"));
    }

    /** Writes until the server is killed at a random moment; returns the requests acknowledged. */
    private long workload(VblockServer server, SplittableRandom rnd, String ctx) throws Exception {
        long killAfterMs = rnd.nextInt(10) == 0 ? rnd.nextLong(4000, 8000) : rnd.nextLong(100, 1500);
        Thread killer = Thread.ofPlatform().start(() -> {
            try {
                Thread.sleep(killAfterMs);
                server.process().destroyForcibly();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        Map<Long, Op> ops = new HashMap<>();
        long acks = 0;
        try (TestNbdClient c = TestNbdClient.connect(server.address(), "vol", rnd.nextBoolean())) {
            while (true) {
                while (ops.size() < QUEUE_DEPTH) {
                    int kind = rnd.nextInt(100);
                    if (kind < 4) {
                        ops.put(c.send(Nbd.CMD_FLUSH, 0, 0, 0, null), new Op(0, 0, NONE));
                        continue;
                    }
                    int count = rnd.nextInt(8) == 0 ? rnd.nextInt(1, 65) : rnd.nextInt(1, 5);
                    int first = rnd.nextInt(BLOCKS - count + 1);
                    if (!free(first, count)) {
                        continue; // never two requests on one block in flight
                    }
                    int flags = rnd.nextInt(10) == 0 ? Nbd.CMD_FLAG_FUA : 0;
                    Op op;
                    long cookie;
                    if (kind < 92) {
                        op = new Op(first, count, nextId++);
                        mark(op);
                        cookie = c.send(Nbd.CMD_WRITE, flags, (long) first * BLOCK, (long) count * BLOCK, payload(op));
                    } else {
                        op = new Op(first, count, ZERO);
                        mark(op);
                        int type = kind < 96 ? Nbd.CMD_WRITE_ZEROES : Nbd.CMD_TRIM;
                        cookie = c.send(type, type == Nbd.CMD_TRIM ? 0 : flags, (long) first * BLOCK, (long) count * BLOCK, null);
                    }
                    ops.put(cookie, op);
                }
                TestNbdClient.Reply r = c.receive();
                Op op = ops.remove(r.cookie());
                if (r.error() != 0) {
                    fail(ctx + ": request " + op + " failed with errno " + r.error() + " " + r.message());
                }
                for (int b = op.firstBlock(); b < op.firstBlock() + op.count(); b++) {
                    acked[b] = op.id();
                    inFlight[b] = NONE;
                }
                acks++;
            }
        } catch (IOException killed) {
            // the server is gone: what was acknowledged must be there after the restart
        } finally {
            killer.join();
            server.process().waitFor();
        }
        return acks;
    }

    private boolean free(int first, int count) {
        for (int b = first; b < first + count; b++) {
            if (inFlight[b] != NONE) {
                return false;
            }
        }
        return true;
    }

    private void mark(Op op) {
        for (int b = op.firstBlock(); b < op.firstBlock() + op.count(); b++) {
            inFlight[b] = op.id();
        }
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

    /** Reads the whole volume from the restarted server and checks every block. */
    private void verify(VblockServer server, String ctx) throws Exception {
        byte[] want = new byte[BLOCK];
        try (TestNbdClient c = TestNbdClient.connect(server.address(), "vol", true)) {
            assertEquals((long) BLOCKS * BLOCK, c.size(), ctx);
            int per = 256;
            for (int first = 0; first < BLOCKS; first += per) {
                byte[] data = c.read((long) first * BLOCK, per * BLOCK);
                for (int i = 0; i < per; i++) {
                    int b = first + i;
                    int at = i * BLOCK;
                    int id;
                    if (isZero(data, at)) {
                        id = ZERO;
                    } else {
                        ByteBuffer h = ByteBuffer.wrap(data, at, 16);
                        long gotId = h.getLong();
                        long gotBlock = h.getLong();
                        if (gotBlock != b || gotId <= 0 || gotId >= nextId) {
                            fail(ctx + ": block " + b + " holds garbage (header says write " + gotId + ", block " + gotBlock + ")\n"
                                    + server.logText());
                        }
                        id = (int) gotId;
                        fillBlock(want, 0, id, b);
                        if (!Arrays.equals(data, at, at + BLOCK, want, 0, BLOCK)) {
                            fail(ctx + ": block " + b + " has write " + id + "'s header but not its bytes");
                        }
                    }
                    if (id != acked[b] && id != inFlight[b]) {
                        fail(ctx + ": block " + b + " holds " + describe(id) + ", but the last acknowledged write was "
                                + describe(acked[b]) + (inFlight[b] == NONE ? "" : " and " + describe(inFlight[b]) + " was in flight")
                                + "\n" + server.logText());
                    }
                    acked[b] = id;
                    inFlight[b] = NONE;
                }
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
