package io.viperblock.core.format;

import io.viperblock.core.io.FsFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;

/** An in-memory FsFile for codec tests; records the largest single read asked for. Not thread-safe. */
final class MemFsFile implements FsFile {
    private byte[] data;
    private int size;
    int largestRead;

    MemFsFile() {
        this(new byte[0]);
    }

    MemFsFile(byte[] contents) {
        data = contents.clone();
        size = contents.length;
    }

    @Override
    public void write(ByteBuffer[] srcs, long position) throws IOException {
        int pos = Math.toIntExact(position);
        for (ByteBuffer src : srcs) {
            int n = src.remaining();
            if (pos + n > data.length) {
                data = Arrays.copyOf(data, Math.max(pos + n, data.length * 2));
            }
            src.get(data, pos, n);
            pos += n;
            size = Math.max(size, pos);
        }
    }

    @Override
    public int read(ByteBuffer dst, long position) {
        largestRead = Math.max(largestRead, dst.remaining());
        if (position >= size) {
            return 0;
        }
        int n = (int) Math.min(dst.remaining(), size - position);
        dst.put(data, (int) position, n);
        return n;
    }

    @Override
    public void force() {}

    @Override
    public long size() {
        return size;
    }

    @Override
    public void truncate(long newSize) {
        if (newSize < size) {
            Arrays.fill(data, (int) newSize, size, (byte) 0);
            size = (int) newSize;
        }
    }

    @Override
    public void close() {}

    byte[] contents() {
        return Arrays.copyOf(data, size);
    }

    void append(ByteBuffer... bufs) throws IOException {
        write(bufs, size);
    }
}
