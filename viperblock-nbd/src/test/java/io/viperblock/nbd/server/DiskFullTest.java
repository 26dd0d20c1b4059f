package io.viperblock.nbd.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.core.NoSpaceException;
import io.viperblock.core.store.FileStore;
import io.viperblock.core.volume.Volume;
import io.viperblock.core.volume.VolumeConfig;
import io.viperblock.core.volume.VolumeManager;
import io.viperblock.nbd.protocol.Nbd;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Campaign 4, disk full: the WAL lives on a small ext4 file system of its own (a loop-mounted
 * image in the test's directory), the store on the ordinary disk, and a volume is served over NBD
 * by the in-process server. Each round writes (with flushes) over NBD until the WAL file system
 * is full and writes fail with ENOSPC (errno 28); every write acknowledged before must read back
 * exactly, a flush must still work, and further writes keep failing cleanly. Then space comes
 * back without a restart: in odd rounds the volume's WAL is drained into the store while the disk
 * is full (what the consolidator does), which frees its segment; when even that cannot start
 * (sealing the segment needs room for a new one) it must fail with ENOSPC and change nothing,
 * and, as in even rounds, a ballast file made at the start is deleted. Writes must work again,
 * everything acknowledged must read back, and the WAL is drained for the next round. At the end
 * the server stops, the volume closes and opens again, and every acknowledged write is there.
 *
 * <p>The volume uses one WAL segment larger than the file system and no sealing by time, so the
 * disk fills deterministically instead of racing the consolidator. {@code -Dcampaign.diskfull.rounds=N}
 * (default 2 in {@code make test}); {@code make campaign-diskfull ROUNDS=N}. The result line goes
 * to target/campaign-diskfull.json. Needs root (mount -o loop), mkfs.ext4, mount and umount.
 */
class DiskFullTest {
    private static final int BLOCK = 4096;
    private static final long WAL_FS = 64L << 20;
    private static final long BALLAST = 6L << 20;
    private static final int VOLUME_BLOCKS = 8192; // 32 MiB: the WAL holds many versions of each block
    private static final Duration T = Duration.ofSeconds(60);

    @TempDir
    Path tmp;

    private Path mnt;
    private VolumeManager manager;
    private Volume volume;
    private NbdServer server;
    private InetSocketAddress address;
    private final byte[] model = new byte[VOLUME_BLOCKS * BLOCK]; // what was acknowledged
    /** Per block, the bytes of a failed write that may have landed (NBD leaves that unspecified), or null. */
    private final byte[][] maybe = new byte[VOLUME_BLOCKS][];
    private long acknowledged;
    private long acknowledgedBytes;
    private int drainedWhileFull;
    private int drainRefusedWhileFull;
    private long refused;

    @Test
    void walDiskFillsUpAndWorksAgainOnceSpaceIsFreed() throws Exception {
        Tools.requireAll("mkfs.ext4", "mount", "umount");
        Tools.requireDevice("/dev/loop-control");
        Tools.requireRoot();
        int rounds = Integer.getInteger("campaign.diskfull.rounds", 2);
        SplittableRandom rnd = Tools.random("walDiskFillsUpAndWorksAgainOnceSpaceIsFreed");
        Path image = tmp.resolve("wal.img");
        mnt = tmp.resolve("wal");
        Files.createDirectories(mnt);
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(WAL_FS);
        }
        // -m 0: no blocks reserved for root, so "full" means full for this root-run test too
        Tools.cmd("mkfs.ext4", "-q", "-F", "-m", "0", image.toString()).timeout(T).run().ok();
        Tools.cmd("mount", "-o", "loop", image.toString(), mnt.toString()).timeout(T).run().ok();
        long started = System.nanoTime();
        long[] bytesUntilFull = new long[rounds];
        try {
            VolumeConfig config = VolumeConfig.defaults().withSegmentBytes(1L << 30).withSealAfter(Duration.ofHours(1));
            manager = new VolumeManager(new FileStore(tmp.resolve("store")), mnt.resolve("node"),
                    io.viperblock.core.io.NioFs.INSTANCE, config);
            manager.create("full", (long) VOLUME_BLOCKS * BLOCK);
            serve();
            for (int round = 0; round < rounds; round++) {
                String ctx = "round " + round;
                Path ballast = mnt.resolve("ballast");
                writeBallast(ballast, rnd);
                try (TestNbdClient c = client()) {
                    long before = acknowledgedBytes;
                    fillUntilFull(c, rnd, ctx);
                    bytesUntilFull[round] = acknowledgedBytes - before;
                    c.flush(); // a full disk still takes a flush of what it holds
                    verify(c, ctx + ", disk full");
                    fillUntilFull(c, rnd, ctx + ", still full"); // writes go on failing cleanly (small ones may still fit)
                    if (round % 2 == 1 && drainWhileFull()) {
                        drainedWhileFull++; // consolidation moved the WAL to the store and deleted its segment
                    } else {
                        Files.delete(ballast);
                    }
                    long free = Files.getFileStore(mnt).getUsableSpace();
                    assertTrue(free >= BALLAST / 2, ctx + ": only " + free + " bytes free after freeing space");
                    for (int i = 0; i < 8; i++) {
                        assertEquals(0, writeRandom(c, rnd), ctx + ": a write after space was freed");
                    }
                    c.flush();
                    verify(c, ctx + ", after space was freed");
                }
                volume.drain(); // empty the WAL for the next round
                Files.deleteIfExists(ballast);
            }
            stop();
            serve(); // a clean close and a new open: everything acknowledged is in the store
            try (TestNbdClient c = client()) {
                verify(c, "after the volume was closed and opened again");
            }
        } finally {
            try {
                stop();
            } finally {
                Tools.Result r = Tools.cmd("umount", mnt.toString()).timeout(T).run();
                if (r.exit() != 0) {
                    Tools.cmd("umount", "-l", mnt.toString()).timeout(T).run().ok();
                }
            }
        }
        double secs = (System.nanoTime() - started) / 1e9;
        String summary = String.format(Locale.ROOT,
                "{\"campaign\":\"disk-full\",\"rounds\":%d,\"walFileSystemBytes\":%d,\"acknowledgedWrites\":%d,\"refusedWrites\":%d,"
                        + "\"bytesWrittenUntilFull\":%s,\"drainedWhileFull\":%d,\"drainRefusedWhileFull\":%d,\"dataErrors\":0,\"seconds\":%.1f,\"finished\":\"%s\"}%n",
                rounds, WAL_FS, acknowledged, refused, Arrays.toString(bytesUntilFull).replace(" ", ""), drainedWhileFull, drainRefusedWhileFull, secs, Instant.now());
        System.out.print(summary);
        Files.writeString(Path.of("target", "campaign-diskfull.json"), summary, StandardCharsets.UTF_8);
    }

    /**
     * Drains the WAL into the store while its disk is full. Sealing the active segment needs a
     * new segment file first; if not even that fits, the drain is refused with ENOSPC and the WAL
     * stays as it was (a known limit: with a segment as large as the disk, only freeing space
     * helps). Returns whether it drained.
     */
    private boolean drainWhileFull() throws IOException {
        try {
            volume.drain();
            return true;
        } catch (NoSpaceException e) {
            drainRefusedWhileFull++;
            assertTrue(e.getMessage().contains("WAL disk full"), e.getMessage());
            return false;
        }
    }

    private void serve() throws IOException {
        volume = manager.open("full");
        server = new NbdServer(new VolumeExports(List.of(volume)), NbdServerConfig.defaults());
        address = server.listenTcp("127.0.0.1", 0);
    }

    private void stop() throws IOException {
        if (server != null) {
            server.shutdown(Duration.ofSeconds(10));
            server = null;
        }
        if (volume != null) {
            Volume v = volume;
            volume = null;
            v.close();
        }
    }

    private TestNbdClient client() throws IOException {
        return TestNbdClient.connect(address, "full", true);
    }

    private static void writeBallast(Path ballast, SplittableRandom rnd) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(ballast.toFile(), "rw")) {
            f.write(Tools.bytes(rnd, (int) BALLAST));
            f.getFD().sync();
        }
    }

    /** Writes and flushes until the disk refuses a write (ENOSPC); any other error fails the test. */
    private void fillUntilFull(TestNbdClient c, SplittableRandom rnd, String ctx) throws IOException {
        for (long written = 0; written < 4 * WAL_FS; ) {
            int err = writeRandom(c, rnd);
            if (err == Nbd.ENOSPC) {
                return;
            }
            assertEquals(0, err, ctx + ": a write failed, and not with ENOSPC");
            written += 1;
            if (rnd.nextInt(8) == 0) {
                c.flush();
            }
        }
        throw new AssertionError(ctx + ": the WAL file system never filled up");
    }

    /**
     * One aligned write of 4 KiB to 256 KiB of random bytes (sometimes FUA); returns its errno.
     * An acknowledged write goes into the model; a refused one may still have landed.
     */
    private int writeRandom(TestNbdClient c, SplittableRandom rnd) throws IOException {
        int blocks = rnd.nextInt(4) == 0 ? 1 + rnd.nextInt(64) : 1 + rnd.nextInt(8);
        int first = rnd.nextInt(VOLUME_BLOCKS - blocks + 1);
        byte[] data = Tools.bytes(rnd, blocks * BLOCK);
        int flags = rnd.nextInt(8) == 0 ? Nbd.CMD_FLAG_FUA : 0;
        TestNbdClient.Reply r = c.call(Nbd.CMD_WRITE, flags, (long) first * BLOCK, data.length, data);
        for (int b = 0; b < blocks; b++) {
            byte[] block = Arrays.copyOfRange(data, b * BLOCK, (b + 1) * BLOCK);
            if (r.error() == 0) {
                System.arraycopy(block, 0, model, (first + b) * BLOCK, BLOCK);
                maybe[first + b] = null;
            } else {
                maybe[first + b] = block;
            }
        }
        if (r.error() == 0) {
            acknowledged++;
            acknowledgedBytes += data.length;
        } else {
            refused++;
        }
        return r.error();
    }

    /** Reads the whole volume over NBD: every block holds what was acknowledged (or a refused write's bytes). */
    private void verify(TestNbdClient c, String ctx) throws IOException {
        int chunk = 1 << 20;
        for (int off = 0; off < model.length; off += chunk) {
            byte[] got = c.read(off, chunk);
            for (int b = 0; b < chunk / BLOCK; b++) {
                int block = off / BLOCK + b;
                boolean same = Arrays.equals(got, b * BLOCK, (b + 1) * BLOCK, model, block * BLOCK, (block + 1) * BLOCK);
                if (!same && !(maybe[block] != null && Arrays.equals(got, b * BLOCK, (b + 1) * BLOCK, maybe[block], 0, BLOCK))) {
                    throw new AssertionError(ctx + ": block " + block + " does not hold the last acknowledged write");
                }
            }
        }
    }
}
