package io.viperblock.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import io.viperblock.core.store.FileStore;
import io.viperblock.core.volume.Volume;
import io.viperblock.core.volume.VolumeManager;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The vblock commands in-process: output, exit codes, and one-line errors. */
class VblockTest {
    @TempDir
    Path tmp;

    record Result(int code, String out, String err) {}

    private Result run(String... args) {
        String[] full = new String[args.length + 4];
        System.arraycopy(args, 0, full, 0, args.length);
        full[args.length] = "--store";
        full[args.length + 1] = "file:" + tmp.resolve("store");
        full[args.length + 2] = "--data";
        full[args.length + 3] = tmp.resolve("data").toString();
        return runExact(full);
    }

    private Result runExact(String... full) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = Vblock.run(full);
            return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @Test
    void createListInfoDelete() {
        Result c = run("create", "vol1", "--size", "64M");
        assertEquals(0, c.code(), c.err());
        assertTrue(c.out().contains("created volume vol1 (67108864 bytes)"), c.out());
        Result l = run("list");
        assertEquals(0, l.code());
        assertTrue(l.out().contains("vol1") && l.out().contains("67108864"), l.out());
        Result i = run("info", "vol1");
        assertEquals(0, i.code());
        assertTrue(i.out().contains("size:        67108864 (64.0 MiB)") && i.out().contains("lease:       not open (never opened)"), i.out());
        assertTrue(i.out().contains("allocated:   0 (0 in the store, 0 written to this node's WAL"), i.out());
        Result d = run("delete", "vol1");
        assertEquals(0, d.code(), d.err());
        assertFalse(run("list").out().contains("vol1"));
    }

    @Test
    void errorsAreOneClearLineWithTheRightExitCode() {
        assertEquals(0, run("create", "vol1", "--size", "1G").code());
        Result dup = run("create", "vol1", "--size", "1G");
        assertEquals(1, dup.code());
        assertEquals("vblock: volume \"vol1\" already exists in file:" + tmp.resolve("store"), dup.err().strip());
        Result badSize = run("create", "vol2", "--size", "12Q");
        assertEquals(2, badSize.code());
        assertTrue(badSize.err().startsWith("vblock: bad size \"12Q\""), badSize.err());
        Result unaligned = run("create", "vol2", "--size", "1000");
        assertEquals(2, unaligned.code());
        assertTrue(unaligned.err().contains("multiple of 4096"), unaligned.err());
        Result badName = run("create", "../etc", "--size", "1M");
        assertEquals(2, badName.code());
        assertTrue(badName.err().contains("invalid volume name"), badName.err());
        Result missing = run("info", "nope");
        assertEquals(1, missing.code());
        assertTrue(missing.err().contains("\"nope\" does not exist"), missing.err());
        assertFalse(missing.err().contains("\tat "), "no stack trace without --debug");
        Result usage = run("create", "vol3");
        assertEquals(2, usage.code());
        assertTrue(usage.err().contains("--size"), usage.err());
        Result store = runExact("list", "--store", "ftp://x", "--data", tmp.resolve("data").toString());
        assertEquals(2, store.code());
        assertTrue(store.err().contains("unknown store URI"), store.err());
    }

    @Test
    void everyCommandHasHelp() {
        for (String cmd : List.of("create", "list", "info", "delete", "resize", "drain", "import", "export", "check", "serve")) {
            Result r = runExact(cmd, "--help");
            assertEquals(0, r.code(), cmd);
            assertTrue(r.out().startsWith("Usage: vblock " + cmd), r.out());
            assertTrue(r.out().contains("--json") && r.out().contains("--log-format"), r.out());
        }
    }

