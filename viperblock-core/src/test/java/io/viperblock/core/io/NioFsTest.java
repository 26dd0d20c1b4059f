package io.viperblock.core.io;

import io.viperblock.core.testing.Requirements;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class NioFsTest extends FsContractTest {
    @TempDir
    Path tmp;

    @Override
    protected Fs newFs() {
        return NioFs.INSTANCE;
    }

    @Override
    protected Path newBase(Fs fs) {
        return tmp;
    }

    @Test
    void recognisesOutOfSpaceErrors() {
        assertTrue(NioFs.isOutOfSpace(new IOException("No space left on device")));
        assertTrue(NioFs.isOutOfSpace(new FileSystemException("/x", null, "Disk quota exceeded")));
        assertTrue(NioFs.isOutOfSpace(new IOException("writing /x failed", new IOException("no space left on device"))));
        assertTrue(NioFs.isOutOfSpace(new IOException("write failed: ENOSPC")));
        assertFalse(NioFs.isOutOfSpace(new IOException("Input/output error")));
        assertFalse(NioFs.isOutOfSpace(new IOException((String) null)));
    }

    /**
     * A chunk-sized object from page-aligned direct memory leaves nothing in the page cache
     * (fincore), while the same bytes from a heap buffer are all there: the control that shows
     * fincore sees the cache at all. The files live under target/, on the disk the build runs
     * on, as @TempDir may be a tmpfs, which refuses O_DIRECT.
     */
    @Test
    void largeAlignedDirectBuffersAreWrittenPastThePageCache() throws Exception {
        Path fincore = Requirements.tool("fincore", "util-linux-extra");
        Path dir = Files.createDirectories(Path.of("target", "nio-fs-direct").toAbsolutePath());
        int size = (4 << 20) + 6 * 4096 + 48; // a full chunk's shape: not a whole number of pages
        byte[] want = new byte[size];
        new SplittableRandom(11).nextBytes(want);
        ByteBuffer aligned = ByteBuffer.allocateDirect(size + 2 * 4096).alignedSlice(4096).put(want).flip();
        Path direct = dir.resolve("direct-" + System.nanoTime());
        Path buffered = dir.resolve("buffered-" + System.nanoTime());
        try {
            NioFs.INSTANCE.createForced(direct, aligned);
            NioFs.INSTANCE.createForced(buffered, ByteBuffer.wrap(want));
            assertEquals((size + 4095) / 4096 * 4096L, cachedBytes(fincore, buffered), "a heap buffer's bytes go through the page cache");
            assertEquals(0, cachedBytes(fincore, direct), "an aligned direct buffer's bytes bypass the page cache");
            assertArrayEquals(want, Files.readAllBytes(direct));
        } finally {
            Files.deleteIfExists(direct);
            Files.deleteIfExists(buffered);
        }
    }

    /** tmpfs refuses O_DIRECT: the same object goes through the page cache, whole. */
    @Test
    void aFileSystemWithoutDirectIoGetsTheBytesThroughThePageCache() throws IOException {
        Path shm = Path.of("/dev/shm");
        if (!Files.isDirectory(shm) || !"tmpfs".equals(Files.getFileStore(shm).type())) {
            Requirements.unmet("/dev/shm is not a tmpfs here");
        }
        int size = (1 << 20) + 100;
        byte[] want = new byte[size];
        new SplittableRandom(12).nextBytes(want);
        Path p = shm.resolve("viperblock-niofs-" + ProcessHandle.current().pid() + "-" + System.nanoTime());
        try {
            NioFs.INSTANCE.createForced(p, ByteBuffer.allocateDirect(size + 2 * 4096).alignedSlice(4096).put(want).flip());
            assertArrayEquals(want, Files.readAllBytes(p));
        } finally {
            Files.deleteIfExists(p);
        }
    }

    private static long cachedBytes(Path fincore, Path file) throws Exception {
        Process p = new ProcessBuilder(fincore.toString(), "--bytes", "--noheadings", "--output", "RES", file.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "fincore did not finish");
        assertEquals(0, p.exitValue(), "fincore " + file + ": " + out);
        return Long.parseLong(out);
    }
}
