package io.viperblock.core.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;

/**
 * An in-memory {@link Fs} that can lose power: {@link #crash} turns it into what a disk would hold
 * afterwards under the POSIX durability model, so tests can check what survives.
 *
 * <p>Model: every file and directory is an inode. A file keeps its current bytes and its durable
 * bytes; {@link FsFile#force()} makes the current bytes durable. A directory keeps its current
 * entries and its durable entries; {@link #syncDir(Path)} makes that one directory's entries
 * durable. A crash keeps only durable entries and, per {@link Mode}, durable bytes or durable bytes
 * plus some unsynced pages. Inodes are shared by reference, so renames and hard links behave as on
 * a real disk: a rename whose source directory was not synced leaves the file under both names.
 * Any absolute path works; the root directory of every path exists.
 *
 * <p>Full disk: with {@link #setSpaceLimit(long)}, a write that would take the total size of all
 * linked files past the limit writes as many bytes as fit (as a real file system may) and then
 * throws IOException("No space left on device"). Only growth counts; overwrites always succeed.
 *
 * <p>Thread-safe: every operation, including those of open files, holds this object's lock.
 */
public final class CrashFs implements Fs {

    /** What a crash keeps of the bytes written since a file's last force. */
    public enum Mode {
        /** Nothing: every file holds exactly its durable bytes. */
        STRICT,
        /**
         * A random subset of the dirty 4096-byte pages, each either as last written or as durable;
         * a file that grew may keep its durable length or grow up to its highest surviving page.
         * A truncation survives whole or not at all.
         */
        TORN
    }

    public static final int PAGE = 4096;
    private static final int MAX_FILE = Integer.MAX_VALUE - PAGE;

    private final Map<Path, Inode> roots = new HashMap<>();
    private int epoch;
    private long used;
    private long spaceLimit = Long.MAX_VALUE;
    private int failingLinks;
    private String failingLinkReason;
    private long opsBeforePowerCut = -1;
    private long forces;
    private long syncDirs;
    private long writes;
    private long ops;
    private String cutSite;

    // ---- test controls -------------------------------------------------------------------

