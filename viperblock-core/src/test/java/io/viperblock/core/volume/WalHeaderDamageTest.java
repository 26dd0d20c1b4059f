package io.viperblock.core.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.core.format.CorruptFormatException;
import io.viperblock.core.io.NioFs;
import io.viperblock.core.store.MemoryStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A damaged header of the last WAL segment. Found by the corruption campaign: replay took any bad
 * header of the last segment for an interrupted creation and deleted the segment, flushed records
 * and all. The header is fsynced before the first record is written, so good records behind a bad
 * header mean damage: open must refuse, naming the file, and keep it.
 */
class WalHeaderDamageTest {
    private static final VolumeConfig CONFIG = VolumeScenarios.smallConfig().withSealAfter(java.time.Duration.ofHours(1));

    @TempDir
    Path dir;

    @Test
    void badHeaderWithRecordsBehindItRefusesToOpen() throws Exception {
        MemoryStore store = new MemoryStore();
        Volume v = create(store);
        v.write(0, new byte[] {7, 7, 7}, false);
        v.write(8192, new byte[4096], true);
        v.abandon();
        Path seg = lastSegment();
        byte[] b = Files.readAllBytes(seg);
        b[20] ^= 0x10; // inside the volume id
        Files.write(seg, b);

        CorruptFormatException e = assertThrows(CorruptFormatException.class,
                () -> new VolumeManager(store, dir, NioFs.INSTANCE, CONFIG).open("h"));
        assertTrue(e.getMessage().contains(seg.toString()) && e.getMessage().contains("offset"), e.getMessage());
        assertTrue(Files.exists(seg), "the damaged segment is kept for inspection");
    }

    @Test
    void badHeaderWithNothingBehindItIsAnInterruptedCreation() throws Exception {
        MemoryStore store = new MemoryStore();
        Volume v = create(store);
        v.write(0, new byte[] {7, 7, 7}, true);
        v.drain(); // in the store; the WAL is empty from here
        v.write(4096, new byte[] {1}, true); // a new segment...
        v.abandon();
        Path seg = lastSegment();
        Files.write(seg, java.util.Arrays.copyOf(Files.readAllBytes(seg), 64)); // ...whose records never made it
        byte[] b = Files.readAllBytes(seg);
        b[40] ^= 1;
        Files.write(seg, b);

        Volume again = new VolumeManager(store, dir, NioFs.INSTANCE, CONFIG).open("h");
        try {
            assertArrayEquals(new byte[] {7, 7, 7, 0}, again.read(0, 4));
            assertEquals(0, again.read(4096, 1)[0]);
        } finally {
            again.close();
        }
    }

    private Volume create(MemoryStore store) throws Exception {
        VolumeManager mgr = new VolumeManager(store, dir, NioFs.INSTANCE, CONFIG);
        mgr.create("h", 1 << 20);
        return mgr.open("h");
    }

    private Path lastSegment() throws Exception {
        try (Stream<Path> s = Files.list(dir.resolve("volumes/h/wal"))) {
            List<Path> segs = s.filter(p -> p.toString().endsWith(".wal")).sorted().toList();
            return segs.get(segs.size() - 1);
        }
    }
}
