package io.viperblock.core.io;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * An open file of an {@link Fs}. Positional reads may run concurrently with each other and with
 * writes; writes, truncation and force are called by one thread at a time (the caller's lock).
 */
public interface FsFile extends Closeable {

    /** Writes all remaining bytes of the buffers, in order, at {@code position}. */
    void write(ByteBuffer[] srcs, long position) throws IOException;

    /** Writes all remaining bytes of {@code src} at {@code position}. */
    default void write(ByteBuffer src, long position) throws IOException {
        write(new ByteBuffer[] {src}, position);
    }

    /**
     * Reads into {@code dst} from {@code position} until dst is full or the end of the file;
     * returns the number of bytes read (0 at or past the end).
     */
    int read(ByteBuffer dst, long position) throws IOException;

    /** Makes every byte written so far durable (fdatasync). */
    void force() throws IOException;

    long size() throws IOException;

    /**
     * Cuts the file to {@code size} bytes if it is longer; does nothing if it is not (as
     * {@link java.nio.channels.FileChannel#truncate(long)}: a file grows only by writes).
     */
    void truncate(long size) throws IOException;
}
