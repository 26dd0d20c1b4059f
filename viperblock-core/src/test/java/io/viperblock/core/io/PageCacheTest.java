package io.viperblock.core.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.core.testing.Requirements;
import io.viperblock.core.testing.Seeds;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * PageCache drops a file's pages from the page cache (as util-linux's fincore counts them) and
 * leaves its contents alone; on this project's JDK (22 or later, on Linux) it is available.
 */
class PageCacheTest {

    /** Bytes of the file in the page cache, by fincore. */
    private static long resident(Path fincore, Path file) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(fincore.toString(), "--bytes", "--noheadings", "--output", "RES", file.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).trim();
        assertEquals(0, p.waitFor(), out);
        return Long.parseLong(out);
    }

    @Test
    void dropsTheFilesPagesAndKeepsItsBytes(@TempDir Path dir) throws Exception {
        assertTrue(Runtime.version().feature() < 22 || PageCache.available(),
                "java.lang.foreign is final on JDK " + Runtime.version() + " but PageCache did not bind posix_fadvise");
        if (!PageCache.available()) {
            Requirements.unmet("PageCache needs JDK 22 or later on Linux; this is " + Runtime.version());
            return;
        }
        Path fincore = Requirements.tool("fincore", "util-linux");
        Path file = dir.resolve("f");
        byte[] data = Seeds.bytes(Seeds.random("dropsTheFilesPagesAndKeepsItsBytes"), 8 << 20);
        try (FsFile f = NioFs.INSTANCE.createNew(file)) {
            f.write(ByteBuffer.wrap(data), 0);
            f.force(); // written back: clean pages, which the advice may drop
        }
        Files.readAllBytes(file);
        long before = resident(fincore, file);
        assertTrue(before > 0, "nothing of a file just read is in the page cache: " + before);
        NioFs.INSTANCE.dropCached(file);
        long after = resident(fincore, file);
        assertTrue(after < before / 4, "the page cache holds " + after + " of " + before + " bytes after the drop");
        assertTrue(Arrays.equals(data, Files.readAllBytes(file)), "the file's bytes changed");
        PageCache.drop(dir.resolve("absent")); // no such file: nothing happens, nothing is thrown
    }
}
