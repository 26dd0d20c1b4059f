package io.viperblock.core.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.core.io.NioFs;
import io.viperblock.core.store.FileStore;
import io.viperblock.core.store.MemoryStore;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The WAL window: sealed segments wait until the unconsolidated WAL passes {@code walWindowBytes}
 * or until they are {@code consolidateAfter} old, and are then consolidated as one batch, so what
 * a later record of the batch replaced is never packed into chunks; and the store, without the
 * node's WAL, still holds a state the volume was in.
 */
class ConsolidationWindowTest {
    private static final int RECORD = 256 << 10;

    @TempDir
    Path tmp;

    /** 1 MiB segments; only the window (or a drain) starts a consolidation. */
    private static VolumeConfig config(long window) {
        return VolumeConfig.defaults().withSegmentBytes(1 << 20).withMaxPendingWalBytes(16 << 20).withWalWindowBytes(window)
                .withSealAfter(Duration.ofHours(1)).withConsolidateAfter(Duration.ofHours(1)).withCheckpointEvery(2)
                .withCacheBytes(1 << 20).withUploadParallelism(2).withChunkGrace(Duration.ZERO);
    }

    private static byte[] random(SplittableRandom rnd, int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }

    private static void awaitConsolidations(Volume v, long runs) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (v.stats().consolidations() < runs) {
            assertTrue(System.nanoTime() < deadline, "the consolidator ran " + v.stats().consolidations() + " times, not " + runs);
            Thread.sleep(5);
        }
    }

    @Test
    void aRegionRewrittenWithinTheWindowIsPackedAboutOnce() throws Exception {
        SplittableRandom rnd = new SplittableRandom(11);
        MemoryStore store = new MemoryStore();
        VolumeManager mgr = new VolumeManager(store, tmp.resolve("data"), NioFs.INSTANCE, config(6 << 20));
        mgr.create("w", 16 << 20);
        byte[][] last = new byte[4][];
        int rounds = 24; // 24 MiB into a 1 MiB region, 4 records a round
        try (Volume v = mgr.open("w")) {
            for (int round = 0; round < rounds; round++) {
                for (int i = 0; i < last.length; i++) {
                    last[i] = random(rnd, RECORD);
                    v.write((long) i * RECORD, last[i], false);
                }
            }
            awaitConsolidations(v, 3); // batches of about 5 segments
            for (int i = 0; i < last.length; i++) {
                assertArrayEquals(last[i], v.read((long) i * RECORD, RECORD), "record " + i + " before the drain");
            }
            v.drain();
            VolumeStats s = v.stats();
            // batches of about 5 segments, each packing the 1 MiB region once; one segment at a
            // time would pack every block written: 24 MiB
            assertTrue(s.chunkBytesWritten() < 8L << 20, "chunk bytes written: " + s.chunkBytesWritten());
            assertTrue(s.blocksReplacedInWal() >= 12L * 256, "blocks not packed: " + s.blocksReplacedInWal());
            for (int i = 0; i < last.length; i++) {
                assertArrayEquals(last[i], v.read((long) i * RECORD, RECORD), "record " + i + " after the drain");
            }
        }
        try (Volume v = mgr.open("w")) {
            for (int i = 0; i < last.length; i++) {
                assertArrayEquals(last[i], v.read((long) i * RECORD, RECORD), "record " + i + " after a reopen");
            }
        }
        VolumeCheck.Report check = mgr.check("w", VolumeCheck.Progress.NONE);
        assertTrue(check.clean(), check.problems().toString());
    }

    /**
     * X and Y written in the first segment, X again in the second: whatever the node consolidated
     * before it died, another node taking over from the store alone (the first node's WAL lost
     * with it) finds X and Y as they were at one moment, never Y's new version with X's version
     * from before both writes.
     */
    @Test
    void theStoreAloneHoldsAStateTheVolumeWasIn() throws Exception {
        SplittableRandom rnd = new SplittableRandom(12);
        Path store = tmp.resolve("store");
        // a window of 1.5 MiB: passed while the second segment fills or once it is sealed
        VolumeConfig config = config(3 << 19);
        VolumeManager a = new VolumeManager(new FileStore(store), tmp.resolve("a"), NioFs.INSTANCE, config);
        a.create("p", 16 << 20);
        byte[] x1 = random(rnd, 4096);
        byte[] y1 = random(rnd, 4096);
        byte[] x2 = random(rnd, 4096);
        long y = 8L << 20;
        Volume v = a.open("p");
        v.write(0, x1, false);
        v.write(y, y1, false);
        for (int i = 1; i <= 4; i++) {
            v.write((long) i * RECORD, random(rnd, RECORD), false); // the 4th does not fit: the first segment is sealed
        }
        v.write(0, x2, false); // in the second segment
        for (int i = 5; i <= 12; i++) {
            v.write((long) i * RECORD, random(rnd, RECORD), false); // the second segment is sealed, the window passed
        }
        awaitConsolidations(v, 1);
        v.abandon(); // node a is gone, and its WAL with it

        try (Volume b = new VolumeManager(new FileStore(store), tmp.resolve("b"), NioFs.INSTANCE, config).open("p", true)) {
            String state = name(b.read(0, 4096), x1, x2) + "/" + name(b.read(y, 4096), y1, null);
            // the writes in order: x1, y1, x2; each state allowed is the volume after a prefix of them
            assertTrue(List.of("0/0", "x1/0", "x1/y1", "x2/y1").contains(state), "the store alone holds X/Y = " + state);
        }
    }

    /** Which of the versions {@code got} is: "0" (never written), the first, the second, or "?". */
    private static String name(byte[] got, byte[] first, byte[] second) {
        if (Arrays.equals(got, first)) {
            return second == null ? "y1" : "x1";
        }
        if (second != null && Arrays.equals(got, second)) {
            return "x2";
        }
        return Arrays.equals(got, new byte[got.length]) ? "0" : "?";
    }

    @Test
    void aSealedSegmentWaitsUntilItIsConsolidateAfterOld() throws Exception {
        Duration after = Duration.ofMillis(300);
        VolumeManager mgr = new VolumeManager(new MemoryStore(), tmp.resolve("data"), NioFs.INSTANCE,
                config(8 << 20).withConsolidateAfter(after));
        mgr.create("a", 16 << 20);
        long started = System.nanoTime(); // before the open, which starts the first segment
        try (Volume v = mgr.open("a")) {
            byte[] first = random(new SplittableRandom(13), RECORD);
            v.write(0, first, false);
            for (int i = 1; i <= 4; i++) {
                v.write((long) i * RECORD, new byte[RECORD], false); // seals the first segment, far inside the window
            }
            awaitConsolidations(v, 1);
            long waited = System.nanoTime() - started;
            assertTrue(waited >= after.toNanos(), "consolidated after " + waited / 1_000_000 + " ms, before the segment was 300 ms old");
            assertArrayEquals(first, v.read(0, RECORD));
        }
    }
}
