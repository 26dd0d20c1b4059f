package io.viperblock.core.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.core.io.NioFs;
import io.viperblock.core.store.MemoryStore;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code consolidateDelay}: a sealed segment waits while the client keeps writing, and is
 * consolidated once the client pauses ({@link VolumeConfig#IDLE}), once the unconsolidated WAL
 * passes half its bound, or on a drain.
 */
class ConsolidationDelayTest {
    private static final int MIB = 1 << 20;

    @TempDir
    Path dir;

    private static VolumeConfig delayed() {
        return VolumeScenarios.smallConfig().withMaxPendingWalBytes(64 * MIB).withSealAfter(Duration.ofHours(1))
                .withConsolidateDelay(Duration.ofHours(1));
    }

    @Test
    void aSealedSegmentWaitsWhileTheClientWritesAndGoesOnceItPauses() throws Exception {
        MemoryStore store = new MemoryStore();
        VolumeManager mgr = new VolumeManager(store, dir, NioFs.INSTANCE, delayed());
        mgr.create("d", 16 * MIB);
        Volume v = mgr.open("d");
        try {
            byte[] data = filled(3 * MIB, 7);
            for (int m = 0; m < 3; m++) { // 1 MiB records in 1 MiB segments: each seals the one before it
                v.write((long) m * MIB, Arrays.copyOfRange(data, m * MIB, (m + 1) * MIB), false);
            }
            long until = System.nanoTime() + Duration.ofSeconds(3).toNanos();
            int i = 0;
            while (System.nanoTime() < until) { // a light, steady load: a small write every 100 ms
                v.write(8L * MIB + (i++ % 64) * 4096L, filled(4096, i), true);
                Thread.sleep(100);
                assertEquals(0, chunks(store), "nothing is consolidated while the client keeps writing");
            }
            assertTrue(v.stats().walSegments() >= 3, "the sealed segments wait: " + v.stats());

            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (chunks(store) == 0 && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertTrue(chunks(store) > 0, "consolidated once the client paused");
            assertArrayEquals(data, v.read(0, data.length));
        } finally {
            v.close();
        }
    }

    @Test
    void pressureConsolidatesWithoutWaitingForThePause() throws Exception {
        MemoryStore store = new MemoryStore();
        // writers fail after 500 ms over the bound, before the client could look idle (1 s): only
        // consolidation at half the bound lets 24 MiB through an 8 MiB WAL
        VolumeConfig config = delayed().withMaxPendingWalBytes(8 * MIB).withBackpressureTimeout(Duration.ofMillis(500));
        VolumeManager mgr = new VolumeManager(store, dir, NioFs.INSTANCE, config);
        mgr.create("d", 32 * MIB);
        Volume v = mgr.open("d");
        try {
            byte[] piece = new byte[256 * 1024];
            for (int i = 0; i < 96; i++) {
                Arrays.fill(piece, (byte) (i + 1));
                v.write((long) i * piece.length, piece, false);
            }
            assertTrue(chunks(store) > 0);
            for (int i = 0; i < 96; i += 13) {
                assertEquals(i + 1, v.read((long) i * piece.length + 100, 1)[0]);
            }
        } finally {
            v.close();
        }
    }

    @Test
    void drainConsolidatesWithoutWaiting() throws Exception {
        MemoryStore store = new MemoryStore();
        VolumeManager mgr = new VolumeManager(store, dir, NioFs.INSTANCE, delayed());
        mgr.create("d", 16 * MIB);
        Volume v = mgr.open("d");
        try {
            v.write(0, filled(2 * MIB, 3), false);
            v.drain();
            assertTrue(chunks(store) > 0);
            assertEquals(1, v.stats().walSegments(), "only the new active segment is left: " + v.stats());
        } finally {
            v.close();
        }
    }

    private static int chunks(MemoryStore store) throws Exception {
        return store.list("volumes/d/chunks/").size();
    }

    private static byte[] filled(int n, int value) {
        byte[] b = new byte[n];
        Arrays.fill(b, (byte) value);
        return b;
    }
}
