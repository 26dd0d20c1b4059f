package io.viperblock.nbd.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Whole-disk copies with {@code nbdcopy} and {@code qemu-img convert}, in and out, compared by SHA-256. */
class CopyTest {
    private static final long BIG = 256L << 20;
    private static final long SMALL = 32L << 20;
    private static final Duration T = Duration.ofSeconds(120);

    @RegisterExtension
    final NbdFixture nbd = NbdFixture.fileStore().volume("big", BIG).volume("small", SMALL);

    /** A file of {@code size} random bytes; where {@code zeroEvery} > 0, every such MiB is zeros instead. */
    private static Path randomFile(Path f, long size, SplittableRandom r, int zeroEvery) throws IOException {
        byte[] buf = new byte[1 << 20];
        try (OutputStream out = Files.newOutputStream(f)) {
            for (long done = 0, mib = 0; done < size; done += buf.length, mib++) {
                if (zeroEvery > 0 && mib % zeroEvery == 1) {
                    java.util.Arrays.fill(buf, (byte) 0);
                } else {
                    Tools.fill(r, buf, 0, buf.length);
                }
                out.write(buf, 0, (int) Math.min(buf.length, size - done));
            }
        }
        return f;
    }

    private static Path emptyFile(Path f, long size) throws IOException {
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(size);
        }
        return f;
    }

    /** 256 MiB of random data in, the server restarted, and back out. */
    @Test
    void nbdcopy256MiBInAndOut() throws Exception {
        SplittableRandom r = Tools.random("nbdcopy256MiBInAndOut");
        Path src = randomFile(nbd.dir().resolve("src.img"), BIG, r, 0);
        Tools.cmd("nbdcopy", "--flush", src.toString(), nbd.uri("big")).timeout(T).run().ok();
        nbd.restart(); // the volume is closed (consolidated into the store) and reopened on a new port
        Path out = emptyFile(nbd.dir().resolve("out.img"), BIG);
        Tools.cmd("nbdcopy", nbd.uri("big"), out.toString()).timeout(T).run().ok();
        assertEquals(Tools.sha256(src), Tools.sha256(out), "256 MiB copied in and out with nbdcopy");
    }

    /**
     * nbdcopy turns runs of zeros into zero requests, which this server stores as holes: the
     * volume's map shows them, and a copy back out is identical and sparse.
     */
    @Test
    void nbdcopyKeepsHoles() throws Exception {
        SplittableRandom r = Tools.random("nbdcopyKeepsHoles");
        // fill the volume first, so zeros have to be written, not assumed
        Tools.cmd("qemu-io", "-f", "raw", nbd.uri("small"), "-c", "write -P 0xff 0 " + SMALL).timeout(T).run().ok();
        Path src = randomFile(nbd.dir().resolve("sparse-src.img"), SMALL, r, 4); // MiB 1, 5, 9, ... are zeros
        Tools.cmd("nbdcopy", src.toString(), nbd.uri("small")).timeout(T).run().ok();
        JsonNode map = Tools.json(Tools.cmd("nbdinfo", "--map", "--json", nbd.uri("small")).timeout(T).run().ok().out());
        long holes = 0;
        for (JsonNode e : map) {
            if (e.get("type").asInt() == 3) {
                long off = e.get("offset").asLong();
                long len = e.get("length").asLong();
                assertEquals(1, (off >> 20) % 4, "a hole at " + off + " outside the zero MiBs: " + map);
                assertEquals(off >> 20, (off + len - 1) >> 20, "a hole spanning MiBs: " + e);
                holes += len;
            }
        }
        assertEquals(SMALL / 4, holes, "every zero MiB is a hole: " + map);
        Path out = emptyFile(nbd.dir().resolve("sparse-out.img"), SMALL);
        Tools.cmd("nbdcopy", nbd.uri("small"), out.toString()).timeout(T).run().ok();
        assertEquals(Tools.sha256(src), Tools.sha256(out));
        long blocks = Long.parseLong(Tools.cmd("stat", "-c", "%b", out.toString()).timeout(T).run().ok().out().trim());
        assertTrue(blocks * 512 <= SMALL * 3 / 4 + (1 << 20), "the copy out is sparse: " + blocks + " blocks of 512");
    }

    @Test
    void qemuImgConvertRawInAndOut() throws Exception {
        SplittableRandom r = Tools.random("qemuImgConvertRawInAndOut");
        Path src = randomFile(nbd.dir().resolve("src.raw"), SMALL, r, 3);
        Tools.cmd("qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", src.toString(), nbd.uri("small")).timeout(T).run().ok();
        Path out = nbd.dir().resolve("out.raw");
        Tools.cmd("qemu-img", "convert", "-f", "raw", "-O", "raw", nbd.uri("small"), out.toString()).timeout(T).run().ok();
        assertEquals(Tools.sha256(src), Tools.sha256(out), "raw converted in and out with qemu-img");
        Tools.cmd("qemu-img", "compare", "-f", "raw", "-F", "raw", src.toString(), nbd.uri("small")).timeout(T).run().ok();
    }

    /** A small qcow2 image written with qemu-io, converted into a volume that held other data. */
    @Test
    void qemuImgConvertQcow2In() throws Exception {
        String u = nbd.uri("small");
        Tools.cmd("qemu-io", "-f", "raw", u, "-c", "write -P 0xee 0 " + SMALL).timeout(T).run().ok();
        Path q = nbd.dir().resolve("small.qcow2");
        Tools.cmd("qemu-img", "create", "-f", "qcow2", q.toString(), String.valueOf(SMALL)).timeout(T).run().ok();
        Tools.cmd("qemu-io", "-f", "qcow2", q.toString(), "-c", "write -P 0x5a 1M 512k", "-c", "write -P 0xa5 10M 64k",
                "-c", "write -P 0x3c 31M 1M").timeout(T).run().ok();
        Tools.cmd("qemu-img", "convert", "-n", "-f", "qcow2", "-O", "raw", q.toString(), u).timeout(T).run().ok();
        Tools.cmd("qemu-io", "-f", "raw", u,
                "-c", "read -P 0 0 1M",
                "-c", "read -P 0x5a 1M 512k",
                "-c", "read -P 0 1536k 8704k",
                "-c", "read -P 0xa5 10M 64k",
                "-c", "read -P 0 10304k 21440k",
                "-c", "read -P 0x3c 31M 1M").timeout(T).run().ok();
        Tools.cmd("qemu-img", "compare", "-f", "qcow2", "-F", "raw", q.toString(), u).timeout(T).run().ok();
    }
}
