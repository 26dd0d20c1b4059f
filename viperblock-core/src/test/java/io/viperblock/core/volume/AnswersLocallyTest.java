package io.viperblock.core.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.core.io.CrashFs;
import io.viperblock.core.store.FaultyStore;
import io.viperblock.core.store.MemoryStore;
import java.nio.file.Path;
import java.time.Duration;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@link Volume#answersLocally()}, which the NBD server asks before it serves a lone request on
 * its reader thread: true only while the store is on this machine and the WAL is under its bound.
 */
class AnswersLocallyTest {
    /** 1 MiB segments, 4 MiB of pending WAL at most, sealed only when full. */
    private static final VolumeConfig CONFIG = VolumeScenarios.smallConfig().withSealAfter(Duration.ofHours(1));
    private static final int RECORD = 256 << 10;

    private final FaultyStore store = new FaultyStore(new MemoryStore(), 1);
    private final VolumeManager manager;

    AnswersLocallyTest() throws Exception {
        manager = new VolumeManager(store, Path.of("/data"), new CrashFs(), CONFIG);
    }

    @Test
    void aLocalStoreAnswersLocallyAndARemoteOneDoesNot() throws Exception {
        manager.create("v", 64 << 20);
        try (Volume v = manager.open("v")) {
            assertTrue(v.answersLocally(), "a memory store is local");
        }
        store.remote(true);
        try (Volume v = manager.open("v")) {
            assertFalse(v.answersLocally(), "a store that is not local");
        }
    }

    @Test
    void notWhileTheWalIsOverItsBound() throws Exception {
        manager.create("v", 64 << 20);
        try (Volume v = manager.open("v")) {
            store.down(true); // nothing can be consolidated
            SplittableRandom rnd = new SplittableRandom(7);
            byte[][] written = new byte[16][RECORD];
            for (int i = 0; i < written.length; i++) {
                assertTrue(v.answersLocally(), "record " + i + ": the WAL is still under its bound");
                rnd.nextBytes(written[i]);
                v.write((long) i * RECORD, written[i], false);
            }
            // 16 records of 256 KiB and their headers: just over 4 MiB, waiting for a store that is down
            assertFalse(v.answersLocally(), "over its bound");

            store.down(false);
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (!v.answersLocally()) {
                assertTrue(System.nanoTime() < deadline, "the WAL never came back under its bound");
                Thread.sleep(10);
            }
            for (int i = 0; i < written.length; i++) {
                assertArrayEquals(written[i], v.read((long) i * RECORD, RECORD), "record " + i);
            }
        }
    }
}
