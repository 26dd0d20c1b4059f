package io.viperblock.core.volume;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.core.store.MemoryStore;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * kill -9 in a JVM: the volume is abandoned at random points (no close, no sync, no drain, the
 * lease left held) and opened again by a new manager on the same data directory, as a restarted
 * process would. Every acknowledged write must be there (the WAL is in the page cache).
 */
class VolumeCrashTest {
    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"memory", "file"})
    void everyAcknowledgedWriteSurvivesAbandonment(String kind) throws Exception {
        VolumeScenarios.crash(VolumeModelTest.store(kind, tmp), tmp.resolve("data"), Long.getLong("vb.seed", System.nanoTime()), 25, kind);
    }

    @ParameterizedTest
    @ValueSource(strings = {"memory", "file"})
    void aForcedTakeoverFencesTheOldHolder(String kind) throws Exception {
        VolumeScenarios.takeover(VolumeModelTest.store(kind, tmp), tmp, kind);
    }

    @Test
    void anotherNodeCannotOpenWhileTheLeaseIsHeld() throws Exception {
        MemoryStore store = new MemoryStore();
        VolumeManager a = new VolumeManager(store, tmp.resolve("a"));
        VolumeManager b = new VolumeManager(store, tmp.resolve("b"));
        a.create("shared", 1 << 20);
        Volume v = a.open("shared");
        VolumeInUseException e = assertThrows(VolumeInUseException.class, () -> b.open("shared"));
        assertTrue(e.getMessage().contains(a.nodeId()) && e.getMessage().contains("epoch " + v.epoch()), e.getMessage());
        // the same node, same data directory, while open: refused too
        assertThrows(VolumeInUseException.class, () -> new VolumeManager(store, tmp.resolve("a")).open("shared"));
        // after a crash, the other node still cannot open it (the WAL is on node a)...
        v.write(0, new byte[] {1, 2, 3}, false);
        v.abandon();
        assertThrows(VolumeInUseException.class, () -> b.open("shared"));
        // ...but node a takes its lease back by itself and finds the write
        Volume again = new VolumeManager(store, tmp.resolve("a")).open("shared");
        assertEquals(3, again.read(0, 3)[2]);
        again.close();
        // a clean close drains to the store and releases: now node b may open it, and sees the data
        Volume onB = b.open("shared");
        assertEquals(2, onB.read(0, 3)[1]);
        onB.close();
    }
}
