package io.viperblock.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Where the benchmarks put their files, and the few file chores they share.
 *
 * <p>Every I/O benchmark compares the engine with a plain FileChannel on the same directory, so
 * the comparison is only meaningful on a real disk: on tmpfs both sides measure memcpy and
 * fsync is free. The directory is {@code -Dvb.bench.dir}, else {@code viperblock-bench/target/bench-data}
 * (when run from the repository root, as {@code scripts/bench} does), else
 * {@code target/bench-data} under the working directory. Never /tmp by default: it is often tmpfs.
 */
final class BenchDir {
    private static volatile Path root;

    private BenchDir() {}

    /** The benchmark directory (created), announced once per JVM with its file system. */
    static Path root() {
        Path r = root;
        if (r != null) {
            return r;
        }
        synchronized (BenchDir.class) {
            if (root == null) {
                String prop = System.getProperty("vb.bench.dir");
                Path dir;
                if (prop != null && !prop.isBlank()) {
                    dir = Path.of(prop);
                } else if (Files.isDirectory(Path.of("viperblock-bench"))) {
                    dir = Path.of("viperblock-bench", "target", "bench-data");
                } else {
                    dir = Path.of("target", "bench-data");
                }
                dir = dir.toAbsolutePath().normalize();
                try {
                    Files.createDirectories(dir);
                    FileStore fs = Files.getFileStore(dir);
                    System.out.printf("[vb] bench dir %s on %s (%s)%n", dir, fs.name(), fs.type());
                    if (fs.type().equals("tmpfs") || fs.type().equals("ramfs")) {
                        System.out.println("[vb] WARNING: the bench dir is in memory (" + fs.type() + "): fsync is free there, so disk numbers "
                                + "are meaningless; pass -Dvb.bench.dir=<dir on a real disk>");
                    }
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot use bench dir " + dir, e);
                }
                root = dir;
            }
            return root;
        }
    }

    /** A new, empty directory under the bench dir, named for the caller and unique in this run. */
    static Path fresh(String what) throws IOException {
        return Files.createTempDirectory(root(), what + "-");
    }

    /** Deletes a directory tree; missing is fine. */
    static void deleteTree(Path dir) throws IOException {
        if (dir == null || !Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    /**
     * Commits the file system holding {@code dir} (syncfs through coreutils' {@code sync -f}), so
     * that the journal work left by deletions and truncations is done now, untimed.
     */
    static void syncFs(Path dir) throws IOException {
        try {
            Process p = new ProcessBuilder("sync", "-f", dir.toString()).inheritIO().start();
            if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IOException("sync -f " + dir + " failed");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted during sync -f " + dir);
        }
    }

    /**
     * Empties the kernel's page cache (needs root), so the next reads come from the disk.
     * Returns false, changing nothing, when that is not allowed here.
     */
    static boolean dropCaches() {
        try {
            // drop_caches only drops clean pages: write everything back first
            Process sync = new ProcessBuilder("sync").inheritIO().start();
            if (!sync.waitFor(60, TimeUnit.SECONDS) || sync.exitValue() != 0) {
                return false;
            }
            Files.writeString(Path.of("/proc/sys/vm/drop_caches"), "3");
            return true;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
