package io.viperblock.cli;

import static org.junit.jupiter.api.Assertions.fail;

import io.viperblock.nbd.server.Tools;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A {@code bin/vblock serve} process a test started, and the TCP port it listens on. */
record VblockServer(Process process, Path log, int port) {
    /** The launcher, as a user runs it (these tests run after {@code package}). */
    static final Path VBLOCK = Path.of(System.getProperty("user.dir")).getParent().resolve("bin/vblock");
    private static final Pattern SERVING = Pattern.compile("serving nbd://127\\.0\\.0\\.1:(\\d+)/");

    /** Starts {@code cmd} (a serve on port 0) and waits until it listens. */
    static VblockServer start(Tools.Cmd cmd, Path log) throws Exception {
        Process p = cmd.start(log);
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        while (System.nanoTime() < deadline) {
            Matcher m = SERVING.matcher(Files.readString(log));
            if (m.find()) {
                return new VblockServer(p, log, Integer.parseInt(m.group(1)));
            }
            if (!p.isAlive()) {
                fail("vblock serve exited with " + p.exitValue() + ":\n" + Files.readString(log));
            }
            Thread.sleep(20);
        }
        String threads = threadDump(p);
        Tools.kill(p);
        fail("vblock serve did not start within 120 s:\n" + Files.readString(log) + "\nits threads:\n" + threads);
        return null;
    }

    /** The JVM's threads (jcmd Thread.print of the process or, behind the launcher, its java child), for a failure message. */
    static String threadDump(Process p) {
        StringBuilder out = new StringBuilder();
        Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
        java.util.stream.Stream.concat(java.util.stream.Stream.of(p.toHandle()), p.descendants()).forEach(h -> {
            try {
                Process d = new ProcessBuilder(jcmd.toString(), Long.toString(h.pid()), "Thread.print").redirectErrorStream(true).start();
                String text = new String(d.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
                d.waitFor();
                out.append("pid ").append(h.pid()).append(":\n").append(text);
            } catch (IOException | InterruptedException e) {
                out.append("pid ").append(h.pid()).append(": no thread dump (").append(e).append(")\n");
            }
        });
        return out.toString();
    }

    String uri(String volume) {
        return "nbd://127.0.0.1:" + port + "/" + volume;
    }

    InetSocketAddress address() {
        return new InetSocketAddress("127.0.0.1", port);
    }

    /** The server JVM's threads, for a failure message. */
    String threadDump() {
        return threadDump(process);
    }

    String logText() throws IOException {
        return Files.readString(log);
    }

    /** SIGKILL, and waits for it to be gone. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor();
    }

    /** SIGTERM (the server drains and releases its volumes), SIGKILL after 30 s. */
    void stop() throws InterruptedException {
        Tools.stop(process, Duration.ofSeconds(30));
    }
}
