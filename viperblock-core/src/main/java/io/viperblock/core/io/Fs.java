package io.viperblock.core.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;

/**
 * The few file-system operations the engine's durability depends on, behind one interface so
 * that tests can put a file system underneath that forgets what was never synced (a power
 * loss) and check that recovery still keeps every promise.
 *
 * <p>Durability model, the one POSIX gives: bytes written to a file survive a power loss only
 * after {@link FsFile#force()}; a created, renamed or deleted directory entry survives only after
 * {@link #syncDir(Path)} of its parent directory.
 *
 * <p>Implementations are thread-safe.
 */
public interface Fs {

    /** Opens an existing file for reading and writing. */
    FsFile open(Path file) throws IOException;

    /** Creates a new empty file and opens it; fails with FileAlreadyExistsException if it exists. */
    FsFile createNew(Path file) throws IOException;

    /**
     * Creates a new file holding the remaining bytes of {@code data} (its position is not changed),
     * makes them durable as {@link FsFile#force()} does, and closes it; fails with
     * FileAlreadyExistsException if the file exists. On a failure the file may exist, partly
     * written: the caller deletes it.
     */
    default void createForced(Path file, ByteBuffer data) throws IOException {
        try (FsFile f = createNew(file)) {
            f.write(data.duplicate(), 0);
            f.force();
        }
    }

    boolean exists(Path path);

    /** True if the path exists and is a directory. */
    boolean isDirectory(Path path);

    /** Creates the directory and any missing parents (each new entry synced to its parent). */
    void createDirectories(Path dir) throws IOException;

    /** The names of the entries of a directory, sorted; empty if it does not exist. */
    List<String> list(Path dir) throws IOException;

    /** Deletes a file or an empty directory; returns false if it did not exist. */
    boolean delete(Path path) throws IOException;

    /** Renames atomically, replacing the target if it exists. */
    void rename(Path from, Path to) throws IOException;

    /**
     * Gives the file {@code existing} a second name {@code newLink} (a hard link), atomically and
     * only if {@code newLink} does not exist: returns false, changing nothing, if it does. This is
     * the one exclusive create that can publish a complete, already forced file, which is what
     * put-if-absent needs against other threads and other processes. Like any new entry it is
     * durable only after {@link #syncDir(Path)} of its directory.
     */
    boolean link(Path existing, Path newLink) throws IOException;

    /** How many names (hard links) the file has. */
    int linkCount(Path file) throws IOException;

    /** Makes the directory's entries (creations, renames, deletions) durable. */
    void syncDir(Path dir) throws IOException;

    /** Drops the file's pages from the page cache, if the file system has one (advice: contents never change). */
    default void dropCached(Path file) {
    }

    /** Size of a file in bytes. */
    long size(Path file) throws IOException;

    /** Bytes a new file in {@code dir} could still take; unbounded unless the file system says otherwise. */
    default long usableSpace(Path dir) throws IOException {
        return Long.MAX_VALUE;
    }
}
