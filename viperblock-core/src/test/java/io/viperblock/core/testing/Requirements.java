package io.viperblock.core.testing;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Assumptions;

/**
 * What a test needs from the machine (a tool, a device, a file system), for tests of every
 * module: a missing one skips the test, except when {@code CI=true}, where the environment is
 * meant to have it and a missing one fails the test. Stateless.
 */
public final class Requirements {
    private Requirements() {}

    /** Skips the test because of {@code why}, or fails it when {@code CI=true}. */
    public static void unmet(String why) {
        if ("true".equalsIgnoreCase(System.getenv("CI"))) {
            fail(why + "; CI=true, so this is a failure, not a skip");
        }
        Assumptions.abort(why);
    }

    /** The absolute path of {@code tool} on PATH or in the sbin directories (mkfs.ext4, e2fsck), or null. */
    public static Path findTool(String tool) {
        Set<String> dirs = new LinkedHashSet<>();
        String path = System.getenv("PATH");
        if (path != null) {
            for (String d : path.split(File.pathSeparator)) {
                if (!d.isEmpty()) {
                    dirs.add(d);
                }
            }
        }
        dirs.addAll(List.of("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"));
        for (String d : dirs) {
            Path p = Path.of(d, tool);
            if (Files.isRegularFile(p) && Files.isExecutable(p)) {
                return p;
            }
        }
        return null;
    }

    /** The path of {@code tool}; if it is missing, {@link #unmet} names the Debian packages to install. */
    public static Path tool(String tool, String debianPackages) {
        Path p = findTool(tool);
        if (p == null) {
            unmet("tool \"" + tool + "\" is not installed (Debian: " + debianPackages + ")");
        }
        return p;
    }
}
