package io.viperblock.core.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.core.NoSpaceException;
import io.viperblock.core.io.CrashFs;
import io.viperblock.core.store.MemoryStore;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The WAL disk fills up: writes fail with ENOSPC, everything acknowledged stays readable and
 * survives a power loss if flushed, and once space is freed the volume works again without a
 * reopen.
 */
class VolumeDiskFullTest {
    @Test
    void fullWalDiskGivesNoSpaceAndRecoversWhenSpaceReturns() throws Exception {
        CrashFs fs = new CrashFs();
        MemoryStore store = new MemoryStore();
        store.put("probe", java.nio.ByteBuffer.allocate(1)); // the store works; only the local disk fills
        // no timed sealing: a consolidation would delete a segment and so free space in the middle
        // of the checks below (space coming back that way is the disk-full campaign's subject)
        VolumeManager mgr = new VolumeManager(store, Path.of("/data"), fs,
                VolumeModelTest.smallConfig().withSealAfter(java.time.Duration.ofHours(1)));
        mgr.create("full", 8 << 20);
        Volume v = mgr.open("full");
        SplittableRandom rnd = new SplittableRandom(42);
        byte[][] written = new byte[32][];
        fs.failWritesAfter(600 << 10); // room for a few of the 64 KiB writes below
        int ok = 0;
        NoSpaceException full = null;
        for (int i = 0; i < 32; i++) {
            byte[] d = new byte[64 << 10];
            rnd.nextBytes(d);
            try {
                v.write((long) i << 16, d, false);
                written[i] = d;
                ok++;
            } catch (NoSpaceException e) {
                full = e;
                break;
            }
        }
        assertTrue(full != null && ok > 0, "the disk must fill up after some writes (ok=" + ok + ")");
        assertTrue(full.getMessage().contains("disk full"), full.getMessage());
        // reads and flushes of what was acknowledged still work while the disk is full
        v.flush();
        for (int i = 0; i < ok; i++) {
            assertArrayEquals(written[i], v.read((long) i << 16, 64 << 10), "write " + i);
        }
        assertThrows(NoSpaceException.class, () -> v.write(31L << 16, new byte[64 << 10], false));
        // space comes back (consolidation also drains the WAL into the store)
        fs.setSpaceLimit(Long.MAX_VALUE);
        byte[] after = new byte[64 << 10];
        rnd.nextBytes(after);
        v.write(31L << 16, after, true);
        assertArrayEquals(after, v.read(31L << 16, 64 << 10));
        // and a power loss now keeps every flushed write
        v.abandon();
        fs.crash();
        Volume again = new VolumeManager(store, Path.of("/data"), fs, VolumeModelTest.smallConfig()).open("full");
        for (int i = 0; i < ok; i++) {
            assertArrayEquals(written[i], again.read((long) i << 16, 64 << 10), "after power loss, write " + i);
        }
        assertArrayEquals(after, again.read(31L << 16, 64 << 10));
        again.close();
    }
}
