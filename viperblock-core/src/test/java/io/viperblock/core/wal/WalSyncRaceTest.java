package io.viperblock.core.wal;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.core.format.WalRecord;
import io.viperblock.core.io.CrashFs;
import io.viperblock.core.io.Fs;
import io.viperblock.core.io.FsFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * Regression (found by the power-loss campaign): a flush takes the active segment, and before its
 * fdatasync gets to the file the consolidator seals that segment, consolidates it and deletes it,
 * closing the file. The flush must not fail on the closed file, which poisoned the WAL until the
 * volume was reopened: sealing forced the segment already. The disk here takes up to 2 ms to
 * start each fsync, which makes that interleaving common.
 */
class WalSyncRaceTest {
    @Test
    void aFlushRacingTheDeletionOfItsSegmentSucceeds() throws Exception {
        Fs fs = new SlowSyncFs(new CrashFs());
        Path dir = Path.of("/wal");
        fs.createDirectories(dir);
        WalWriter wal = new WalWriter(fs, dir, UUID.randomUUID(), 1, 1 << 20, new AtomicLong(1), List.of());
        AtomicBoolean stop = new AtomicBoolean();
        AtomicReference<Throwable> consolidatorFailure = new AtomicReference<>();
        AtomicLong retired = new AtomicLong();
        Thread consolidator = Thread.ofPlatform().start(() -> {
            try {
                while (!stop.get()) {
                    WalSegment s = wal.sealActive();
                    if (s != null) {
                        wal.retire(s); // consolidated at once: nothing else holds it, so it is deleted now
                        retired.incrementAndGet();
                    }
                }
            } catch (Throwable t) {
                consolidatorFailure.set(t);
            }
        });
        try {
            ByteBuffer block = ByteBuffer.allocate(4096);
            for (int i = 0; i < 400; i++) {
                wal.append(WalRecord.WRITE, i % 1024, 1, block.duplicate());
                wal.sync();
            }
        } finally {
            stop.set(true);
            consolidator.join();
        }
        assertTrue(consolidatorFailure.get() == null, () -> "the sealing thread failed: " + consolidatorFailure.get());
        assertTrue(retired.get() > 20, "segments sealed and deleted while flushing: " + retired.get());
        wal.close();
    }

    /** A file system whose fsync takes a moment to reach the file, as on a busy disk. */
    private record SlowSyncFs(Fs fs) implements Fs {
        @Override public FsFile open(Path file) throws IOException { return slow(fs.open(file)); }
        @Override public FsFile createNew(Path file) throws IOException { return slow(fs.createNew(file)); }
        @Override public boolean exists(Path path) { return fs.exists(path); }
        @Override public boolean isDirectory(Path path) { return fs.isDirectory(path); }
        @Override public void createDirectories(Path dir) throws IOException { fs.createDirectories(dir); }
        @Override public List<String> list(Path dir) throws IOException { return fs.list(dir); }
        @Override public boolean delete(Path path) throws IOException { return fs.delete(path); }
        @Override public void rename(Path from, Path to) throws IOException { fs.rename(from, to); }
        @Override public boolean link(Path existing, Path newLink) throws IOException { return fs.link(existing, newLink); }
        @Override public void syncDir(Path dir) throws IOException { fs.syncDir(dir); }
        @Override public long size(Path file) throws IOException { return fs.size(file); }
        @Override public int linkCount(Path file) throws IOException { return fs.linkCount(file); }

        private static FsFile slow(FsFile f) {
            return new FsFile() {
                @Override public void write(ByteBuffer[] srcs, long position) throws IOException { f.write(srcs, position); }
                @Override public int read(ByteBuffer dst, long position) throws IOException { return f.read(dst, position); }
                @Override public long size() throws IOException { return f.size(); }
                @Override public void truncate(long size) throws IOException { f.truncate(size); }
                @Override public void close() throws IOException { f.close(); }

                @Override
                public void force() throws IOException {
                    try {
                        Thread.sleep(java.time.Duration.ofNanos(ThreadLocalRandom.current().nextLong(2_000_000)));
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new java.io.InterruptedIOException("interrupted before fsync");
                    }
                    f.force();
                }
            };
        }
    }
}
