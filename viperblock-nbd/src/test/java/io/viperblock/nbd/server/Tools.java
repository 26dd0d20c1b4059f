package io.viperblock.nbd.server;

import static org.junit.jupiter.api.Assertions.fail;

import io.viperblock.core.testing.Requirements;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * External tools for the integration tests: finding them, and running them with a timeout.
 *
 * <p>A missing tool skips the test (an assumption naming the tool), except when {@code CI=true}:
 * there the tools are part of the environment, so a missing one fails the test.
 *
 * <p>Every command runs with a timeout; one that overruns is killed (it and the processes it
 * started, by their handles) and the test fails. Output goes to files, never to a pipe that could
 * fill up.
 */
public final class Tools {
    private Tools() {}

    /** The absolute path of {@code tool}, or null. */
    public static Path find(String tool) {
        return Requirements.findTool(tool);
    }

    /**
     * The absolute path of each tool, in order. A missing tool fails the test when {@code CI=true},
     * otherwise skips it.
     */
    public static Path require(String tool) {
        return Requirements.tool(tool, "libnbd-bin, python3-libnbd, qemu-utils, fio, e2fsprogs, fuse3");
    }

    /** Requires every tool named. */
    public static void requireAll(String... tools) {
        for (String t : tools) {
            require(t);
        }
    }

    /** Requires a device node (/dev/fuse, /dev/loop-control) the same way as a tool. */
    public static void requireDevice(String device) {
        if (!Files.exists(Path.of(device))) {
            Requirements.unmet("device " + device + " is not available");
        }
    }

    /** Requires running as root (mount, loop devices), the same way as a tool. */
    public static void requireRoot() throws IOException {
        Object uid = Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        if (!Integer.valueOf(0).equals(uid)) {
            Requirements.unmet("this test needs root (mount -o loop); running as uid " + uid);
        }
    }

    /** What a finished command left. */
    public record Result(List<String> command, int exit, String out, String err, Duration took) {
        /** Asserts exit status 0, showing the command and its output otherwise. */
        public Result ok() {
            if (exit != 0) {
                fail(describe("exited with " + exit));
            }
            return this;
        }

        /** Asserts a non-zero exit status. */
        public Result failed() {
            if (exit == 0) {
                fail(describe("exited with 0, but a failure was expected"));
            }
            return this;
        }

        public String describe(String what) {
            return String.join(" ", command) + " " + what + " after " + took.toMillis() + " ms\n--- stdout:\n" + tail(out)
                    + "\n--- stderr:\n" + tail(err);
        }

        private static String tail(String s) {
            return s.length() <= 8000 ? s : "...\n" + s.substring(s.length() - 8000);
        }
    }

    /** A command line to run; {@link #run} waits for it, {@link #start} leaves it running. */
    public static final class Cmd {
        private final List<String> args = new ArrayList<>();
        private final Map<String, String> env = new java.util.HashMap<>();
        private Duration timeout = Duration.ofSeconds(60);
        private Path dir;

        private Cmd(Path program, String... args) {
            this.args.add(program.toString());
            this.args.addAll(List.of(args));
        }

        public Cmd args(String... more) {
            args.addAll(List.of(more));
            return this;
        }

        public Cmd env(String name, String value) {
            env.put(name, value);
            return this;
        }

        public Cmd timeout(Duration d) {
            timeout = d;
            return this;
        }

        public Cmd dir(Path d) {
            dir = d;
            return this;
        }

        /** Runs the command to its end (or kills it at the timeout and fails). */
        public Result run() throws IOException, InterruptedException {
            Path outFile = Files.createTempFile(logDir(), "out-", ".txt");
            Path errFile = Files.createTempFile(logDir(), "err-", ".txt");
            long started = System.nanoTime();
            boolean finished = false;
            Result r;
            try {
                Process p = builder().redirectOutput(outFile.toFile()).redirectError(errFile.toFile()).start();
                try {
                    finished = p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
                } finally {
                    if (p.isAlive()) {
                        kill(p); // overran, or this thread was interrupted: leave nothing behind
                    }
                }
                r = new Result(List.copyOf(args), finished ? p.exitValue() : -1, read(outFile), read(errFile),
                        Duration.ofNanos(System.nanoTime() - started));
            } finally {
                Files.deleteIfExists(outFile);
                Files.deleteIfExists(errFile);
            }
            if (!finished) {
                fail(r.describe("ran over its timeout of " + timeout + " and was killed"));
            }
            return r;
        }

