package io.viperblock.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.viperblock.core.io.NioFs;
import io.viperblock.core.volume.Volume;
import io.viperblock.core.volume.VolumeConfig;
import io.viperblock.core.volume.VolumeManager;
import io.viperblock.nbd.server.Tools;
import io.viperblock.s3.S3ProxyFixture;
import io.viperblock.s3.S3Store;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.jclouds.blobstore.options.ListContainerOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bin/vblock serve} on an S3 store (s3proxy in this JVM, so it outlives the servers):
 * kill -9 and restart lose nothing; two servers with their own data directories stand in for two
 * hosts, and a forced takeover fences the first.
 */
class ServeS3IT {
    private static S3ProxyFixture proxy;

    @TempDir
    Path tmp;

    @BeforeAll
    static void startProxy() throws Exception {
        proxy = S3ProxyFixture.start();
    }

    @AfterAll
    static void stopProxy() throws Exception {
        proxy.close();
    }

    private Tools.Cmd vblock(String bucket, Path data, String... args) {
        return Tools.exec(VblockServer.VBLOCK, args)
                .env("VB_STORE", "s3://" + bucket + "/vb/")
                .env("VB_DATA", data.toString())
                .env("AWS_ENDPOINT_URL", proxy.endpoint().toString())
                .env("AWS_REGION", "us-east-1")
                .env("AWS_ACCESS_KEY_ID", S3ProxyFixture.IDENTITY)
                .env("AWS_SECRET_ACCESS_KEY", S3ProxyFixture.CREDENTIAL)
                .timeout(Duration.ofMinutes(2));
    }

    private VblockServer serve(String bucket, Path data, String name, String... extra) throws Exception {
        String[] args = new String[extra.length + 4];
        args[0] = "serve";
        System.arraycopy(extra, 0, args, 1, extra.length);
        args[extra.length + 1] = "--listen";
        args[extra.length + 2] = "127.0.0.1:0";
        args[extra.length + 3] = name;
        return VblockServer.start(vblock(bucket, data, args), Files.createTempFile(tmp, "serve-", ".log"));
    }

    @Test
    void killDashNineThenRestartLosesNothing() throws Exception {
        Tools.requireAll("nbdcopy");
        String bucket = proxy.newBucket();
        Path data = tmp.resolve("node");
        vblock(bucket, data, "create", "vol", "--size", "64M").run().ok();
        byte[] image = new byte[64 << 20];
        SplittableRandom rnd = new SplittableRandom(Long.getLong("vb.seed", 42));
        for (int off = 0; off < image.length; off += 1 << 20) {
            if (rnd.nextInt(4) != 0) { // a quarter of the MiBs stay zero
                Tools.fill(rnd, image, off, off + (1 << 20));
            }
        }
        Path in = tmp.resolve("in.img");
        Files.write(in, image);

        VblockServer s = serve(bucket, data, "vol");
        Tools.cmd("nbdcopy", in.toString(), s.uri("vol")).run().ok(); // no --flush: acknowledged is enough
        s.kill();

        VblockServer again = serve(bucket, data, "vol");
        try {
            Path out = tmp.resolve("out.img");
            Tools.cmd("nbdcopy", again.uri("vol"), out.toString()).run().ok();
            assertEquals(Tools.sha256(in), Tools.sha256(out), "the copy read back after kill -9 differs:\n" + again.logText());
        } finally {
            again.stop();
        }
    }

    @Test
    void aForcedTakeoverFencesTheOtherServer() throws Exception {
        Tools.requireAll("nbdsh");
        String bucket = proxy.newBucket();
        Path nodeA = tmp.resolve("node-a");
        Path nodeB = tmp.resolve("node-b");
        vblock(bucket, nodeA, "create", "vol", "--size", "16M").run().ok();
        VblockServer a = serve(bucket, nodeA, "vol");
        VblockServer b = null;
        try {
            nbdsh(a.uri("vol"), "h.pwrite(b'A' * 4096, 0); h.flush()").run().ok();
            awaitMapDelta(bucket); // A's consolidation has stored it (the seal comes after 5 s)

            Tools.Result refused = vblock(bucket, nodeB, "serve", "--listen", "127.0.0.1:0", "vol").run();
            assertEquals(1, refused.exit(), refused.describe("should have been refused"));
            assertTrue(refused.err().contains("is open by") && refused.err().contains("close it there first"), refused.err());

            b = serve(bucket, nodeB, "vol", "--force-takeover");

            // A still acknowledges writes into its WAL until its next consolidation finds the lease
            // gone; from then on it refuses them with EPERM.
            String loop = String.join("\n",
                    "import time",
                    "deadline = time.time() + 60",
                    "while True:",
                    "    try:",
                    "        h.pwrite(b'X' * 4096, 4096)",
                    "        h.flush()",
                    "    except nbd.Error as e:",
                    "        print('refused', e.errno)",
                    "        break",
                    "    if time.time() > deadline:",
                    "        print('never refused')",
                    "        break",
                    "    time.sleep(0.2)");
            Tools.Result fenced = nbdsh(a.uri("vol"), loop).timeout(Duration.ofSeconds(90)).run().ok();
            assertEquals("refused EPERM", fenced.out().strip(), fenced.describe("A should refuse writes with EPERM") + "\n" + a.logText());
            assertTrue(a.logText().contains("was taken over by"), a.logText());

            String check = "assert h.pread(4096, 0) == b'A' * 4096; assert h.pread(4096, 4096) == bytes(4096); h.pwrite(b'B' * 4096, 8192); h.flush()";
            nbdsh(b.uri("vol"), check).run().ok();
        } finally {
            a.stop();
            if (b != null) {
                b.stop(); // drains and releases the lease
            }
        }
        // A's host opens it again: its WAL (the writes B never saw) is stale and is discarded.
        try (S3Store store = new S3Store(proxy.config(bucket, "vb/"))) {
            VolumeManager again = new VolumeManager(store, nodeA, NioFs.INSTANCE, VolumeConfig.defaults());
            try (Volume v = again.open("vol")) {
                byte[] want = new byte[3 * 4096];
                Arrays.fill(want, 0, 4096, (byte) 'A');
                Arrays.fill(want, 8192, 3 * 4096, (byte) 'B');
                assertArrayEquals(want, v.read(0, 3 * 4096));
            }
        }
    }

    /** nbdsh with the system's python, which has the libnbd module (not a python of the user's). */
    private static Tools.Cmd nbdsh(String uri, String script) {
        return Tools.cmd("nbdsh", "-u", uri, "-c", script).env("PATH", "/usr/bin:/bin");
    }

    private static void awaitMapDelta(String bucket) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            boolean found = proxy.blobStore().list(bucket, ListContainerOptions.Builder.prefix("vb/volumes/vol/map/").recursive())
                    .stream().anyMatch(m -> m.getName().endsWith(".delta"));
            if (found) {
                return;
            }
            Thread.sleep(100);
        }
        fail("no map delta in the store after 30 s");
    }
}
