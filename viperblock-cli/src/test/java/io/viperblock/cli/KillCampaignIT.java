package io.viperblock.cli;

import io.viperblock.nbd.server.TestNbdClient;
import io.viperblock.nbd.server.Tools;
import io.viperblock.s3.S3ProxyFixture;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Campaign 1, kill -9: this JVM is the checker; {@code bin/vblock serve} runs in another JVM. The
 * checker's workload ({@link NbdChecker}) runs over NBD until the server is killed with SIGKILL at
 * a random moment (sometimes also during its recovery, before it serves); then the server is
 * restarted and the whole volume read back: every block must hold its acknowledged value or the
 * one in flight (a kill leaves the page cache, so acknowledged means durable here), byte for byte.
 *
 * <p>{@code -Dcampaign.cycles=N} (default 3 in {@code make test}), {@code -Dcampaign.seed=S},
 * {@code -Dcampaign.stores=file,s3}, {@code -Dcampaign.cyclesPerVolume=100} (then the volume is
 * deleted and a new one created: overwritten chunks are not reclaimed yet). {@code make
 * campaign-kill} runs the long version; the result line goes to target/campaign-kill-STORE.json
 * (rewritten after every cycle while it runs).
 */
class KillCampaignIT {
    private static final int BLOCKS = 16384; // a 64 MiB volume

    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"file", "s3"})
    void killDashNine(String store) throws Exception {
        String stores = System.getProperty("campaign.stores", "file,s3");
        // not asked for in this run: reported as skipped with the reason, not as a pass
        Assumptions.assumeTrue(Arrays.asList(stores.split(",")).contains(store), "-Dcampaign.stores=" + stores + " leaves out " + store);
        int cycles = Integer.getInteger("campaign.cycles", 3);
        // s3proxy keeps every object in this JVM's heap: about 150 MB a cycle, so a fresh volume
        // (and the old one deleted) every 5 cycles, or the heap runs out after about 13 and the
        // proxy stalls (found by a 150-cycle run: a server that did not start, a read that timed out)
        int perVolume = Integer.getInteger("campaign.cyclesPerVolume", store.equals("s3") ? 5 : 100);
        long seed = Long.getLong("campaign.seed", System.nanoTime());
        SplittableRandom rnd = new SplittableRandom(seed);
        String ctx = "kill -9 campaign on " + store + ", seed " + seed + " (-Dcampaign.seed=" + seed + ")";
        Path result = Path.of("target", "campaign-kill-" + store + ".json");

        S3ProxyFixture proxy = store.equals("s3") ? S3ProxyFixture.start() : null;
        String bucket = proxy == null ? null : proxy.newBucket();
        long started = System.nanoTime();
        int killedInRecovery = 0;
        long acknowledged = 0;
        String vol = null;
        NbdChecker checker = null;
        VblockServer server = null;
        try {
            for (int cycle = 1; cycle <= cycles; cycle++) {
                if ((cycle - 1) % perVolume == 0) {
                    // a fresh volume now and then: overwritten chunks are not reclaimed yet, so a
                    // long campaign on one volume would fill the disk
                    if (server != null) {
                        server.stop();
                        cmd(proxy, bucket, "delete", vol).run().ok();
                        acknowledged += checker.acknowledged;
                    }
                    vol = "vol" + ((cycle - 1) / perVolume + 1);
                    cmd(proxy, bucket, "create", vol, "--size", String.valueOf((long) BLOCKS * NbdChecker.BLOCK)).run().ok();
                    checker = new NbdChecker(BLOCKS, rnd.split());
                    server = serve(proxy, bucket, vol);
                }
                String at = ctx + ", cycle " + cycle + " (volume " + vol + ")";
                if (rnd.nextInt(10) == 0) {
                    // crash during the recovery of the previous crash: kill a fresh server early
                    server.kill();
                    Process early = cmd(proxy, bucket, "serve", "--listen", "127.0.0.1:0", vol).start(tmp.resolve("early.log"));
                    Thread.sleep(rnd.nextLong(200, 1500));
                    early.destroyForcibly();
                    early.waitFor();
                    killedInRecovery++;
                    server = serve(proxy, bucket, vol);
                }
                workload(server, vol, checker, rnd, at);
                server = serve(proxy, bucket, vol);
                VblockServer restarted = server;
                try (TestNbdClient c = TestNbdClient.connect(server.address(), vol, true)) {
                    checker.verify(c, at, () -> logOf(restarted));
                } catch (java.net.SocketTimeoutException e) {
                    // a stall: say where the server and the in-process s3proxy were waiting
                    throw new AssertionError(at + ": the restarted server did not answer a read in time (" + e.getMessage()
                            + ")\nits log:\n" + logOf(restarted) + "\nits threads:\n" + restarted.threadDump()
                            + "\nthreads of this JVM (the checker, and s3proxy):\n" + localThreads(), e);
                }
                // progress, so a long run that is stopped still says how far it got
                Files.writeString(result, summary(store, cycle, killedInRecovery, acknowledged + checker.acknowledged, seed, started, false),
                        StandardCharsets.UTF_8);
            }
            server.stop();
        } finally {
            if (server != null && server.process().isAlive()) {
                server.kill(); // a failed cycle: the server it left must not outlive the test
            }
            if (proxy != null) {
                proxy.close();
            }
        }
        String summary = summary(store, cycles, killedInRecovery, acknowledged + checker.acknowledged, seed, started, true);
        System.out.print(summary);
        Files.writeString(result, summary, StandardCharsets.UTF_8);
    }

    private static String summary(String store, int cycles, int killedInRecovery, long acknowledged, long seed, long started, boolean done) {
        return String.format(java.util.Locale.ROOT,
                "{\"campaign\":\"kill-9\",\"store\":\"%s\",\"cycles\":%d,\"killsDuringRecovery\":%d,\"acknowledgedRequests\":%d,"
                        + "\"dataErrors\":0,\"seed\":%d,\"seconds\":%.1f,\"%s\":\"%s\"}%n",
                store, cycles, killedInRecovery, acknowledged, seed, (System.nanoTime() - started) / 1e9, done ? "finished" : "running", Instant.now());
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

    private VblockServer serve(S3ProxyFixture proxy, String bucket, String vol) throws Exception {
        return VblockServer.start(cmd(proxy, bucket, "serve", "--listen", "127.0.0.1:0", vol), Files.createTempFile(tmp, "serve-", ".log"));
    }

    /** Writes until the server is killed at a random moment. */
    private static void workload(VblockServer server, String vol, NbdChecker checker, SplittableRandom rnd, String ctx) throws Exception {
        long killAfterMs = rnd.nextInt(10) == 0 ? rnd.nextLong(4000, 8000) : rnd.nextLong(100, 1500);
        Thread killer = Thread.ofPlatform().start(() -> {
            try {
                Thread.sleep(killAfterMs);
                server.process().destroyForcibly();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        try (TestNbdClient c = TestNbdClient.connect(server.address(), vol, rnd.nextBoolean())) {
            checker.run(c, () -> true, errno -> false, ctx);
        } catch (IOException killed) {
            // the server is gone: what was acknowledged must be there after the restart
        } finally {
            killer.join();
            server.process().waitFor();
        }
    }

    private static String logOf(VblockServer s) {
        try {
            return s.logText();
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    private static String localThreads() {
        StringBuilder b = new StringBuilder();
        Thread.getAllStackTraces().forEach((t, stack) -> {
            b.append('"').append(t.getName()).append("\" ").append(t.getState()).append('\n');
            for (int i = 0; i < Math.min(stack.length, 12); i++) {
                b.append("    at ").append(stack[i]).append('\n');
            }
        });
        return b.toString();
    }
}
