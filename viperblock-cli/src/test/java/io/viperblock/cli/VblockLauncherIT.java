package io.viperblock.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.viperblock.core.format.ChunkFooter;
import io.viperblock.core.testing.Seeds;
import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every operator command end to end, through {@code bin/vblock} as a user types it, on a file
 * store in a temporary directory (VB_STORE, VB_DATA). Runs after package (see the pom): the
 * launcher needs the jar and target/lib.
 */
class VblockLauncherIT {
    private static final int B = 4096;
    private static final Path VBLOCK = Path.of(System.getProperty("user.dir")).getParent().resolve("bin/vblock");

    @TempDir
    Path tmp;

    record Run(int code, String out, String err) {
        Map<String, Object> json() {
            return MiniJson.object(out);
        }
    }

    private Run vblock(String... args) throws Exception {
        return vblock(Map.of(), args);
    }

    private Run vblock(Map<String, String> env, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(VBLOCK.toString()));
        cmd.addAll(List.of(args));
        return run(cmd, env);
    }

    private Run run(List<String> cmd, Map<String, String> env) throws Exception {
        Path out = Files.createTempFile(tmp, "out-", ".txt");
        Path err = Files.createTempFile(tmp, "err-", ".txt");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.environment().put("VB_STORE", "file:" + tmp.resolve("store"));
        pb.environment().put("VB_DATA", tmp.resolve("node").toString());
        pb.environment().putAll(env);
        Process p = pb.start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail(String.join(" ", cmd) + " ran over 120 s");
        }
        return new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
    }

    private static Run ok(Run r) {
        assertEquals(0, r.code(), "stdout:\n" + r.out() + "\nstderr:\n" + r.err());
        assertEquals("", r.err(), "nothing on stderr when all is well (and no progress bar off a terminal)");
        return r;
    }

    /** The tool's path; a missing tool fails under CI=true and skips the test elsewhere. */
    private static String tool(String name) {
        for (String d : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(File.pathSeparator)) {
            Path p = Path.of(d, name);
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        String msg = "tool \"" + name + "\" is not installed (Debian: qemu-utils)";
        if ("true".equalsIgnoreCase(System.getenv("CI"))) {
            fail(msg + "; CI=true, so this is a failure, not a skip");
        }
        Assumptions.abort(msg);
        return null;
    }

    /** A raw image of seeded random data regions between zero regions; returns its bytes. */
    private static byte[] image(Path file, SplittableRandom r, int size) throws IOException {
        byte[] img = new byte[size];
        for (int at = r.nextInt(4) * B; at < size; ) {
            int len = Math.min(size - at, (1 + r.nextInt(600)) * B);
            byte[] data = Seeds.bytes(r, len);
            System.arraycopy(data, 0, img, at, len);
            at += len + (1 + r.nextInt(400)) * B; // then a hole
        }
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(size);
            for (int at = 0; at < size; at += B) { // written sparsely, as a real sparse image would be
                if (!isZero(img, at)) {
                    f.seek(at);
                    f.write(img, at, B);
                }
            }
        }
        return img;
    }

    private static boolean isZero(byte[] a, int at) {
        for (int i = at; i < at + B; i++) {
            if (a[i] != 0) {
                return false;
            }
        }
        return true;
    }

    private static long dataBytes(byte[] img) {
        long n = 0;
        for (int at = 0; at < img.length; at += B) {
            n += isZero(img, at) ? 0 : B;
        }
        return n;
    }

    /** Bytes the file system allocated to a file (stat's 512-byte blocks). */
    private long allocated(Path f) throws Exception {
        Run r = run(List.of(tool("stat"), "-c", "%b", f.toString()), Map.of());
        return Long.parseLong(r.out().strip()) * 512;
    }

    private List<Path> objects(String volume, String dir) throws IOException {
        try (Stream<Path> s = Files.list(tmp.resolve("store/volumes/" + volume + "/" + dir))) {
            return s.filter(p -> !p.getFileName().toString().startsWith(".")).sorted().toList();
        }
    }

    private static long num(Map<String, Object> m, String key) {
        return ((Number) m.get(key)).longValue();
    }

    @Test
    void rawImportExportKeepsHolesAndCheckFindsDamage() throws Exception {
        int size = 24 << 20;
        Path img = tmp.resolve("disk.img");
        byte[] bytes = image(img, Seeds.random("rawImportExport"), size);
        long data = dataBytes(bytes);
        assertTrue(data > 5 << 20 && data < size, "the image has data (more than one chunk's worth) and holes: " + data);

        Map<String, Object> imported = ok(vblock("import", img.toString(), "vol1", "--create", "--json")).json();
        assertEquals((long) size, num(imported, "bytes"));
        assertEquals(size - data, num(imported, "holes"));
        assertEquals("raw", imported.get("format"));

        Map<String, Object> info = ok(vblock("info", "vol1", "--json")).json();
        assertEquals((long) size, num(info, "size"));
        assertEquals(data, num(info, "allocatedBytes"), "the holes stay holes in the store");
        assertEquals(data, num(info, "storedBytes"));
        assertEquals(0L, num(info, "pendingWalBytes"));
        assertEquals(false, info.get("open"));
        assertTrue(num(info, "chunks") >= 1);
        @SuppressWarnings("unchecked")
        Map<String, Object> lease = (Map<String, Object>) info.get("lease");
        assertEquals(true, lease.get("released"));
        assertEquals(null, info.get("parent"));

        Path out = tmp.resolve("out.raw");
        Run exported = ok(vblock("export", "vol1", out.toString()));
        assertTrue(exported.out().startsWith("exported vol1 to " + out + " (raw): " + size + " bytes, " + (size - data) + " in holes skipped"),
                exported.out());
        assertArrayEquals(bytes, Files.readAllBytes(out));
        assertEquals(size, Files.size(out));
        assertTrue(allocated(out) <= data + (1 << 20), "the export is sparse: " + allocated(out) + " bytes allocated for " + data + " of data");

        Map<String, Object> clean = ok(vblock("check", "vol1", "--json")).json();
        assertEquals(true, clean.get("clean"));
        assertEquals(List.of(), clean.get("problems"));

        // damage: a flipped byte in a block of a chunk (where its footer says the block lies: the
        // chunk may be a WAL segment, FORMATS.md), then that chunk deleted
        Path flipped = objects("vol1", "chunks").get(0);
        String flippedKey = "volumes/vol1/chunks/" + flipped.getFileName();
        ChunkFooter footer = ChunkFooter.parseObject(ByteBuffer.wrap(Files.readAllBytes(flipped)), flippedKey);
        int slot = 3;
        while (footer.block(slot) < 0) {
            slot++;
        }
        try (RandomAccessFile f = new RandomAccessFile(flipped.toFile(), "rw")) {
            f.seek(footer.dataOffset(slot) + 100);
            int b = f.read();
            f.seek(footer.dataOffset(slot) + 100);
            f.write(b ^ 0x01);
        }
        Run damaged = vblock("check", "vol1");
        assertEquals(1, damaged.code(), damaged.out() + damaged.err());
        assertTrue(damaged.out().contains("chunk " + flippedKey + ": bad checksum of data block " + slot), damaged.out());
        Files.delete(flipped);
        Run missing = vblock("check", "vol1");
        assertEquals(1, missing.code(), missing.out() + missing.err());
        assertTrue(missing.out().contains(flippedKey + " at offset 0: missing chunk"), missing.out());
    }

    @Test
    void repairRebuildsADeletedMapAndTheVolumeReadsBackIdentically() throws Exception {
        int size = 12 << 20;
        Path img = tmp.resolve("disk.img");
        byte[] bytes = image(img, Seeds.random("repair"), size);
        ok(vblock("import", img.toString(), "vol2", "--create"));
        List<Path> map = objects("vol2", "map");
        assertFalse(map.isEmpty());
        for (Path p : map) {
            Files.delete(p);
        }
        Run broken = vblock("check", "vol2");
        assertEquals(1, broken.code(), broken.out() + broken.err());
        assertTrue(broken.out().contains("no map object"), broken.out());

        Map<String, Object> repaired = ok(vblock("check", "vol2", "--repair", "--json")).json();
        assertEquals(false, repaired.get("clean"), "it reports what it found before repairing");
        @SuppressWarnings("unchecked")
        Map<String, Object> repair = (Map<String, Object>) repaired.get("repair");
        assertEquals(dataBytes(bytes) / B, num(repair, "mappedBlocks"));
        assertEquals(0L, num(repair, "lostBlocks"));

        Path out = tmp.resolve("out.raw");
        ok(vblock("export", "vol2", out.toString()));
        assertArrayEquals(bytes, Files.readAllBytes(out));
    }

    @Test
    void resizeGrowsWithZerosRefusesShrinkAndDrainReportsNothingToMove() throws Exception {
        Path img = tmp.resolve("small.img");
        byte[] bytes = Seeds.bytes(Seeds.random("resize"), 1 << 20);
        Files.write(img, bytes);
        ok(vblock("import", img.toString(), "vol3", "--create"));
        Run grown = ok(vblock("resize", "vol3", "--size", "3M"));
        assertEquals("resized volume vol3 from 1048576 to 3145728 bytes (3.0 MiB)\n", grown.out());
        Run shrink = vblock("resize", "vol3", "--size", "2M");
        assertEquals(2, shrink.code());
        assertEquals("vblock: volume \"vol3\" is 3145728 bytes; shrinking to 2097152 would cut off data, so it is refused (volumes only grow)\n",
                shrink.err());
        Map<String, Object> drained = ok(vblock("drain", "vol3", "--json")).json();
        assertEquals(0L, num(drained, "chunks"));
        Path out = tmp.resolve("out.raw");
        ok(vblock("export", "vol3", out.toString()));
        byte[] expected = Arrays.copyOf(bytes, 3 << 20);
        assertArrayEquals(expected, Files.readAllBytes(out), "the new range reads as zeros");
    }

    @Test
    void drainMovesTheWalAKilledServerLeftBehind() throws Exception {
        String qemuIo = tool("qemu-io");
        ok(vblock("create", "vol4", "--size", "16M"));
        Path sock = tmp.resolve("nbd.sock");
        Path log = tmp.resolve("serve.log");
        ProcessBuilder pb = new ProcessBuilder(VBLOCK.toString(), "serve", "vol4", "--no-tcp", "--socket", sock.toString())
                .redirectErrorStream(true).redirectOutput(log.toFile()).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.environment().put("VB_STORE", "file:" + tmp.resolve("store"));
        pb.environment().put("VB_DATA", tmp.resolve("node").toString());
        Process serve = pb.start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!Files.readString(log).contains("serving nbd+unix")) {
                assertTrue(serve.isAlive() && System.nanoTime() < deadline, "serve did not start: " + Files.readString(log));
                Thread.sleep(50);
            }
            String uri = "nbd+unix:///vol4?socket=" + sock;
            Run w = run(List.of(qemuIo, "-f", "raw", "-c", "write -P 0x5a 1M 3M", "-c", "flush", uri), Map.of());
            assertEquals(0, w.code(), w.out() + w.err());
        } finally {
            serve.destroyForcibly(); // kill -9: the WAL stays on this node, the lease stays taken
            serve.waitFor(30, TimeUnit.SECONDS);
        }
        Map<String, Object> before = ok(vblock("info", "vol4", "--json")).json();
        assertEquals(true, before.get("open"), "the dead server's lease is still in force");
        assertEquals(3L << 20, num(before, "pendingWriteBytes"));
        assertEquals(3L << 20, num(before, "allocatedBytes"));
        assertTrue(num(before, "pendingWalBytes") >= 3L << 20);

        Map<String, Object> drained = ok(vblock("drain", "vol4", "--json")).json();
        assertTrue(num(drained, "chunks") >= 1);
        assertEquals(3L << 20, num(drained, "chunkBytes") / (B + 24) * B, "3 MiB of blocks moved into chunks");

        Map<String, Object> after = ok(vblock("info", "vol4", "--json")).json();
        assertEquals(false, after.get("open"));
        assertEquals(0L, num(after, "pendingWalBytes"));
        assertEquals(3L << 20, num(after, "storedBytes"));
    }

    @Test
    void qcow2RoundTripThroughQemuImg() throws Exception {
        String qemuImg = tool("qemu-img");
        String qemuIo = tool("qemu-io");
        Path src = tmp.resolve("src.qcow2");
        assertEquals(0, run(List.of(qemuImg, "create", "-q", "-f", "qcow2", src.toString(), "20M"), Map.of()).code());
        Run w = run(List.of(qemuIo, "-f", "qcow2", "-c", "write -P 0xab 1M 2M", "-c", "write -P 0x5c 9M 64k", "-c", "write -P 0x01 19M 4k",
                src.toString()), Map.of());
        assertEquals(0, w.code(), w.out() + w.err());

        Map<String, Object> imported = ok(vblock("import", src.toString(), "q", "--create", "--json")).json();
        assertEquals("qcow2", imported.get("format"), "detected by its magic bytes");
        assertEquals(20L << 20, num(imported, "bytes"));
        Map<String, Object> info = ok(vblock("info", "q", "--json")).json();
        assertEquals(20L << 20, num(info, "size"));
        assertEquals((2L << 20) + (64 << 10) + B, num(info, "allocatedBytes"));

        Path out = tmp.resolve("out.qcow2");
        ok(vblock("export", "q", out.toString(), "--format", "qcow2"));
        Run cmp = run(List.of(qemuImg, "compare", "-f", "qcow2", "-F", "qcow2", src.toString(), out.toString()), Map.of());
        assertEquals(0, cmp.code(), cmp.out() + cmp.err());
        Run fmt = run(List.of(qemuImg, "info", out.toString()), Map.of());
        assertTrue(fmt.out().contains("file format: qcow2"), fmt.out());
    }

    @Test
    void jsonOutputAndJsonLogsStayApart() throws Exception {
        Map<String, String> env = new HashMap<>(Map.of("VB_LOG_LEVEL", "INFO"));
        Run r = vblock(env, "create", "logged", "--size", "1M", "--json", "--log-format", "json");
        assertEquals(0, r.code(), r.err());
        Map<String, Object> doc = r.json();
        assertEquals("logged", doc.get("name"));
        assertEquals(1L << 20, num(doc, "size"));
        List<String> lines = r.err().lines().toList();
        assertFalse(lines.isEmpty(), "INFO logs on stderr");
        for (String line : lines) {
            Map<String, Object> event = MiniJson.object(line);
            assertEquals("INFO", event.get("level"), line);
        }
        assertTrue(lines.stream().map(MiniJson::object)
                .anyMatch(e -> String.valueOf(e.get("formattedMessage")).startsWith("created volume logged (1048576 bytes) in file:")), r.err());
        Run list = ok(vblock("list", "--json"));
        assertEquals(List.of(Map.of("name", "logged", "size", 1L << 20, "created", doc.get("created"))), list.json().get("volumes"));
    }
}
