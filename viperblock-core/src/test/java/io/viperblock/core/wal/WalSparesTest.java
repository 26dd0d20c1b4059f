package io.viperblock.core.wal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.core.format.Formats;
import io.viperblock.core.format.WalRecord;
import io.viperblock.core.io.CrashFs;
import io.viperblock.core.io.FsFile;
import io.viperblock.core.io.NioFs;
import java.io.IOException;
import java.nio.ByteBuffer;
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
 * pool, and {@code recycle} takes a file only while the pool has room; and the spares filled
 * while the volume is quiet ({@code fillSpare}).
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
    /**
     * Quiet-time fills ({@code fillSpare}): as many spares as segments had to start in new files
     * since the last fills, each a whole segment of zeros under a name of its own; none when the
     * caller says stop (the unfinished file is deleted) or when the disk would keep less than
     * the room of a full pool; the next segment takes one.
     */
    @Test
    void fillSpareMakesOneForEachSegmentThatLackedOneAndNoneWithoutRoom() throws IOException {
        CrashFs fs = new CrashFs();
        Path wdir = Path.of("/vol/wal");
        fs.createDirectories(wdir);
        WalWriter wal = new WalWriter(fs, wdir, id, 1, SEGMENT, new AtomicLong(100), List.of());
        wal.recycleUpTo(4);
        AtomicLong seqs = new AtomicLong(9000);
        assertFalse(wal.fillSpare(seqs::getAndIncrement, () -> false), "the segment the open started lacked nothing yet");
        rotateIntoNewFiles(wal, 3);
        assertEquals(3, wal.sparesLacked());
        assertFalse(wal.fillSpare(seqs::getAndIncrement, () -> true), "asked to stop before the first step");
        assertEquals(List.of(), spares(fs, wdir), "the unfinished file is deleted");
        assertEquals(3, wal.sparesLacked(), "still lacked");

        fs.setSpaceLimit(fs.usedBytes() + (4 + WalWriter.SPARE_MIN_FREE_SEGMENTS) * SEGMENT);
        assertFalse(wal.fillSpare(seqs::getAndIncrement, () -> false), "a spare would leave less than a full pool and 4 segments");
        assertEquals(0, wal.sparesLacked(), "a disk short of room clears the lack");
        fs.setSpaceLimit(Long.MAX_VALUE);

        rotateIntoNewFiles(wal, 3);
        for (int i = 0; i < 3; i++) {
            assertTrue(wal.fillSpare(seqs::getAndIncrement, () -> false), "spare " + i);
        }
        assertFalse(wal.fillSpare(seqs::getAndIncrement, () -> false), "three segments lacked one: three spares");
        assertEquals(3, wal.sparesFilled());
        List<String> filled = spares(fs, wdir);
        assertEquals(3, filled.size(), filled.toString());
        for (String n : filled) {
            assertTrue(n.startsWith(WalWriter.FILLED_PREFIX), n);
            assertEquals(SEGMENT, fs.size(wdir.resolve(n)), n);
            ByteBuffer bytes = ByteBuffer.allocate((int) SEGMENT);
            try (FsFile f = fs.open(wdir.resolve(n))) {
                f.read(bytes, 0);
            }
            assertArrayEquals(new byte[(int) SEGMENT], bytes.array(), n + " holds zeros");
        }

        wal.append(WalRecord.WRITE, 7, 1, ByteBuffer.allocate(Formats.BLOCK_SIZE));
        wal.sealActive();
        assertEquals(2, spares(fs, wdir).size(), "the next segment took one");
        assertFalse(wal.fillSpare(seqs::getAndIncrement, () -> false), "it lacked none");
        assertEquals(0, wal.sparesLacked());
        wal.close();
    }

    private static void rotateIntoNewFiles(WalWriter wal, int segments) throws IOException {
        for (int i = 0; i < segments; i++) {
            wal.append(WalRecord.WRITE, i, 1, ByteBuffer.allocate(Formats.BLOCK_SIZE));
            wal.sealActive(); // the next segment in a new file: the pool is empty
        }
    }

    private static List<String> spares(CrashFs fs, Path wdir) throws IOException {
        return fs.list(wdir).stream().filter(n -> n.endsWith(WalWriter.SPARE_SUFFIX)).sorted().toList();
    }
}
