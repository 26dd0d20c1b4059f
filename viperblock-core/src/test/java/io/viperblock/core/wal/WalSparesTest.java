package io.viperblock.core.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.core.format.Formats;
import io.viperblock.core.io.NioFs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The pool of spare files that garbage chunks refill ({@code WalWriter.recycle}): an open keeps
 * the spares it finds, so a restart does not lose them, {@code recycleUpTo} trims them to the
 * pool, and {@code recycle} takes a file only while the pool has room.
 */
class WalSparesTest {
    private static final long SEGMENT = 1 << 20;

    @TempDir
    Path dir;

    private final UUID id = UUID.randomUUID();

    @Test
    void anOpenKeepsItsSparesAndRecycleFillsThePoolOnlyToItsBound() throws IOException {
        for (int i = 1; i <= 6; i++) {
            Files.write(dir.resolve(Formats.seqName(100 + i) + WalWriter.SPARE_SUFFIX), new byte[4096]);
        }
        WalWriter wal = new WalWriter(NioFs.INSTANCE, dir, id, 1, SEGMENT, new AtomicLong(1000), List.of());
        assertEquals(5, spares().size(), "the first segment took one spare, the open kept the others");
        wal.recycleUpTo(4);
        assertEquals(4, spares().size(), "trimmed to the pool");
        assertFalse(wal.wantsSpares(), "a full pool wants none");
        Path chunk = Files.write(Files.createDirectories(dir.resolve("store")).resolve("chunk"), new byte[8192]);
        assertFalse(wal.recycle(2000, (target, minBytes) -> {
            throw new AssertionError("asked to move although the pool is full");
        }));

        wal.recycleUpTo(8);
        assertTrue(wal.wantsSpares(), "4 of 8");
        long[] asked = {-1};
        assertTrue(wal.recycle(2000, (target, minBytes) -> {
            asked[0] = minBytes;
            Files.move(chunk, target);
            return true;
        }));
        assertEquals(SEGMENT / 2, asked[0], "only a file of at least half a segment is worth taking");
        assertTrue(spares().contains(Formats.seqName(2000) + WalWriter.SPARE_SUFFIX), spares().toString());
        assertFalse(wal.recycle(2001, (target, minBytes) -> false), "the store did not move it");
        assertEquals(5, spares().size());
        wal.close();

        WalWriter again = new WalWriter(NioFs.INSTANCE, dir, id, 1, SEGMENT, new AtomicLong(5000), List.of());
        assertEquals(4, spares().size(), "kept across the restart, but the one the new segment took");
        again.recycleUpTo(0);
        assertEquals(WalWriter.MAX_SPARES, spares().size(), "without a pool, the spares the WAL keeps of its own");
        assertFalse(again.wantsSpares());
        again.close();
    }

    private List<String> spares() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(WalWriter.SPARE_SUFFIX)).sorted().toList();
        }
    }
}
