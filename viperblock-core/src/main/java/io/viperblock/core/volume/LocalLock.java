package io.viperblock.core.volume;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Proves that no other process or thread on this node has a volume open from the same data
 * directory: an in-JVM claim plus, on a real file system, an OS file lock that the kernel drops
 * when the process dies. Holding it is what lets a node take its own lease back after a crash.
 *
 * <p>Thread-safety: the claim set is concurrent; an instance is used by one owner.
 */
final class LocalLock implements AutoCloseable {
    private static final Set<String> CLAIMED = ConcurrentHashMap.newKeySet();

    private final String claim;
    private final FileChannel channel;
    private final FileLock lock;

    private LocalLock(String claim, FileChannel channel, FileLock lock) {
        this.claim = claim;
        this.channel = channel;
        this.lock = lock;
    }

    /**
     * Takes the lock for {@code volumeDir}; {@code realFile} says whether the path is on the real
     * file system (tests run the engine on an in-memory one). Returns null if it is held.
     */
    static LocalLock tryAcquire(Path volumeDir, boolean realFile) throws IOException {
        String claim = volumeDir.toAbsolutePath().normalize().toString();
        if (!CLAIMED.add(claim)) {
            return null;
        }
        if (!realFile) {
            return new LocalLock(claim, null, null);
        }
        FileChannel ch = null;
        try {
            Files.createDirectories(volumeDir);
            ch = FileChannel.open(volumeDir.resolve("lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock l = ch.tryLock();
            if (l == null) {
                ch.close();
                CLAIMED.remove(claim);
                return null;
            }
            return new LocalLock(claim, ch, l);
        } catch (IOException | RuntimeException e) {
            if (ch != null) {
                ch.close();
            }
            CLAIMED.remove(claim);
            throw e;
        }
    }

    @Override
    public void close() throws IOException {
        try {
            if (lock != null) {
                lock.release();
                channel.close();
            }
        } finally {
            CLAIMED.remove(claim);
        }
    }
}
