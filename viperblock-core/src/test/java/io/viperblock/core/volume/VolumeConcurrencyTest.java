package io.viperblock.core.volume;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.viperblock.core.io.NioFs;
import io.viperblock.core.store.MemoryStore;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Many threads write (whole blocks and 512-byte sectors, so partial blocks take the
 * read-modify-write path; some whole-block writes several at a time, {@link Volume#writeAll}) and read overlapping ranges of a small volume while it consolidates.
 * Checked: every read sector holds one write's bytes (no tearing); the final state equals every
 * WAL record replayed in sequence order; and no update is lost: the write a sector ends with was
 * not followed, in real time, by another write to that sector.
 */
class VolumeConcurrencyTest {
    static final int SIZE = 1 << 20; // 256 blocks, 2048 sectors: heavy overlap
    static final int SECTOR = 512;

    @TempDir
    Path tmp;

    /** One write: its id is stamped in every sector it writes; start and end are nanoTime. */
    record Op(int id, long offset, int length, long start, long end) {}

    @Test
    void concurrentOverlappingWritesAndReads() throws Exception {
        long seed = Long.getLong("vb.seed", System.nanoTime());
        VolumeManager mgr = new VolumeManager(new MemoryStore(), tmp, NioFs.INSTANCE, VolumeModelTest.smallConfig());
        mgr.create("c", SIZE);
        Volume v = mgr.open("c");
        ConcurrentLinkedQueue<Object[]> changes = new ConcurrentLinkedQueue<>();
        v.observer = (seq, type, first, count, payload) -> {
            byte[] copy = null;
            if (payload != null) {
                copy = new byte[payload.remaining()];
                payload.get(copy);
            }
            changes.add(new Object[] {seq, type, first, count, copy});
        };
        int threads = 8;
        int opsPerThread = 400;
        ConcurrentLinkedQueue<Op> ops = new ConcurrentLinkedQueue<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        CountDownLatch go = new CountDownLatch(1);
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int tid = t;
            workers.add(Thread.ofPlatform().start(() -> {
                SplittableRandom rnd = new SplittableRandom(seed + tid);
                try {
                    go.await();
                    for (int i = 0; i < opsPerThread; i++) {
                        int id = tid * 1_000_000 + i + 1;
                        int sectors = 1 + rnd.nextInt(24);
                        long off = (long) rnd.nextInt(SIZE / SECTOR - sectors) * SECTOR;
                        if (rnd.nextBoolean()) { // whole blocks
                            off = off / 4096 * 4096;
                            sectors = Math.min(((sectors + 7) / 8) * 8, (int) ((SIZE - off) / SECTOR));
                        }
                        int r = rnd.nextInt(10);
                        if (r < 7 && off % 4096 == 0 && sectors % 8 == 0 && rnd.nextInt(3) == 0) {
                            // several writes of whole blocks as one group commit, overlapping each other too
                            int n = 1 + rnd.nextInt(6);
                            long[] offsets = new long[n];
                            ByteBuffer[] data = new ByteBuffer[n];
                            int[] ids = new int[n];
                            for (int k = 0; k < n; k++) {
                                int blocks = 1 + rnd.nextInt(4);
                                offsets[k] = k == 0 ? off : 4096L * rnd.nextInt(SIZE / 4096 - blocks);
                                ids[k] = k == 0 ? id : tid * 1_000_000 + 500_000 + i * 8 + k;
                                data[k] = ByteBuffer.wrap(stamp(ids[k], k == 0 ? sectors : blocks * 8));
                            }
                            long start = System.nanoTime();
                            v.writeAll(offsets, data, n);
                            long end = System.nanoTime();
                            for (int k = 0; k < n; k++) {
                                ops.add(new Op(ids[k], offsets[k], data[k].remaining(), start, end));
                            }
                        } else if (r < 7) {
                            byte[] data = stamp(id, sectors);
                            long start = System.nanoTime();
                            v.write(off, data, false);
                            ops.add(new Op(id, off, data.length, start, System.nanoTime()));
                        } else if (r < 9) {
                            byte[] got = v.read(off, sectors * SECTOR);
                            for (int s = 0; s < sectors; s++) {
                                checkSector(got, s * SECTOR, "seed " + seed + ": read at " + (off + s * SECTOR));
                            }
                        } else {
                            v.flush();
                        }
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            }));
        }
        go.countDown();
        for (Thread w : workers) {
            w.join();
        }
        if (failure.get() != null) {
            throw new AssertionError("seed " + seed, failure.get());
        }
        v.observer = null;
        byte[] actual = v.read(0, SIZE);

        // 1. the final state is the WAL records replayed in sequence order
        List<Object[]> sorted = new ArrayList<>(changes);
        sorted.sort((a, b) -> Long.compare((Long) a[0], (Long) b[0]));
        byte[] replay = new byte[SIZE];
        for (Object[] c : sorted) {
            long first = (Long) c[2];
            int count = (Integer) c[3];
            if (c[4] != null) {
                System.arraycopy((byte[]) c[4], 0, replay, (int) (first * 4096), count * 4096);
            } else {
                Arrays.fill(replay, (int) (first * 4096), (int) ((first + count) * 4096), (byte) 0);
            }
        }
        assertTrue(Arrays.equals(replay, actual), "seed " + seed + ": final state differs from the records replayed in sequence order at byte "
                + Arrays.mismatch(replay, actual));

        // 2. no torn sector, and no lost update
        List<Op> all = new ArrayList<>(ops);
        java.util.Map<Integer, Op> byId = new java.util.HashMap<>();
        for (Op o : all) {
            byId.put(o.id(), o);
        }
        for (int s = 0; s < SIZE / SECTOR; s++) {
            int id = checkSector(actual, s * SECTOR, "seed " + seed + ": final sector " + s);
            long sectorOff = (long) s * SECTOR;
            Op last = byId.get(id);
            for (Op o : all) {
                boolean covers = o.offset() <= sectorOff && sectorOff < o.offset() + o.length();
                if (covers && o.id() != id && (last == null || o.start() > last.end())) {
                    fail("seed " + seed + ": sector " + s + " ends with write " + id + " but write " + o.id()
                            + " to it started after that one had finished: a lost update");
                }
            }
        }
        v.drain();
        assertEquals(0, v.stats().dirtyExtents());
        assertTrue(Arrays.equals(actual, v.read(0, SIZE)), "seed " + seed + ": contents changed by consolidation");
        v.close();
        Volume again = mgr.open("c");
        assertTrue(Arrays.equals(actual, again.read(0, SIZE)), "seed " + seed + ": contents changed by reopen");
        again.close();
    }

    /** {@code sectors} sectors each filled with the write id (int) repeated. */
    static byte[] stamp(int id, int sectors) {
        ByteBuffer b = ByteBuffer.allocate(sectors * SECTOR);
        while (b.hasRemaining()) {
            b.putInt(id);
        }
        return b.array();
    }

    /** Returns the id a sector holds (0 for never written), failing if it holds a mix. */
    static int checkSector(byte[] data, int at, String context) {
        ByteBuffer b = ByteBuffer.wrap(data, at, SECTOR);
        int id = b.getInt();
        while (b.position() < at + SECTOR) {
            if (b.getInt() != id) {
                fail(context + ": torn sector (mixes writes " + id + " and another)");
            }
        }
        return id;
    }
}
