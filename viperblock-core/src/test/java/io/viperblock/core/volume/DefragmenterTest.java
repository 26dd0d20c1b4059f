package io.viperblock.core.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.core.io.NioFs;
import io.viperblock.core.store.MemoryStore;
import io.viperblock.core.testing.Seeds;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A large read that finds its blocks scattered over many chunks has the range written again once
 * the volume is quiet (Defragmenter): the blocks then lie together, the data and the holes are
 * unchanged, and a client write that races a rewrite is never undone.
 */
class DefragmenterTest {
    private static final int BLOCK = 4096;
    private static final int REGION = Defragmenter.REGION_BLOCKS * BLOCK;
    private static final long SIZE = 8L << 20;

    @TempDir
    Path dir;

    private final MemoryStore store = new MemoryStore();

    private Volume open(String name, Duration quiet) throws IOException {
        return new VolumeManager(store, dir, NioFs.INSTANCE, VolumeScenarios.smallConfig().withMaxPendingWalBytes(16 << 20).withDefragQuiet(quiet))
                .open(name);
    }

    private Volume create(String name, Duration quiet) throws IOException {
        new VolumeManager(store, dir, NioFs.INSTANCE, VolumeScenarios.smallConfig()).create(name, SIZE);
        return open(name, quiet);
    }

    /**
     * Writes region {@code r} whole, then every other block of it again, then trims its last 16
     * blocks, consolidating after each step: its blocks alternate between two chunks, then a hole.
     * Returns what it holds.
     */
    private static byte[] scatter(Volume v, int r, SplittableRandom rnd) throws IOException {
        long at = (long) r * REGION;
        byte[] model = Seeds.bytes(rnd, REGION);
        v.write(at, model, false);
        v.drain();
        for (int b = 1; b < Defragmenter.REGION_BLOCKS; b += 2) {
            byte[] block = Seeds.bytes(rnd, BLOCK);
            v.write(at + (long) b * BLOCK, block, false);
            System.arraycopy(block, 0, model, b * BLOCK, BLOCK);
        }
        v.trim(at + REGION - 16 * BLOCK, 16 * BLOCK);
        java.util.Arrays.fill(model, REGION - 16 * BLOCK, REGION, (byte) 0);
        v.drain();
        return model;
    }

    private static long filledSpares(Path wal) throws IOException {
        try (var files = java.nio.file.Files.list(wal)) {
            return files.filter(f -> f.getFileName().toString().startsWith("zero-")).count();
        }
    }

    private static void waitFor(Volume v, long blocks) throws InterruptedException {
        for (int i = 0; i < 200 && v.stats().blocksDefragmented() < blocks; i++) {
            Thread.sleep(25);
        }
    }

    @Test
    void aScatteredRangeIsWrittenAgainOnceTheVolumeIsQuietAndReadsTheSame() throws Exception {
        SplittableRandom rnd = Seeds.random("defrag");
        try (Volume v = create("quiet", Duration.ofMillis(100))) {
            byte[] model = scatter(v, 3, rnd);
            long scatteredExtents = v.stats().mapExtents();
            List<StatusExtent> holes = v.blockStatus(3L * REGION, REGION);
            assertArrayEquals(model, v.read(3L * REGION, REGION)); // the large read that notes the region

            waitFor(v, Defragmenter.REGION_BLOCKS - 16);
            v.drain();
            VolumeStats s = v.stats();
            assertEquals(Defragmenter.REGION_BLOCKS - 16, s.blocksDefragmented(), "the region's data blocks, not its hole: " + s);
            assertTrue(scatteredExtents >= Defragmenter.REGION_BLOCKS - 16, "the region was not scattered to begin with: " + scatteredExtents);
            assertTrue(s.mapExtents() <= 2, "the region still lies in " + s.mapExtents() + " pieces: " + s);
            assertArrayEquals(model, v.read(3L * REGION, REGION), "the data changed");
            assertEquals(holes, v.blockStatus(3L * REGION, REGION), "the hole changed");
        }
    }

    @Test
    void nothingIsWrittenAgainWhileClientsKeepComingOrWhenTurnedOff() throws Exception {
        SplittableRandom rnd = Seeds.random("defrag-busy");
        try (Volume v = create("busy", Duration.ofMillis(300))) {
            byte[] model = scatter(v, 1, rnd);
            long until = System.nanoTime() + Duration.ofMillis(1500).toNanos();
            while (System.nanoTime() < until) { // a large read every 50 ms: never 300 ms quiet
                assertArrayEquals(model, v.read(REGION, REGION));
                Thread.sleep(50);
            }
            assertEquals(0, v.stats().blocksDefragmented(), "rewrote while a client was busy");
            waitFor(v, 1);
            assertTrue(v.stats().blocksDefragmented() > 0, "never rewrote once the client stopped");
        }
        try (Volume v = create("off", Duration.ZERO)) {
            byte[] model = scatter(v, 2, rnd);
            assertArrayEquals(model, v.read(2L * REGION, REGION));
            Thread.sleep(500);
            assertEquals(0, v.stats().blocksDefragmented(), "rewrote with the defragmenter turned off");
        }
    }