    @Test
    void badArgumentsAreOneLineWithExitTwo() throws Exception {
        assertEquals(0, run("create", "vol1", "--size", "1M").code());
        Result[] usage = {
            run("resize", "vol1", "--size", "12Q"),
            run("resize", "vol1"),
            run("import", "x.img", "vol1", "--format", "vhdx"),
            run("export", "vol1", "x.img", "--format", "vmdk"),
            run("list", "--log-format", "xml"),
            run("check"),
            run("serve", "vol1", "--wal-keep", "-1G"),
            run("serve", "vol1", "--wal-keep", "lots"),
        };
        for (Result r : usage) {
            assertEquals(2, r.code(), r.err());
            assertFalse(r.err().contains("\tat "), r.err());
        }
        Result s3 = runExact("list", "--store", "s3://bkt/vb", "--data", tmp.resolve("data").toString());
        assertEquals(2, s3.code(), s3.err());
        assertTrue(s3.err().startsWith("vblock: ") && s3.err().contains("AWS_SECRET_ACCESS_KEY"), s3.err());
        assertEquals(1, s3.err().strip().lines().count(), s3.err());
    }

    @Test
    void failuresAreOneLineWithExitOne() throws Exception {
        assertEquals(0, run("create", "vol1", "--size", "1M").code());
        for (String cmd : List.of("info", "drain", "check", "delete")) {
            Result r = run(cmd, "nope");
            assertEquals(1, r.code(), cmd);
            assertEquals("vblock: volume \"nope\" does not exist in file:" + tmp.resolve("store")
                    + " (list the volumes there, or create it first)", r.err().strip(), cmd);
        }
        Result missing = run("import", tmp.resolve("none.img").toString(), "vol1");
        assertEquals(1, missing.code());
        assertEquals("vblock: cannot read the image " + tmp.resolve("none.img") + ": no such file", missing.err().strip());

        Path big = tmp.resolve("big.img");
        Files.write(big, new byte[(1 << 20) + 4096]);
        Result tooBig = run("import", big.toString(), "vol1");
        assertEquals(1, tooBig.code());
        assertTrue(tooBig.err().contains("larger than volume vol1 (1048576 bytes); nothing was written. Grow the volume first: "
                + "vblock resize vol1 --size 1052672"), tooBig.err());
        Result debug = run("import", big.toString(), "vol1", "--debug");
        assertTrue(debug.err().contains("\tat io.viperblock.cli.ImportImage"), "--debug adds the stack trace");
    }

    @Test
    void aVolumeOpenOnAnotherNodeCanBeInspectedButNotChanged() throws Exception {
        assertEquals(0, run("create", "vol1", "--size", "1M").code());
        VolumeManager other = new VolumeManager(new FileStore(tmp.resolve("store")), tmp.resolve("other-node"));
        try (Volume v = other.open("vol1")) {
            v.write(0, new byte[8192], false);
            v.drain();
            Result info = run("info", "vol1", "--json");
            assertEquals(0, info.code(), info.err());
            Map<String, Object> doc = MiniJson.object(info.out());
            assertEquals(true, doc.get("open"));
            assertEquals(8192L, doc.get("storedBytes"));
            assertEquals(other.nodeId(), ((Map<?, ?>) doc.get("lease")).get("holder"));
            for (String[] cmd : List.of(new String[] {"resize", "vol1", "--size", "2M"}, new String[] {"drain", "vol1"},
                    new String[] {"export", "vol1", tmp.resolve("x.raw").toString()}, new String[] {"delete", "vol1"})) {
                Result r = run(cmd);
                assertEquals(1, r.code(), String.join(" ", cmd));
                assertTrue(r.err().startsWith("vblock: volume \"vol1\" is open by " + other.nodeId() + " (pid "), r.err());
                assertTrue(r.err().strip().endsWith("close it there first"), r.err());
            }
            Result check = run("check", "vol1");
            assertEquals(0, check.code(), check.out() + check.err());
            assertTrue(check.out().contains("vol1: 0 problems in 1 chunks (2 blocks) and 1 map objects"), check.out());
        }
        assertEquals(1048576L, MiniJson.object(run("info", "vol1", "--json").out()).get("size"), "nothing was changed");
    }
}
