package io.viperblock.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.nbd.protocol.Nbd;
import io.viperblock.nbd.server.TestNbdClient;
import io.viperblock.nbd.server.Tools;
import io.viperblock.s3.S3ProxyFixture;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Campaign 3, store faults: {@code bin/vblock serve} on s3proxy (in this JVM, with the fault
 * injection of {@link S3ProxyFixture}) while the checker's NBD workload ({@link NbdChecker}) runs
 * and a random share of the store's requests meet a fault: 500, 503 SlowDown, 507
 * InsufficientStorage, added latency, a connection dropped before the request is served or after
 * a PUT was stored, and PUTs whose answer is lost after the object was stored. Then the faults stop, the server is
 * stopped (it drains everything into the store and releases the lease), and a server on
 * <em>another</em> data directory (another host: no WAL to replay) reads the volume back: every
 * acknowledged write must be there. A second phase puts nbdkit's {@code error} and {@code delay}
 * filters between the checker and our server, the client-side view: injected EIOs are allowed to
 * have landed or not, everything acknowledged must be there.
 *
 * <p>{@code -Dcampaign.rounds=N} (default 1), {@code -Dcampaign.seconds=S} per round (default 10: the WAL seals a segment every 5 s),
 * {@code -Dcampaign.faultRate=0.1}, {@code -Dcampaign.seed}; {@code make campaign-storefaults}.
 */
class StoreFaultCampaignIT {
    private static final int BLOCKS = 8192; // a 32 MiB volume

    @TempDir
    Path tmp;