    /**
     * The other quiet-time work: the WAL segments that had to start in new files get spare files
     * filled with zeros once the volume is quiet, and the next segments take them; nothing is
     * filled with the quiet-time work turned off. The data reads back unchanged.
     */
    @Test
    void sparesAreFilledOnceQuietForTheSegmentsThatStartedInNewFiles() throws Exception {
        SplittableRandom rnd = Seeds.random("defrag-spares");
        for (Duration quiet : List.of(Duration.ofMillis(100), Duration.ZERO)) {
            String name = quiet.isZero() ? "spares-off" : "spares";
            try (Volume v = create(name, quiet)) {
                byte[] model = Seeds.bytes(rnd, 3 * REGION);
                for (int at = 0; at < model.length; at += 16 * BLOCK) { // over three 1 MiB segments, each in a new file
                    v.write(at, java.util.Arrays.copyOfRange(model, at, at + 16 * BLOCK), false);
                }
                v.flush();
                for (int i = 0; i < 200 && v.stats().walSparesFilled() == 0; i++) {
                    Thread.sleep(25);
                }
                if (quiet.isZero()) {
                    Thread.sleep(500);
                    assertEquals(0, v.stats().walSparesFilled(), "filled with the quiet-time work turned off");
                } else {
                    assertTrue(v.stats().walSparesFilled() > 0, "no spare filled: " + v.stats());
                    Path wal = dir.resolve("volumes").resolve(name).resolve("wal");
                    long filled = filledSpares(wal);
                    assertTrue(filled > 0, "no filled spare in " + wal);
                    for (int at = 0; at < 2 * REGION; at += 16 * BLOCK) { // the same bytes again, over two more segments
                        v.write(at, java.util.Arrays.copyOfRange(model, at, at + 16 * BLOCK), false);
                    }
                    v.flush();
                    assertTrue(filledSpares(wal) < filled, "the next segments took no filled spare");
                }
                v.drain();
                assertArrayEquals(model, v.read(0, model.length), "the data changed");
            }
        }
    }

    /**
     * A block damaged in the WAL after it was written fails the rewrite, which would give it a
     * CRC of its own and so make the damage good data; the consolidated chunk still holds the
     * block as written, checked against the CRC the write came with. A partial write into that
     * block (a read-modify-write, Volume.writeLocked) fails the same way.
     */
    @Test
    void aBlockDamagedInTheWalFailsTheRewriteAndAPartialWriteInsteadOfBecomingGoodData() throws Exception {
        SplittableRandom rnd = Seeds.random("defrag-damage");
        try (Volume v = create("damage", Duration.ZERO)) {
            v.write(0, Seeds.bytes(rnd, REGION), false);
            v.drain();
            byte[] block = Seeds.bytes(rnd, BLOCK);
            for (int b = 1; b < Defragmenter.REGION_BLOCKS; b += 2) {
                v.write((long) b * BLOCK, b == 5 ? block : Seeds.bytes(rnd, BLOCK), false);
            }
            // consolidated in the background (not drained: a drain lets the kept segments go), so
            // these blocks are read from a sealed segment the WAL keeps
            for (int i = 0; i < 200 && v.stats().keptWalBytes() == 0; i++) {
                Thread.sleep(25);
            }
            assertTrue(v.stats().keptWalBytes() > 0, "not consolidated and kept: " + v.stats());
            assertTrue(damage(block) > 0, "the block was not found in the WAL");
            io.viperblock.core.format.CorruptFormatException e = org.junit.jupiter.api.Assertions.assertThrows(
                    io.viperblock.core.format.CorruptFormatException.class, () -> v.rewrite(0, Defragmenter.REGION_BLOCKS));
            assertTrue(e.getMessage().contains("does not match the CRC32C it was written with"), e.getMessage());
            assertEquals(0, v.stats().blocksDefragmented());

            // a partial write into the block merges its old contents, which get a CRC of their own too: the same check
            e = org.junit.jupiter.api.Assertions.assertThrows(io.viperblock.core.format.CorruptFormatException.class,
                    () -> v.write(5L * BLOCK + 512, new byte[512], false));
            assertTrue(e.getMessage().contains("does not match the CRC32C it was written with"), e.getMessage());
            assertEquals(0, v.stats().partialWrites(), "the partial write went through");
        }
    }

