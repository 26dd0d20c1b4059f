package io.viperblock.sfs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs {@code bin/sfs} as a user would, in a child process. The launcher finds the JDK this test
 * runs on (JAVA_HOME) and takes the classes just compiled from VB_CLASSPATH, so the tests need no
 * packaged jar and never start a build. Output goes to files; a run over its timeout is killed
 * (it and its children, by handle) and fails the test.
 */
final class Launcher {
    private static final long TIMEOUT_SECONDS = 180;

    private final Path cwd;
    private final Map<String, String> env = new HashMap<>();

    Launcher(Path cwd) {
        this.cwd = cwd;
        env.put("JAVA_HOME", System.getProperty("java.home"));
        env.put("VB_CLASSPATH", System.getProperty("java.class.path"));
        env.put("VB_JAVA_OPTS", "-Xmx512m");
    }

    Launcher env(String name, String value) {
        env.put(name, value);
        return this;
    }

    record Result(List<String> command, int code, String out, String err) {
        Result ok() {
            assertEquals(0, code, this::describe);
            return this;
        }

        Result exit(int expected) {
            assertEquals(expected, code, this::describe);
            return this;
        }

        String describe() {
            return String.join(" ", command) + " exited with " + code + "\n--- stdout:\n" + out + "\n--- stderr:\n" + err;
        }
    }

    static Path script() {
        Path p = Path.of("").toAbsolutePath().getParent().resolve("bin/sfs");
        if (!Files.isExecutable(p)) {
            fail("bin/sfs not found at " + p + " (tests run from the viperblock-cli module directory)");
        }
        return p;
    }

    Result run(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(script().toString());
        cmd.addAll(List.of(args));
        Path out = Files.createTempFile("sfs-out-", ".txt");
        Path err = Files.createTempFile("sfs-err-", ".txt");
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).directory(cwd.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectOutput(out.toFile()).redirectError(err.toFile());
            pb.environment().putAll(env);
            Process p = pb.start();
            if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                List<ProcessHandle> children = p.descendants().toList();
                p.destroyForcibly();
                children.forEach(ProcessHandle::destroyForcibly);
                p.waitFor(10, TimeUnit.SECONDS);
                fail(String.join(" ", cmd) + " ran over " + TIMEOUT_SECONDS + " s and was killed\n" + Files.readString(err));
            }
            return new Result(cmd, p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }
}
