package io.viperblock.core.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Locale;

import static java.nio.file.StandardOpenOption.CREATE_NEW;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.WRITE;

/**
 * The real {@link Fs}: java.nio over the operating system's file system (POSIX semantics assumed:
 * directories can be opened and fsynced, rename replaces atomically, hard links exist).
 *
 * <p>Thread-safe: stateless apart from one lock that serializes {@link #createDirectories(Path)}.
 */
public final class NioFs implements Fs {

    public static final NioFs INSTANCE = new NioFs();

    /** Objects at least this large, in direct memory aligned to {@link #DIRECT_ALIGN}, are written O_DIRECT. */
    static final int DIRECT_MIN_BYTES = 1 << 20;
    /** The alignment O_DIRECT asks of memory, offsets and lengths (the largest logical block size in use). */
    public static final int DIRECT_ALIGN = 4096;

    private final Object mkdirLock = new Object();

    private NioFs() {}

    /**
     * True if {@code e}, or an exception it wraps, reports a full disk or an exhausted quota
     * (ENOSPC, EDQUOT). Java has no error code for these, so the message is all there is.
     */
    public static boolean isOutOfSpace(IOException e) {
        Throwable t = e;
        for (int depth = 0; t != null && depth < 16; depth++, t = t.getCause()) {
            if (isOutOfSpaceText(t.getMessage())
                    || (t instanceof FileSystemException fse && isOutOfSpaceText(fse.getReason()))) {
                return true;
            }
        }
        return false;
    }

    private static boolean isOutOfSpaceText(String s) {
        if (s == null) {
            return false;
        }
        String m = s.toLowerCase(Locale.ROOT);
        return m.contains("no space left on device") || m.contains("disk quota exceeded")
                || m.contains("enospc") || m.contains("edquot");
    }

    @Override
    public FsFile open(Path file) throws IOException {
        return new NioFile(file, FileChannel.open(file, READ, WRITE));
    }

    @Override
    public FsFile createNew(Path file) throws IOException {
        return new NioFile(file, FileChannel.open(file, READ, WRITE, CREATE_NEW));
    }

    /**
     * Writes a large, page-aligned direct buffer past the page cache (O_DIRECT), anything else
     * through it. A chunk is written once and then read rarely, and on ext4 the writeback of many
     * new buffered 4 MiB files cost three times the CPU of the same bytes written direct, and
     * halved their rate (PERFORMANCE.md). Where the file system refuses O_DIRECT (tmpfs), or a
     * direct write fails, the bytes go through the page cache instead; the file's bytes and
     * their durability are the same either way.
     */
    @Override
    public void createForced(Path file, ByteBuffer data) throws IOException {
        try (NioFile f = new NioFile(file, FileChannel.open(file, READ, WRITE, CREATE_NEW))) {
            if (!directWorthIt(data) || !writeDirect(f, data)) {
                f.write(data.duplicate(), 0);
            }
            f.force();
        }
    }

    static boolean directWorthIt(ByteBuffer data) {
        return data.isDirect() && data.remaining() >= DIRECT_MIN_BYTES && data.alignmentOffset(data.position(), DIRECT_ALIGN) == 0;
    }

    /**
     * Writes data into the new, empty file {@code f} through a second, O_DIRECT descriptor: the
     * aligned whole pages straight from data, the last partial page from a zero-padded copy,
     * then cuts the padding off. False, with the file empty again, if the file system refuses
     * O_DIRECT or the direct write fails; the caller then writes through the page cache.
     */
    private static boolean writeDirect(NioFile f, ByteBuffer data) throws IOException {
        FileChannel channel;
        try {
            channel = FileChannel.open(f.path, WRITE, com.sun.nio.file.ExtendedOpenOption.DIRECT);
        } catch (IOException | UnsupportedOperationException e) {
            return false; // tmpfs and some others: EINVAL
        }
        int size = data.remaining();
        try (NioFile direct = new NioFile(f.path, channel)) {
            int whole = size & -DIRECT_ALIGN;
            direct.write(data.slice(data.position(), whole), 0);
            if (whole < size) {
                ByteBuffer last = ByteBuffer.allocateDirect(2 * DIRECT_ALIGN).alignedSlice(DIRECT_ALIGN).limit(DIRECT_ALIGN);
                last.put(0, data, data.position() + whole, size - whole); // the rest stays zero
                direct.write(last, whole);
                direct.truncate(size);
            }
            return true;
        } catch (IOException e) {
            f.truncate(0);
            return false; // a buffered write gets its own chance, and reports its own error
        }
    }

    @Override
    public boolean exists(Path path) {
        return Files.exists(path);
    }

    @Override
    public boolean isDirectory(Path path) {
        return Files.isDirectory(path);
    }