    /**
     * The same for a block still in the segment taking writes, whose CRCs a partial write checks
     * under the WAL's write lock: damage there fails the partial write too.
     */
    @Test
    void aBlockDamagedInTheSegmentTakingWritesFailsAPartialWrite() throws Exception {
        SplittableRandom rnd = Seeds.random("partial-damage");
        VolumeConfig config = VolumeScenarios.smallConfig().withSealAfter(Duration.ofHours(1)).withDefragQuiet(Duration.ZERO);
        VolumeManager mgr = new VolumeManager(store, dir, NioFs.INSTANCE, config);
        mgr.create("active", SIZE);
        try (Volume v = mgr.open("active")) {
            byte[] block = Seeds.bytes(rnd, BLOCK);
            v.write(7L * BLOCK, block, false);
            byte[] other = Seeds.bytes(rnd, BLOCK);
            v.write(9L * BLOCK, other, false);
            assertEquals(1, damage(block), "the block is in the active segment's file only");

            io.viperblock.core.format.CorruptFormatException e = org.junit.jupiter.api.Assertions.assertThrows(
                    io.viperblock.core.format.CorruptFormatException.class, () -> v.write(7L * BLOCK + 100, new byte[512], false));
            assertTrue(e.getMessage().contains("does not match the CRC32C it was written with"), e.getMessage());
            assertEquals(0, v.stats().partialWrites(), "the partial write went through");

            v.write(9L * BLOCK + 100, new byte[512], false); // an undamaged block merges as before
            System.arraycopy(new byte[512], 0, other, 100, 512);
            assertArrayEquals(other, v.read(9L * BLOCK, BLOCK));
            assertEquals(1, v.stats().partialWrites());
        }
    }

    /** Flips one byte of every copy of {@code block} in the files under the data directory; how many copies. */
    private int damage(byte[] block) throws IOException {
        int damaged = 0;
        try (var files = java.nio.file.Files.walk(dir)) {
            for (Path f : files.filter(java.nio.file.Files::isRegularFile).toList()) {
                byte[] bytes = java.nio.file.Files.readAllBytes(f);
                for (int at = indexOf(bytes, block, 0); at >= 0; at = indexOf(bytes, block, at + 1)) {
                    try (var ch = java.nio.channels.FileChannel.open(f, java.nio.file.StandardOpenOption.WRITE)) {
                        ch.write(java.nio.ByteBuffer.wrap(new byte[] {(byte) ~block[100]}), at + 100);
                    }
                    damaged++;
                }
            }
        }
        return damaged;
    }

    private static int indexOf(byte[] hay, byte[] needle, int from) {
        outer:
        for (int i = from; i <= hay.length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    /**
     * A client writing the region while it is rewritten, over and over (the rewrite called
     * directly, as the defragmenter would call it if the client came back mid-rewrite): every
     * write the client made is what the volume holds at the end, also after a reopen.
     */
    @Test
    void aClientWriteRacingARewriteIsNeverUndone() throws Exception {
        SplittableRandom rnd = Seeds.random("defrag-race");
        byte[] model;
        try (Volume v = create("race", Duration.ZERO)) {
            model = scatter(v, 0, rnd);
            AtomicReference<Throwable> failed = new AtomicReference<>();
            java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
            java.util.concurrent.atomic.AtomicLong rewritten = new java.util.concurrent.atomic.AtomicLong();
            Thread rewriter = Thread.ofPlatform().start(() -> {
                try {
                    while (!stop.get()) {
                        int n = v.rewrite(0, Defragmenter.REGION_BLOCKS); // -1 while blocks are in the segment taking writes
                        rewritten.addAndGet(Math.max(0, n));
                    }
                } catch (Throwable e) {
                    failed.set(e);
                }
            });
            try {
                for (int i = 0; i < 3000; i++) {
                    int b = rnd.nextInt(Defragmenter.REGION_BLOCKS);
                    byte[] block = Seeds.bytes(rnd, BLOCK);
                    v.write((long) b * BLOCK, block, false);
                    System.arraycopy(block, 0, model, b * BLOCK, BLOCK);
                    if (i % 500 == 499) {
                        v.drain();
                    }
                }
            } finally {
                stop.set(true);
                rewriter.join();
            }
            if (failed.get() != null) {
                throw new AssertionError("the rewrite failed", failed.get());
            }
            assertTrue(rewritten.get() > 0, "the race never happened: nothing was rewritten");
            assertArrayEquals(model, v.read(0, REGION), "a client write was undone by a rewrite");
        }
        try (Volume v = open("race", Duration.ZERO)) {
            assertArrayEquals(model, v.read(0, REGION), "after a reopen");
        }
    }
}
