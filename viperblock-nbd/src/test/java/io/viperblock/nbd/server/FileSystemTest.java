package io.viperblock.nbd.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A real file system on a volume: {@code nbdfuse} shows the export as a file, {@code mkfs.ext4}
 * formats it, the kernel mounts it through a loop device, a tree of random files is copied in;
 * then everything is unmounted, the server restarted (volumes closed and reopened), the file
 * system mounted again and every file compared by SHA-256, and {@code e2fsck -fn} finds no error.
 * Mounts are undone in a finally block whatever happens.
 */
class FileSystemTest {
    private static final long SIZE = 128L << 20;
    private static final Duration T = Duration.ofSeconds(60);

    @RegisterExtension
    final NbdFixture nbd = NbdFixture.fileStore().volume("fs", SIZE);

    private Path fuseDir;
    private Path disk;
    private Path mnt;
    private Process fuse;

    @Test
    void ext4OnNbdfuseSurvivesARestart() throws Exception {
        Tools.requireAll("nbdfuse", "fusermount3", "mkfs.ext4", "e2fsck", "mount", "umount");
        Tools.requireDevice("/dev/fuse");
        Tools.requireDevice("/dev/loop-control");
        Tools.requireRoot();
        SplittableRandom r = Tools.random("ext4OnNbdfuseSurvivesARestart");
        Path work = nbd.dir().resolve("fs");
        Path src = work.resolve("src");
        fuseDir = work.resolve("fuse");
        disk = fuseDir.resolve("disk");
        mnt = work.resolve("mnt");
        Files.createDirectories(fuseDir);
        Files.createDirectories(mnt);
        TreeMap<String, String> tree = makeTree(src, r);
        long bytes = 0;
        try (Stream<Path> s = Files.walk(src)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                bytes += Files.size(p);
            }
        }
        System.out.println("ext4OnNbdfuseSurvivesARestart: " + tree.size() + " files, " + bytes + " bytes");
        try {
            startFuse();
            assertEquals(SIZE, Files.size(disk), "the nbdfuse file has the export's size");
            Tools.cmd("mkfs.ext4", "-F", "-q", disk.toString()).timeout(T).run().ok();
            Tools.cmd("mount", "-o", "loop", disk.toString(), mnt.toString()).timeout(T).run().ok();
            copyTree(src, mnt.resolve("tree"));
            Tools.cmd("umount", mnt.toString()).timeout(T).run().ok();
            stopFuse();

            nbd.restart();

            startFuse();
            Tools.cmd("mount", "-o", "loop,ro", disk.toString(), mnt.toString()).timeout(T).run().ok();
            TreeMap<String, String> back = hashes(mnt.resolve("tree"));
            assertEquals(tree.keySet(), back.keySet(), "the same files after the restart");
            assertEquals(tree, back, "every file's SHA-256 after the restart");
            Tools.cmd("umount", mnt.toString()).timeout(T).run().ok();
            Tools.Result fsck = Tools.cmd("e2fsck", "-fn", disk.toString()).timeout(T).run();
            System.out.println(fsck.out().lines().reduce((a, b) -> b).orElse(""));
            fsck.ok();
            stopFuse();
        } finally {
            cleanUp();
        }
    }

    /** Some hundreds of files, sizes log-uniform up to 1 MiB (a few empty), in nested directories; returns path to SHA-256. */
    private static TreeMap<String, String> makeTree(Path root, SplittableRandom r) throws IOException {
        List<String> dirs = new java.util.ArrayList<>(List.of(""));
        int files = 250 + r.nextInt(100);
        for (int i = 0; i < files; i++) {
            if (r.nextInt(8) == 0) {
                String parent = dirs.get(r.nextInt(dirs.size()));
                dirs.add(parent + "d" + i + "/");
            }
            String dir = dirs.get(r.nextInt(dirs.size()));
            int size = r.nextInt(30) == 0 ? 0 : (int) Math.min(1 << 20, Math.pow(2, r.nextDouble() * 20.01));
            Path f = root.resolve(dir + "f" + i + ".bin");
            Files.createDirectories(f.getParent());
            try (OutputStream out = Files.newOutputStream(f)) {
                out.write(Tools.bytes(r, size));
            }
        }
        return hashes(root);
    }

    private static TreeMap<String, String> hashes(Path root) throws IOException {
        TreeMap<String, String> out = new TreeMap<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                out.put(root.relativize(p).toString(), Tools.sha256(p));
            }
        }
        return out;
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path q = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(q);
                } else {
                    Files.copy(p, q);
                }
            }
        }
    }

    /** Starts nbdfuse in the background and waits for its file to appear. */
    private void startFuse() throws Exception {
        Path pidFile = fuseDir.getParent().resolve("nbdfuse.pid");
        Files.deleteIfExists(pidFile);
        Path log = fuseDir.getParent().resolve("nbdfuse.log");
        fuse = Tools.cmd("nbdfuse", "-P", pidFile.toString(), disk.toString(), nbd.uri("fs")).start(log);
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (!(Files.exists(pidFile) && Files.size(pidFile) > 0 && Files.exists(disk))) {
            if (!fuse.isAlive()) {
                fail("nbdfuse exited with " + fuse.exitValue() + ": " + Files.readString(log));
            }
            if (System.nanoTime() > deadline) {
                fail("nbdfuse did not show " + disk + " within 20 s: " + Files.readString(log));
            }
            Thread.sleep(20);
        }
    }

    /** Unmounts nbdfuse with fusermount3 and waits for it to exit (killing it after 15 s). */
    private void stopFuse() throws Exception {
        if (fuse == null) {
            return;
        }
        Process p = fuse;
        fuse = null;
        Tools.Result u = Tools.cmd("fusermount3", "-u", fuseDir.toString()).timeout(T).run();
        if (u.exit() != 0) {
            Tools.cmd("fusermount3", "-uz", fuseDir.toString()).timeout(T).run();
        }
        if (!p.waitFor(15, java.util.concurrent.TimeUnit.SECONDS)) {
            Tools.stop(p, Duration.ofSeconds(5));
            fail("nbdfuse did not exit after fusermount3 -u");
        }
        assertEquals(0, p.exitValue(), "nbdfuse exit status");
    }

    /** Leaves nothing mounted and nothing running, whatever state the test stopped in. */
    private void cleanUp() throws Exception {
        Throwable first = null;
        try {
            if (mnt != null && mounted(mnt)) {
                if (Tools.cmd("umount", mnt.toString()).timeout(T).run().exit() != 0) {
                    Tools.cmd("umount", "-l", mnt.toString()).timeout(T).run();
                }
            }
        } catch (Throwable e) {
            first = e;
        }
        try {
            if (fuseDir != null && mounted(fuseDir)) {
                if (Tools.cmd("fusermount3", "-u", fuseDir.toString()).timeout(T).run().exit() != 0) {
                    Tools.cmd("fusermount3", "-uz", fuseDir.toString()).timeout(T).run();
                }
            }
        } catch (Throwable e) {
            first = first == null ? e : first;
        }
        if (fuse != null) {
            if (!fuse.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
                Tools.stop(fuse, Duration.ofSeconds(5));
            }
            fuse = null;
        }
        assertTrue(mnt == null || !mounted(mnt), mnt + " is still mounted");
        assertTrue(fuseDir == null || !mounted(fuseDir), fuseDir + " is still mounted");
        if (first instanceof Exception e) {
            throw e;
        } else if (first instanceof Error e) {
            throw e;
        }
    }

    private static boolean mounted(Path dir) throws IOException {
        String want = dir.toAbsolutePath().normalize().toString();
        for (String line : Files.readAllLines(Path.of("/proc/self/mounts"))) {
            String[] f = line.split(" ");
            if (f.length > 1 && f[1].replace("\\040", " ").equals(want)) {
                return true;
            }
        }
        return false;
    }
}