    /** Loses power: see {@link Mode}. Open files fail afterwards; the Fs is as after a reboot. */
    public synchronized void crash(Mode mode, SplittableRandom rnd) {
        epoch++;
        opsBeforePowerCut = -1;
        used = 0;
        Set<Inode> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Inode root : roots.values()) {
            recover(root, mode, rnd, seen);
        }
    }

    /** A crash that keeps exactly what was made durable. */
    public void crash() {
        crash(Mode.STRICT, new SplittableRandom(0));
    }

    private void recover(Inode inode, Mode mode, SplittableRandom rnd, Set<Inode> seen) {
        if (!seen.add(inode)) {
            inode.nlink++;
            return;
        }
        inode.nlink = 1;
        if (inode.isDir()) {
            inode.entries = new TreeMap<>(inode.durableEntries);
            for (Inode child : inode.entries.values()) {
                recover(child, mode, rnd, seen);
            }
        } else {
            inode.recoverContent(mode, rnd);
            used += inode.length;
        }
    }

    /**
     * From now on, writes that would make the linked files larger than {@code bytes} in total
     * fail with "No space left on device". {@link Long#MAX_VALUE} removes the limit.
     */
    public synchronized void setSpaceLimit(long bytes) {
        spaceLimit = bytes;
    }

    /**
     * The next {@code count} hard links fail as link(2) can when a directory must grow on a full
     * disk ("No space left on device") or the disk fails: FileSystemException with {@code reason}.
     */
    public synchronized void failLinks(int count, String reason) {
        failingLinks = count;
        failingLinkReason = reason;
    }

    /** Lets {@code bytes} more bytes of file growth succeed, then the disk is full. */
    public synchronized void failWritesAfter(long bytes) {
        spaceLimit = used + bytes;
    }

    /** Total length of all files that have a name. */
    public synchronized long usedBytes() {
        return used;
    }

    /**
     * After {@code ops} more operations (any call on this Fs or its files but exists,
     * isDirectory and usableSpace), the power is gone: every such operation throws IOException("power cut")
     * until {@link #crash}. Models a crash at an exact point of a sequence of steps. Negative:
     * never.
     */
    public synchronized void powerCutAfter(long ops) {
        opsBeforePowerCut = ops;
        cutSite = null;
    }

    /** Operations counted by {@link #powerCutAfter} so far, for sizing the next cut. */
    public synchronized long ops() {
        return ops;
    }

    /**
     * Where the power went, as "Class.method (store|disk)": the innermost engine method (volume,
     * WAL, map or chunk package) on the stack of the first operation that failed since the
     * last {@link #powerCutAfter}, and whether it got there through the object store. Null if
     * no operation has failed yet.
     */
    public synchronized String powerCutSite() {
        return cutSite;
    }

    public synchronized long forces() {
        return forces;
    }

    public synchronized long syncDirs() {
        return syncDirs;
    }

    public synchronized long writes() {
        return writes;
    }

    public synchronized void resetCounters() {
        forces = 0;
        syncDirs = 0;
        writes = 0;
    }

    // ---- Fs ----------------------------------------------------------------------------------

    @Override
    public synchronized FsFile open(Path file) throws IOException {
        step();
        Inode inode = existing(file);
        if (inode.isDir()) {
            throw new FileSystemException(file.toString(), null, "Is a directory");
        }
        return new CrashFile(file, inode, epoch);
    }

    @Override
    public synchronized FsFile createNew(Path file) throws IOException {
        step();
        Inode dir = parentDir(file);
        String name = name(file);
        if (dir.entries.containsKey(name)) {
            throw new FileAlreadyExistsException(file.toString());
        }
        Inode inode = new Inode(false);
        dir.entries.put(name, inode);
        return new CrashFile(file, inode, epoch);
    }

    @Override
    public synchronized boolean exists(Path path) {
        return find(path) != null;
    }

    @Override
    public synchronized boolean isDirectory(Path path) {
        Inode inode = find(path);
        return inode != null && inode.isDir();
    }

    /** What the space limit leaves (unbounded without one), in any directory. */
    @Override
    public synchronized long usableSpace(Path dir) {
        return spaceLimit == Long.MAX_VALUE ? Long.MAX_VALUE : Math.max(0, spaceLimit - used);
    }

    /** Each directory it creates is synced into its parent at once, as NioFs does. */
    @Override
    public synchronized void createDirectories(Path dir) throws IOException {
        step();
        Inode cur = root(dir);
        Path at = dir.getRoot();
        for (Path name : dir) {
            at = at.resolve(name);
            Inode next = cur.entries.get(name.toString());
            if (next == null) {
                next = new Inode(true);
                cur.entries.put(name.toString(), next);
                cur.durableEntries = new TreeMap<>(cur.entries);
                syncDirs++;
            } else if (!next.isDir()) {
                throw new FileAlreadyExistsException(at.toString(), null,
                        "exists and is not a directory; cannot create " + dir);
            }
            cur = next;
        }
    }

    @Override
    public synchronized List<String> list(Path dir) throws IOException {
        step();
        Inode inode = find(dir);
        if (inode == null) {
            return List.of();
        }
        if (!inode.isDir()) {
            throw new NotDirectoryException(dir.toString());
        }
        return new ArrayList<>(inode.entries.keySet());
    }

    @Override
    public synchronized boolean delete(Path path) throws IOException {
        step();
        if (path.getFileName() == null) {
            throw new FileSystemException(path.toString(), null, "cannot delete a root directory");
        }
        Inode dir = find(path.getParent());
        Inode inode = dir == null || !dir.isDir() ? null : dir.entries.get(name(path));
        if (inode == null) {
            return false;
        }
        if (inode.isDir() && !inode.entries.isEmpty()) {
            throw new DirectoryNotEmptyException(path.toString());
        }
        dir.entries.remove(name(path));
        unlinked(inode);
        return true;
    }

    @Override
    public synchronized void rename(Path from, Path to) throws IOException {
        step();
        if (from.getFileName() == null || to.getFileName() == null) {
            throw new FileSystemException(from.toString(), to.toString(), "cannot rename a root directory");
        }
        Inode fromDir = parentDir(from);
        Inode inode = fromDir.entries.get(name(from));
        if (inode == null) {
            throw new NoSuchFileException(from.toString());
        }
        Inode toDir = parentDir(to);
        Inode old = toDir.entries.get(name(to));
        if (old == inode) {
            return; // same file under both names: rename(2) does nothing
        }
        if (old != null) {
            if (inode.isDir() != old.isDir()) {
                throw new FileSystemException(from.toString(), to.toString(),
                        old.isDir() ? "Is a directory" : "Not a directory");
            }
            if (old.isDir() && !old.entries.isEmpty()) {
                throw new DirectoryNotEmptyException(to.toString());
            }
        }
        if (inode.isDir() && isInside(toDir, inode)) {
            throw new FileSystemException(from.toString(), to.toString(), "Invalid argument: cannot move a directory into itself");
        }
        fromDir.entries.remove(name(from));
        toDir.entries.put(name(to), inode);
        if (old != null) {
            unlinked(old);
        }
    }

    @Override
    public synchronized boolean link(Path existing, Path newLink) throws IOException {
        step();
        Inode inode = existing(existing);
        if (inode.isDir()) {
            throw new FileSystemException(existing.toString(), newLink.toString(), "Operation not permitted: hard link to a directory");
        }
        Inode dir = parentDir(newLink);
        if (dir.entries.containsKey(name(newLink))) {
            return false;
        }
        if (failingLinks > 0) {
            failingLinks--;
            throw new FileSystemException(existing.toString(), newLink.toString(), failingLinkReason);
        }
        dir.entries.put(name(newLink), inode);
        inode.nlink++;
        return true;
    }

    @Override
    public synchronized void syncDir(Path dir) throws IOException {
        step();
        Inode inode = existing(dir);
        if (!inode.isDir()) {
            throw new NotDirectoryException(dir.toString());
        }
        inode.durableEntries = new TreeMap<>(inode.entries);
        syncDirs++;
    }

    @Override
    public synchronized int linkCount(Path file) throws IOException {
        step();
        Inode inode = existing(file);
        return inode.nlink;
    }

    @Override
    public synchronized long size(Path file) throws IOException {
        step();
        Inode inode = existing(file);
        return inode.isDir() ? 0 : inode.length;
    }

    // ---- internals ---------------------------------------------------------------------------

    private void step() throws IOException {
        ops++;
        if (opsBeforePowerCut == 0) {
            if (cutSite == null) {
                cutSite = site();
            }
            throw new IOException("power cut (CrashFs): no operation works until crash()");
        }
        if (opsBeforePowerCut > 0) {
            opsBeforePowerCut--;
        }
    }

    private static String site() {
        return StackWalker.getInstance().walk(frames -> {
            boolean viaStore = false;
            for (StackWalker.StackFrame f : (Iterable<StackWalker.StackFrame>) frames::iterator) {
                String c = f.getClassName();
                viaStore |= c.startsWith("io.viperblock.core.store.");
                if (c.matches("io\\.viperblock\\.core\\.(volume|wal|map|chunk)\\.[A-Za-z]+(\\$.*)?")) {
                    String simple = c.substring(c.lastIndexOf('.') + 1).replaceAll("\\$.*", "");
                    return simple + "." + f.getMethodName() + (viaStore ? " (store)" : " (disk)");
                }
            }
            return "elsewhere";
        });
    }

    private Inode root(Path path) {
        if (!path.isAbsolute()) {
            throw new IllegalArgumentException("CrashFs needs absolute paths, got " + path);
        }
        return roots.computeIfAbsent(path.getRoot(), r -> {
            Inode root = new Inode(true);
            root.nlink = 1;
            return root;
        });
    }

    /** The inode at {@code path}, or null if it or a parent is missing or a parent is a file. */
    private Inode find(Path path) {
        Inode cur = root(path);
        for (Path name : path) {
            if (!cur.isDir()) {
                return null;
            }
            cur = cur.entries.get(name.toString());
            if (cur == null) {
                return null;
            }
        }
        return cur;
    }

    /** {@link #lookup}, and an absent file is a NoSuchFileException too. */
    private Inode existing(Path path) throws IOException {
        Inode inode = lookup(path);
        if (inode == null) {
            throw new NoSuchFileException(path.toString());
        }
        return inode;
    }

    /** Like {@link #find} but a missing parent or a file used as a directory is an error. */
    private Inode lookup(Path path) throws IOException {
        if (path.getFileName() == null) {
            return root(path);
        }
        Inode dir = parentDir(path);
        return dir.entries.get(name(path));
    }

    private Inode parentDir(Path path) throws IOException {
        Path parent = path.getParent();
        if (parent == null) {
            throw new FileSystemException(path.toString(), null, "a root directory has no parent");
        }
        Inode cur = root(parent);
        Path at = parent.getRoot();
        for (Path name : parent) {
            at = at.resolve(name);
            cur = cur.entries.get(name.toString());
            if (cur == null) {
                throw new NoSuchFileException(path.toString(), null, "directory " + at + " does not exist");
            }
            if (!cur.isDir()) {
                throw new NotDirectoryException(at.toString());
            }
        }
        return cur;
    }

    private static String name(Path path) {
        return path.getFileName().toString();
    }

    private boolean isInside(Inode dir, Inode ancestor) {
        // Directories cannot be hard-linked, so a depth-first search from the candidate ancestor
        // is enough to tell whether dir lies below it.
        if (dir == ancestor) {
            return true;
        }
        for (Inode child : ancestor.entries.values()) {
            if (child.isDir() && isInside(dir, child)) {
                return true;
            }
        }
        return false;
    }

    private void unlinked(Inode inode) {
        if (--inode.nlink == 0 && !inode.isDir()) {
            used -= inode.length; // like an unlinked file whose last handle is closed
        }
    }

    /**
     * A file or a directory. Files hold bytes in arrays that are always zero past their length,
     * so a hole or a regrown tail reads as zeros without extra bookkeeping. Guarded by the
     * CrashFs lock.
     */
    private final class Inode {
        TreeMap<String, Inode> entries;
        TreeMap<String, Inode> durableEntries;
        byte[] data = new byte[0];
        int length;
        byte[] durable = new byte[0];
        int durableLength;
        /** Pages whose current bytes may differ from their durable bytes. */
        final BitSet dirty = new BitSet();
        int nlink = 1;

        Inode(boolean dir) {
            if (dir) {
                entries = new TreeMap<>();
                durableEntries = new TreeMap<>();
            }
        }

        boolean isDir() {
            return entries != null;
        }

        /** Writes bytes that fit under the space limit; returns how many it wrote. */
        int write(ByteBuffer src, long position) throws IOException {
            int n = src.remaining();
            if (position + n > MAX_FILE) {
                throw new IOException("CrashFs files are limited to " + MAX_FILE + " bytes");
            }
            int pos = (int) position;
            long growth = Math.max(0, pos + n - length);
            if (nlink > 0 && growth > spaceLimit - used) {
                n = (int) Math.max(0, Math.min(n, spaceLimit - used - Math.max(0, pos - length)));
                growth = Math.max(0, pos + n - length);
            }
            if (n == 0) {
                return 0;
            }
            data = grow(data, pos + n);
            src.get(data, pos, n);
            dirty.set(pos / PAGE, (pos + n - 1) / PAGE + 1);
            length = Math.max(length, pos + n);
            if (nlink > 0) {
                used += growth;
            }
            return n;
        }

        void truncate(long size) {
            if (size >= length) {
                return;
            }
            int s = (int) size;
            Arrays.fill(data, s, length, (byte) 0);
            dirty.set(s / PAGE, (length - 1) / PAGE + 1);
            if (nlink > 0) {
                used -= length - s;
            }
            length = s;
        }

        void force() {
            int limit = Math.max(length, durableLength);
            for (int p = dirty.nextSetBit(0); p >= 0 && (long) p * PAGE < limit; p = dirty.nextSetBit(p + 1)) {
                copyPage(p, limit);
            }
            durableLength = length;
            dirty.clear();
        }

        /** Copies page {@code p}, up to {@code limit}, from the current to the durable bytes. */
        private void copyPage(int p, int limit) {
            int start = p * PAGE;
            int end = Math.min(start + PAGE, limit);
            int copyEnd = Math.min(end, length);
            durable = grow(durable, end);
            if (copyEnd > start) {
                System.arraycopy(data, start, durable, start, copyEnd - start);
            }
            if (copyEnd < end) {
                Arrays.fill(durable, Math.max(start, copyEnd), end, (byte) 0); // a truncated tail
            }
        }

        void recoverContent(Mode mode, SplittableRandom rnd) {
            if (dirty.isEmpty() && length == durableLength) {
                return; // nothing unsynced: the current bytes are the durable ones
            }
            if (mode == Mode.TORN) {
                tearDirtyPages(rnd);
            }
            data = Arrays.copyOf(durable, durable.length);
            length = durableLength;
            dirty.clear();
        }

        /** Applies a random subset of the dirty pages to the durable bytes (see {@link Mode#TORN}). */
        private void tearDirtyPages(SplittableRandom rnd) {
            boolean truncated = length < durableLength;
            int newLength = truncated && rnd.nextBoolean() ? length : durableLength;
            for (int p = dirty.nextSetBit(0); p >= 0; p = dirty.nextSetBit(p + 1)) {
                int start = p * PAGE;
                if (start >= length || !rnd.nextBoolean()) {
                    continue; // pages past a truncation go with the truncation, not one by one
                }
                int end = Math.min(start + PAGE, length);
                durable = grow(durable, end);
                System.arraycopy(data, start, durable, start, end - start);
                if (!truncated) {
                    newLength = Math.max(newLength, end);
                }
            }
            if (newLength < durable.length) {
                Arrays.fill(durable, newLength, durable.length, (byte) 0);
            }
            durableLength = newLength;
        }

        private static byte[] grow(byte[] a, int size) {
            if (a.length >= size) {
                return a;
            }
            return Arrays.copyOf(a, (int) Math.min(MAX_FILE, Math.max(size, 2L * a.length)));
        }
    }

    /** An open file; fails once the Fs has crashed. Thread-safe: holds the Fs lock. */
    private final class CrashFile implements FsFile {
        private final Path path;
        private final Inode inode;
        private final int openedIn;
        private boolean closed;

        CrashFile(Path path, Inode inode, int epoch) {
            this.path = path;
            this.inode = inode;
            this.openedIn = epoch;
        }

        private void check() throws IOException {
            if (closed) {
                throw new ClosedChannelException();
            }
            if (openedIn != epoch) {
                throw new IOException(path + ": crashed: this file was opened before CrashFs.crash(); open it again");
            }
            step();
        }

        @Override
        public void write(ByteBuffer[] srcs, long position) throws IOException {
            synchronized (CrashFs.this) {
                check();
                writes++;
                long pos = position;
                for (ByteBuffer src : srcs) {
                    int want = src.remaining();
                    int n = inode.write(src, pos);
                    pos += n;
                    if (n < want) {
                        throw new IOException("writing to " + path + " at offset " + position + " failed: No space left on device");
                    }
                }
            }
        }

        @Override
        public int read(ByteBuffer dst, long position) throws IOException {
            synchronized (CrashFs.this) {
                check();
                if (position >= inode.length) {
                    return 0;
                }
                int n = (int) Math.min(dst.remaining(), inode.length - position);
                dst.put(inode.data, (int) position, n);
                return n;
            }
        }

        @Override
        public void force() throws IOException {
            synchronized (CrashFs.this) {
                check();
                forces++;
                inode.force();
            }
        }

        @Override
        public long size() throws IOException {
            synchronized (CrashFs.this) {
                check();
                return inode.length;
            }
        }

        @Override
        public void truncate(long size) throws IOException {
            synchronized (CrashFs.this) {
                check();
                inode.truncate(size);
            }
        }

        @Override
        public void close() {
            synchronized (CrashFs.this) {
                closed = true;
            }
        }
    }
}
