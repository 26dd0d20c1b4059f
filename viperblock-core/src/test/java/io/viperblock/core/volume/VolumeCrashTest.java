package io.viperblock.core.volume;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.core.io.NioFs;
import io.viperblock.core.store.MemoryStore;
import io.viperblock.core.store.ObjectStore;
import java.nio.file.Path;
import java.util.SplittableRandom;
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
        long seed = Long.getLong("vb.seed", System.nanoTime());
        SplittableRandom rnd = new SplittableRandom(seed);
        ObjectStore store = VolumeModelTest.store(kind, tmp);
        Path data = tmp.resolve("data");
        VolumeManager mgr = new VolumeManager(store, data, NioFs.INSTANCE, VolumeModelTest.smallConfig());
        mgr.create("crash", VolumeModelTest.SIZE);
        VolumeModel model = new VolumeModel(VolumeModelTest.SIZE);
        Volume v = mgr.open("crash");
        long epoch = v.epoch();
        for (int crash = 0; crash < 25; crash++) {
            int ops = rnd.nextInt(120);
            for (int i = 0; i < ops; i++) {
                long[] r = VolumeModelTest.randomRange(rnd);
                int op = rnd.nextInt(10);
                if (op < 7) {
                    byte[] d = new byte[(int) r[1]];
                    rnd.nextBytes(d);
                    v.write(r[0], d, false);
                    model.write(r[0], d);
                } else if (op < 8) {
                    v.trim(r[0], r[1]);
                    model.zero(r[0], r[1]);
                } else if (op < 9) {
                    v.writeZeroes(r[0], r[1], false);
                    model.zero(r[0], r[1]);
                } else {
                    v.flush();
                }
            }
            v.abandon();
            // a restarted process: a new manager on the same data directory and store
            mgr = new VolumeManager(store, data, NioFs.INSTANCE, VolumeModelTest.smallConfig());
            v = mgr.open("crash");
            assertTrue(v.epoch() > epoch, "the node takes its own lease back with a new epoch");
            epoch = v.epoch();
            model.assertMatches(v, "seed " + seed + " (" + kind + ") after crash " + crash);
        }
        v.close();
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