    /**
     * Serialized so that a thread that finds a directory already there can trust that its entry
     * was synced: otherwise it might see a directory another thread created but has not synced
     * yet, and promise durability of files inside it too early. (Other processes can still race;
     * the window is one fsync long.)
     */
    @Override
    public void createDirectories(Path dir) throws IOException {
        Path abs = dir.toAbsolutePath();
        synchronized (mkdirLock) {
            if (Files.isDirectory(abs)) {
                return;
            }
            Deque<Path> missing = new ArrayDeque<>();
            for (Path p = abs; p != null && !Files.exists(p); p = p.getParent()) {
                missing.push(p);
            }
            for (Path d : missing) {
                try {
                    Files.createDirectory(d);
                } catch (FileAlreadyExistsException e) {
                    if (!Files.isDirectory(d)) {
                        throw new FileAlreadyExistsException(d.toString(), null,
                                "exists and is not a directory; cannot create " + abs);
                    }
                    // another process made it; sync anyway, as we cannot know whether it has
                }
                syncDir(d.getParent());
            }
        }
    }

    @Override
    public List<String> list(Path dir) throws IOException {
        List<String> names = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path p : entries) {
                names.add(p.getFileName().toString());
            }
        } catch (NoSuchFileException e) {
            return List.of();
        }
        names.sort(null);
        return names;
    }

    @Override
    public boolean delete(Path path) throws IOException {
        return Files.deleteIfExists(path);
    }

    @Override
    public void rename(Path from, Path to) throws IOException {
        // ATOMIC_MOVE is rename(2): it replaces an existing target in one step.
        Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
    }

    @Override
    public boolean link(Path existing, Path newLink) throws IOException {
        try {
            Files.createLink(newLink, existing);
            return true;
        } catch (FileAlreadyExistsException e) {
            return false;
        }
    }

    @Override
    public int linkCount(Path file) throws IOException {
        return ((Number) Files.getAttribute(file, "unix:nlink")).intValue();
    }

    @Override
    public void dropCached(Path file) {
        PageCache.drop(file);
    }

    @Override
    public void syncDir(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, READ)) {
            ch.force(true);
        }
    }

    @Override
    public long size(Path file) throws IOException {
        return Files.size(file);
    }

    @Override
    public long usableSpace(Path dir) throws IOException {
        return Files.getFileStore(dir).getUsableSpace();
    }

    /**
     * One open file. Thread-safe: positional reads need no lock; write and truncate move the
     * channel's position, so they hold this object's lock (callers already serialize them, so it
     * is never contended; it only protects against a caller that breaks that contract).
     */
    private static final class NioFile implements FsFile {
        private final Path path;
        private final FileChannel channel;

        NioFile(Path path, FileChannel channel) {
            this.path = path;
            this.channel = channel;
        }

        /**
         * FileChannel has no positional gathering write, so this positions the channel and uses
         * the relative one: many buffers go to the kernel in one writev. Loops because writev may
         * write less than asked.
         */
        @Override
        public synchronized void write(ByteBuffer[] srcs, long position) throws IOException {
            try {
                channel.position(position);
                int first = 0;
                while (first < srcs.length) {
                    if (!srcs[first].hasRemaining()) {
                        first++;
                    } else {
                        channel.write(srcs, first, srcs.length - first);
                    }
                }
            } catch (IOException e) {
                throw annotate(e, "writing to " + path + " at offset " + position);
            }
        }

        /** One buffer: a positional write (pwrite), without the lock and the seek of the gathering one. */
        @Override
        public void write(ByteBuffer src, long position) throws IOException {
            try {
                long at = position;
                while (src.hasRemaining()) {
                    at += channel.write(src, at);
                }
            } catch (IOException e) {
                throw annotate(e, "writing to " + path + " at offset " + position);
            }
        }

        @Override
        public int read(ByteBuffer dst, long position) throws IOException {
            int total = 0;
            try {
                while (dst.hasRemaining()) {
                    int n = channel.read(dst, position + total);
                    if (n < 0) {
                        break;
                    }
                    total += n;
                }
            } catch (IOException e) {
                throw annotate(e, "reading " + path + " at offset " + position);
            }
            return total;
        }

        @Override
        public void force() throws IOException {
            try {
                channel.force(false);
            } catch (IOException e) {
                throw annotate(e, "syncing " + path);
            }
        }

        @Override
        public long size() throws IOException {
            return channel.size();
        }

        @Override
        public synchronized void truncate(long size) throws IOException {
            try {
                channel.truncate(size);
            } catch (IOException e) {
                throw annotate(e, "truncating " + path + " to " + size + " bytes");
            }
        }

        @Override
        public void close() throws IOException {
            channel.close();
        }

        /**
         * Channel errors do not name the file; this adds it. Closed-channel errors keep their type,
         * as callers tell a closed file (a shutdown) from a failing disk by it.
         */
        private static IOException annotate(IOException e, String what) {
            if (e instanceof ClosedChannelException) {
                return e;
            }
            return new IOException(what + " failed: " + e.getMessage(), e);
        }
    }
}
