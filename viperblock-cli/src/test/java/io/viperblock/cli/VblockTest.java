package io.viperblock.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
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
        assertTrue(i.out().contains("size:       67108864") && i.out().contains("never opened"), i.out());
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
}
