package io.viperblock.core.volume;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.viperblock.core.io.CrashFs;
import io.viperblock.core.store.FileStore;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.zip.CRC32C;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Power loss: the WAL directory and a file store both live on a {@link CrashFs}, which at a
 * random operation cuts the power (that and every later file operation fail) and then keeps
 * only what was fsynced (STRICT) or that plus a random subset of unsynced pages (TORN). The
 * power may go in the middle of a WAL batch, a consolidation, a chunk or delta upload, a
 * checkpoint or a segment deletion. After reopening, every block must hold its value as of the
 * last successful flush or a value written to it after that, and never anything else.
 */
class VolumePowerLossTest {
    static final Path STORE = Path.of("/store");
    static final Path DATA = Path.of("/data");
    static final int SIZE = VolumeModelTest.SIZE;
    static final int BLOCKS = SIZE / 4096;

    @ParameterizedTest
    @EnumSource(CrashFs.Mode.class)
    void flushedWritesSurvivePowerLoss(CrashFs.Mode mode) throws Exception {
        long seed = Long.getLong("vb.seed", System.nanoTime());
        int cycles = Integer.getInteger("vb.powerloss.cycles", 40);
        SplittableRandom rnd = new SplittableRandom(seed);
        CrashFs fs = new CrashFs();
        VolumeManager mgr = manager(fs);
        mgr.create("pl", SIZE);
        byte[] current = new byte[SIZE]; // contents as acknowledged
        long[] flushed = new long[BLOCKS]; // hash of each block as of the last flush
        List<Set<Long>> since = new ArrayList<>(); // hashes written to each block since then
        for (int b = 0; b < BLOCKS; b++) {
            since.add(new HashSet<>());
        }
        Arrays.fill(flushed, hash(current, 0));
        long cuts = 0;
        for (int cycle = 0; cycle < cycles; cycle++) {
            String ctx = "seed " + seed + " " + mode + " cycle " + cycle;
            Volume v = mgr.open("pl");
            fs.powerCutAfter(rnd.nextInt(6000));
            try {
                for (int i = 0; i < 200; i++) {
                    long[] r = VolumeModelTest.randomRange(rnd, 128 << 10); // CrashFs keeps two copies of every file in memory
                    int op = rnd.nextInt(20);
                    byte[] next = current.clone();
                    if (op < 13) {
                        byte[] d = new byte[(int) r[1]];
                        rnd.nextBytes(d);
                        System.arraycopy(d, 0, next, (int) r[0], d.length);
                        remember(next, r, since); // a failed write may still have reached the disk
                        boolean fua = rnd.nextInt(8) == 0;
                        v.write(r[0], d, fua);
                        current = next;
                        if (fua) {
                            flushed(current, flushed, since);
                        }
                    } else if (op < 16) {
                        Arrays.fill(next, (int) r[0], (int) (r[0] + r[1]), (byte) 0);
                        remember(next, r, since);
                        if (op == 13) {
                            v.trim(r[0], r[1]);
                        } else {
                            v.writeZeroes(r[0], r[1], false);
                        }
                        current = next;
                    } else if (op < 19) {
                        v.flush();
                        flushed(current, flushed, since);
                    } else {
                        Thread.sleep(rnd.nextInt(30)); // let the consolidator run into the cut
                    }
                }
            } catch (IOException e) {
                cuts++; // the power went: nothing after this was acknowledged
            }
            v.abandon();
            fs.crash(mode, rnd);
            mgr = manager(fs);
            Volume after;
            try {
                after = mgr.open("pl");
            } catch (IOException e) {
                throw new AssertionError(ctx + ": volume does not open after the power loss", e);
            }
            byte[] actual = after.read(0, SIZE);
            for (int b = 0; b < BLOCKS; b++) {
                long h = hash(actual, b);
                if (h != flushed[b] && !since.get(b).contains(h)) {
                    fail(ctx + ": block " + b + " holds a value that was neither flushed nor written after the last flush"
                            + (Arrays.equals(Arrays.copyOfRange(actual, b * 4096, b * 4096 + 4096), new byte[4096]) ? " (zeros)" : ""));
                }
            }
            after.close();
            current = actual;
            flushed(current, flushed, since);
        }
        assertTrue(cuts > 0, "seed " + seed + ": the power never went during a workload");
    }

    private static VolumeManager manager(CrashFs fs) throws IOException {
        return new VolumeManager(new FileStore(STORE, fs), DATA, fs, VolumeModelTest.smallConfig());
    }

    private static void remember(byte[] next, long[] range, List<Set<Long>> since) {
        for (long b = range[0] / 4096; b <= (range[0] + range[1] - 1) / 4096; b++) {
            since.get((int) b).add(hash(next, (int) b));
        }
    }

    private static void flushed(byte[] current, long[] flushed, List<Set<Long>> since) {
        for (int b = 0; b < BLOCKS; b++) {
            flushed[b] = hash(current, b);
            since.get(b).clear();
        }
    }

    static long hash(byte[] data, int block) {
        CRC32C c = new CRC32C();
        c.update(data, block * 4096, 4096);
        return c.getValue() << 32 ^ Arrays.hashCode(Arrays.copyOfRange(data, block * 4096, block * 4096 + 4096));
    }
}
