package io.viperblock.cli;

import io.viperblock.core.volume.Volume;
import io.viperblock.nbd.server.NbdServer;
import io.viperblock.nbd.server.NbdServerConfig;
import io.viperblock.nbd.server.VolumeExports;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs {@code qemu-img} for the image formats vblock does not read itself. The volume is served
 * in this process by the NBD server on a Unix socket in a private temporary directory (mode 700,
 * so no other user can connect), and qemu-img reads or writes {@code nbd+unix:///VOLUME?socket=PATH}.
 * Stateless.
 */
final class QemuImg {
    private static final Pattern VIRTUAL_SIZE = Pattern.compile("\"virtual-size\"\\s*:\\s*(\\d+)");

    private QemuImg() {}

    /** The qemu-img executable, or an error saying how to get it. */
    static Path require() throws IOException {
        String path = System.getenv("PATH");
        for (String d : (path == null ? "/usr/bin:/bin" : path).split(File.pathSeparator)) {
            Path p = Path.of(d.isEmpty() ? "." : d, "qemu-img");
            if (Files.isRegularFile(p) && Files.isExecutable(p)) {
                return p;
            }
        }
        throw new IOException("qemu-img is not installed; it is needed for qcow2 and vmdk images (Debian/Ubuntu: apt-get install qemu-utils), "
                + "or convert the image to raw elsewhere and import that");
    }

    /** The virtual size of an image, from {@code qemu-img info --output=json}. */
    static long virtualSize(Path image, String format) throws IOException {
        String out = run(List.of(require().toString(), "info", "--output=json", "-f", format, image.toString()), false);
        Matcher m = VIRTUAL_SIZE.matcher(out);
        if (!m.find()) {
            throw new IOException("qemu-img info " + image + " reported no virtual size: " + out.strip());
        }
        return Long.parseLong(m.group(1));
    }

    /**
     * Serves {@code v} on a private Unix socket and runs qemu-img with {@code args}, where the
     * argument "{NBD}" stands for the volume's NBD URI. {@code showProgress}: qemu-img draws its
     * own progress (-p) on the terminal.
     */
    static void withVolume(Volume v, List<String> args, boolean showProgress) throws IOException {
        Path dir = Files.createTempDirectory("vblock-"); // the JDK makes it rwx------
        Path socket = dir.resolve("nbd.sock");
        NbdServer server = new NbdServer(new VolumeExports(List.of(v)), NbdServerConfig.defaults());
        try {
            server.listenUnix(socket);
            String uri = "nbd+unix:///" + v.name() + "?socket=" + socket;
            List<String> cmd = new ArrayList<>();
            cmd.add(require().toString());
            for (String a : args) {
                cmd.add(a.equals("{NBD}") ? uri : a);
            }
            if (showProgress) {
                cmd.add(2, "-p");
            }
            run(cmd, showProgress);
        } finally {
            server.shutdown(Duration.ofSeconds(10));
            Files.deleteIfExists(socket);
            Files.deleteIfExists(dir);
        }
    }

    /** Runs a command to its end; its stdout is returned (or shown, when {@code inherit}); a failure quotes its stderr. */
    private static String run(List<String> cmd, boolean inherit) throws IOException {
        Path out = Files.createTempFile("vblock-qemu-img-", ".out");
        Path err = Files.createTempFile("vblock-qemu-img-", ".err");
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectError(err.toFile());
            pb.redirectOutput(inherit ? ProcessBuilder.Redirect.INHERIT : ProcessBuilder.Redirect.to(out.toFile()));
            Process p = pb.start();
            int code;
            try {
                code = p.waitFor();
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted while qemu-img ran");
            }
            String stderr = Files.readString(err, StandardCharsets.UTF_8).strip();
            if (code != 0) {
                throw new IOException("qemu-img " + cmd.get(1) + " failed (exit " + code + "): " + stderr.replace('\n', ' '));
            }
            return Files.readString(out, StandardCharsets.UTF_8);
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }
}