        /** Starts the command in the background; its output goes to {@code log}. Stop it with {@link #stop}. */
        public Process start(Path log) throws IOException {
            return builder().redirectErrorStream(true).redirectOutput(log.toFile()).start();
        }

        private ProcessBuilder builder() {
            ProcessBuilder pb = new ProcessBuilder(args);
            pb.environment().putAll(env);
            pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            if (dir != null) {
                pb.directory(dir.toFile());
            }
            return pb;
        }
    }

    /** A command running {@code tool} (found on the search path, or the test is skipped / failed). */
    public static Cmd cmd(String tool, String... args) {
        return new Cmd(require(tool), args);
    }

    /** A command running the program at {@code program} (a launcher script of this project). */
    public static Cmd exec(Path program, String... args) {
        return new Cmd(program, args);
    }

    /**
     * Stops a process this test started: SIGTERM, then SIGKILL after {@code grace}; the processes
     * it started go too. Returns true if it had to be killed forcibly.
     */
    public static boolean stop(Process p, Duration grace) throws InterruptedException {
        if (!p.isAlive()) {
            return false;
        }
        List<ProcessHandle> children = p.descendants().toList();
        p.destroy();
        boolean forced = false;
        if (!p.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS)) {
            forced = true;
            kill(p);
        }
        for (ProcessHandle c : children) {
            if (c.isAlive()) {
                c.destroyForcibly();
            }
        }
        return forced;
    }

    /** SIGKILL to the process and to every process it started. */
    public static void kill(Process p) throws InterruptedException {
        List<ProcessHandle> children = p.descendants().toList();
        p.destroyForcibly();
        for (ProcessHandle c : children) {
            c.destroyForcibly();
        }
        p.waitFor(10, TimeUnit.SECONDS);
    }

    private static Path logDir() throws IOException {
        Path d = Path.of(System.getProperty("java.io.tmpdir"), "tool-output");
        Files.createDirectories(d);
        return d;
    }

    private static String read(Path f) throws IOException {
        return Files.readString(f, StandardCharsets.UTF_8);
    }

    /** A seeded random source for a test; {@code -Dviperblock.seed=N} replays a run. The seed is printed. */
    public static SplittableRandom random(String test) {
        return io.viperblock.core.testing.Seeds.random(test);
    }

    /** {@code n} random bytes. */
    public static byte[] bytes(SplittableRandom r, int n) {
        byte[] b = new byte[n];
        fill(r, b, 0, n);
        return b;
    }

    public static void fill(SplittableRandom r, byte[] b, int from, int to) {
        int i = from;
        while (i < to) {
            long v = r.nextLong();
            for (int k = 0; k < 8 && i < to; k++, i++) {
                b[i] = (byte) (v >>> (8 * k));
            }
        }
    }

    /** SHA-256 of a file, in hex. */
    public static String sha256(Path f) throws IOException {
        try (var in = Files.newInputStream(f)) {
            var md = java.security.MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 20];
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
            return java.util.HexFormat.of().formatHex(md.digest());
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    /** Parses JSON that a tool wrote, skipping any text before the first '{' or '[' and after the last '}' or ']'. */
    public static com.fasterxml.jackson.databind.JsonNode json(String text) throws IOException {
        int start = -1;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '{' || c == '[') {
                start = i;
                break;
            }
        }
        int end = Math.max(text.lastIndexOf('}'), text.lastIndexOf(']'));
        if (start < 0 || end < start) {
            throw new IOException("no JSON in: " + text);
        }
        return new com.fasterxml.jackson.databind.ObjectMapper().readTree(text.substring(start, end + 1));
    }
}