    @Test
    void storeFaultsUnderAnNbdWorkloadLoseNothing() throws Exception {
        int rounds = Integer.getInteger("campaign.rounds", 1);
        long seconds = Long.getLong("campaign.seconds", 10);
        double rate = Double.parseDouble(System.getProperty("campaign.faultRate", "0.1"));
        long seed = Long.getLong("campaign.seed", System.nanoTime());
        SplittableRandom rnd = new SplittableRandom(seed);
        NbdChecker checker = new NbdChecker(BLOCKS, rnd.split());
        String ctx = "store-fault campaign, seed " + seed + " (-Dcampaign.seed=" + seed + ")";
        AtomicLong injected = new AtomicLong();
        long started = System.nanoTime();
        long nbdkitErrors = 0;
        try (S3ProxyFixture proxy = S3ProxyFixture.start()) {
            String bucket = proxy.newBucket();
            cmd(proxy, bucket, "a", "create", "vol", "--size", String.valueOf((long) BLOCKS * NbdChecker.BLOCK)).run().ok();
            for (int round = 1; round <= rounds; round++) {
                String at = ctx + ", round " + round;
                String node = "node-" + round;
                VblockServer server = serve(proxy, bucket, node);
                SplittableRandom faults = rnd.split();
                proxy.inject((method, b, key, query) -> {
                    if (!b.equals(bucket) || key.isEmpty()) {
                        return null;
                    }
                    double x;
                    synchronized (faults) {
                        x = faults.nextDouble();
                    }
                    if (x >= rate) {
                        return null;
                    }
                    injected.incrementAndGet();
                    double kind = x / rate;
                    boolean put = method.equals("PUT");
                    if (kind < 0.2) {
                        return S3ProxyFixture.Answer.error(500, "InternalError");
                    } else if (kind < 0.35) {
                        return S3ProxyFixture.Answer.error(503, "SlowDown");
                    } else if (kind < 0.5) {
                        return S3ProxyFixture.Answer.error(507, "InsufficientStorage");
                    } else if (kind < 0.65) {
                        return S3ProxyFixture.Answer.delay(Duration.ofMillis(20 + (long) (kind * 400)));
                    } else if (kind < 0.75) {
                        return S3ProxyFixture.Answer.drop();
                    } else if (kind < 0.85 && put) {
                        return S3ProxyFixture.Answer.dropAfterStore();
                    }
                    return put ? S3ProxyFixture.Answer.lost(500, "InternalError") : S3ProxyFixture.Answer.error(500, "InternalError");
                });
                long until = System.nanoTime() + Duration.ofSeconds(seconds).toNanos();
                try (TestNbdClient c = TestNbdClient.connect(server.address(), "vol", true)) {
                    // ENOSPC only if the store stays full past the WAL bound; nothing else may fail
                    checker.run(c, () -> System.nanoTime() < until, errno -> errno == Nbd.ENOSPC, at);
                } finally {
                    proxy.inject(null);
                }
                server.stop();
                assertTrue(server.process().exitValue() == 0 || server.process().exitValue() == 143,
                        at + ": the server did not shut down cleanly:\n" + server.logText());

                // another host (data directory) sees it all: it has no WAL of its own
                VblockServer other = serve(proxy, bucket, node + "-reader");
                try (TestNbdClient c = TestNbdClient.connect(other.address(), "vol", true)) {
                    checker.verify(c, at + " (read by another node after the faults)", () -> logOf(other));
                }

                // the client-side view: nbdkit's error and delay filters in front of our server
                int port = freePort();
                Process nbdkit = Tools.cmd("nbdkit", "-f", "-i", "127.0.0.1", "-p", String.valueOf(port), "--filter=error", "--filter=delay",
                        "nbd", "hostname=127.0.0.1", "port=" + other.port(), "export=vol", "error=EIO", "error-rate=" + (int) (rate * 100) + "%",
                        "wdelay=1ms", "rdelay=1ms").start(tmp.resolve("nbdkit-" + round + ".log"));
                try {
                    long until2 = System.nanoTime() + Duration.ofSeconds(Math.max(2, seconds / 2)).toNanos();
                    long before = checker.errors;
                    try (TestNbdClient c = connectWhenUp(new InetSocketAddress("127.0.0.1", port))) {
                        checker.run(c, () -> System.nanoTime() < until2, errno -> errno == Nbd.EIO, at + " (through nbdkit)");
                    }
                    nbdkitErrors += checker.errors - before;
                } finally {
                    Tools.stop(nbdkit, Duration.ofSeconds(10));
                }
                try (TestNbdClient c = TestNbdClient.connect(other.address(), "vol", true)) {
                    checker.verify(c, at + " (after nbdkit's injected errors)", () -> logOf(other));
                }
                other.stop();
            }
        }
        assertTrue(injected.get() > 0, ctx + ": no store fault was injected");
        assertTrue(nbdkitErrors > 0, ctx + ": nbdkit injected no error");
        double secs = (System.nanoTime() - started) / 1e9;
        String summary = String.format(java.util.Locale.ROOT,
                "{\"campaign\":\"store-faults\",\"store\":\"s3proxy\",\"rounds\":%d,\"storeFaultsInjected\":%d,\"nbdkitErrorsInjected\":%d,"
                        + "\"acknowledgedRequests\":%d,\"dataErrors\":0,\"seed\":%d,\"seconds\":%.1f,\"finished\":\"%s\"}%n",
                rounds, injected.get(), nbdkitErrors, checker.acknowledged, seed, secs, Instant.now());
        System.out.print(summary);
        Files.writeString(Path.of("target", "campaign-storefaults.json"), summary, StandardCharsets.UTF_8);
    }

    private Tools.Cmd cmd(S3ProxyFixture proxy, String bucket, String node, String... args) {
        return Tools.exec(VblockServer.VBLOCK, args)
                .env("VB_DATA", tmp.resolve(node).toString())
                .env("VB_STORE", "s3://" + bucket + "/vb/")
                .env("AWS_ENDPOINT_URL", proxy.endpoint().toString())
                .env("AWS_REGION", "us-east-1")
                .env("AWS_ACCESS_KEY_ID", S3ProxyFixture.IDENTITY)
                .env("AWS_SECRET_ACCESS_KEY", S3ProxyFixture.CREDENTIAL)
                .timeout(Duration.ofMinutes(2));
    }

    private VblockServer serve(S3ProxyFixture proxy, String bucket, String node) throws Exception {
        return VblockServer.start(cmd(proxy, bucket, node, "serve", "--listen", "127.0.0.1:0", "vol"),
                Files.createTempFile(tmp, "serve-", ".log"));
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static TestNbdClient connectWhenUp(InetSocketAddress at) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (true) {
            try {
                return TestNbdClient.connect(at, "", true);
            } catch (IOException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(50);
            }
        }
    }

    private static String logOf(VblockServer s) {
        try {
            return s.logText();
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }
}
