package io.viperblock.core.store;

import io.viperblock.core.io.Fs;
import io.viperblock.core.io.FsFile;
import io.viperblock.core.io.NioFs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * An {@link ObjectStore} in a directory: key "a/b/c" is the file root/a/b/c.
 *
 * <p>A put writes a temp file next to the target, forces it, renames it over the target and syncs
 * the directory, so an object is always either complete or absent, and durable once put returns.
 * The temp file is written by {@link Fs#createForced}: a chunk from the consolidator's aligned
 * buffers goes past the page cache (O_DIRECT) where the file system allows it.
 * Temp files are named {@code .tmp~<random>}; '~' is not allowed in keys, so a temp file can
 * never be taken for an object. A crash can leave temp files behind; they are never listed.
 *
 * <p>Range reads ({@link #read(String, long, ByteBuffer)}, {@link #get(String, long, int)}: the
 * chunk blocks and footers a volume reads) keep object files open, least recently used first
 * out, instead of opening the file for every block: a quarter of the process's file descriptor
 * limit, at least 256 and at most 8192 ({@link #defaultOpenFiles}). Objects are
 * written once: a put or delete through this instance drops the file from the set, but an
 * object replaced by another process under the same key would go on being read from the open
 * file until it leaves the set.
 *
 * <p>Unlike S3, a directory cannot hold both an object "a" and objects under "a/": such puts
 * fail with an IOException saying so.
 *
 * <p>Thread-safe, and safe against other processes using the same root: every change is a
 * single atomic rename, link or delete on the file system.
 */
public final class FileStore implements ObjectStore {
    private static final String TEMP_PREFIX = ".tmp~";
    /** A whole object is returned in one ByteBuffer. */
    private static final long MAX_GET = Integer.MAX_VALUE - 8;
    /** Tries at creating a temp file while concurrent deletes remove its then-empty directory. */
    private static final int CREATE_ATTEMPTS = 10;

    private final Path root;
    private final Fs fs;
    /** Object files kept open for range reads. */
    private final int openFiles;
    private final OpenFiles open = new OpenFiles();
    /** Directory syncs in progress, by directory (a few: the volumes' chunk and map directories). */
    private final java.util.concurrent.ConcurrentHashMap<Path, DirSync> dirSyncs = new java.util.concurrent.ConcurrentHashMap<>();

    public FileStore(Path root) {
        this(root, NioFs.INSTANCE);
    }

    public FileStore(Path root, Fs fs) {
        this(root, fs, defaultOpenFiles());
    }

    /** A store that keeps at most {@code openFiles} object files open for range reads. */
    public FileStore(Path root, Fs fs, int openFiles) {
        if (openFiles < 1) {
            throw new IllegalArgumentException("openFiles must be at least 1, not " + openFiles);
        }
        this.root = root.toAbsolutePath().normalize();
        this.fs = fs;
        this.openFiles = openFiles;
    }

    /**
     * Object files to keep open by default: a quarter of the process's file descriptor limit
     * (the JVM raises its soft limit to the hard one), at least 256 and at most 8192. With 256, a
     * volume whose live blocks were spread over more chunks than that (random 4 KiB writes over a
     * 1 GiB region leave them in about 700) opened, sized and closed a file for most cold reads,
     * under this store's lock: 4k random reads QD32 from a cold page cache ran at 20k IOPS, at
     * 33k with 4096 open (docs/PERFORMANCE.md).
     */
    public static int defaultOpenFiles() {
        long limit = 1024;
        if (java.lang.management.ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.UnixOperatingSystemMXBean u) {
            limit = u.getMaxFileDescriptorCount();
        }
        return openFilesFor(limit);
    }

    /** A quarter of {@code descriptorLimit}, at least 256 and at most 8192. */
    static int openFilesFor(long descriptorLimit) {
        return (int) Math.max(256, Math.min(8192, descriptorLimit / 4));
    }

    public Path root() {
        return root;
    }

    @Override
    public boolean local() {
        return true;
    }

    @Override
    public String describe() {
        return "file:" + root;
    }

    /** The file of a key; keys are validated so that none can leave the root. */
    private Path path(String key) {
        ObjectKeys.check(key);
        Path p = root.resolve(key).normalize();
        if (!p.startsWith(root) || p.equals(root)) {
            throw new IllegalArgumentException("object key " + key + " resolves outside " + describe());
        }
        return p;
    }

    @Override
    public void put(String key, ByteBuffer data) throws IOException {
        Path target = path(key);
        Path tmp = null;
        try {
            tmp = writeTemp(target, data);
            fs.rename(tmp, target);
            tmp = null;
            open.forget(key);
            syncNearest(target.getParent());
        } catch (IOException e) {
            throw failure("storing", key, target, tmp, e);
        }
    }

    /**
     * Publishes the forced temp file with a hard link: link(2) fails if the target exists, which
     * makes it an exclusive create of a complete file, against other processes too.
     */
    @Override
    public boolean putIfAbsent(String key, ByteBuffer data) throws IOException {
        Path target = path(key);
        Path tmp = null;
        try {
            boolean created = false;
            if (!fs.exists(target)) {
                tmp = writeTemp(target, data);
                created = fs.link(tmp, target);
                fs.delete(tmp);
                tmp = null;
            }
            if (!created && fs.isDirectory(target)) {
                throw new FileAlreadyExistsException(target.toString(), null, "is a directory");
            }
            // Also when another writer won: its object may not be synced yet, and "exists" must
            // not be an answer a crash can take back.
            syncNearest(target.getParent());
            return created;
        } catch (IOException e) {
            throw failure("storing", key, target, tmp, e);
        }
    }

    /**
     * A hard link to {@code file} (the caller's forced WAL segment) under the key's name, the
     * directory synced. False if the link cannot be made: the file lies on another file system
     * (EXDEV), or on another {@link Fs}, or the file system refuses links; the caller then copies.
     * A full disk is a {@link StoreFullException}, as for a put: it passes, and links work again.
     * An existing object under the key is an error (keys given here are new).
     */
    @Override
    public boolean link(String key, Path file) throws IOException {
        Path target = path(key);
        Path dir = target.getParent();
        for (int attempt = 1; ; attempt++) {
            try {
                fs.createDirectories(dir);
                if (!fs.link(file, target)) {
                    throw new FileAlreadyExistsException(target.toString(), null, "an object exists under a new chunk's key");
                }
                break;
            } catch (NoSuchFileException e) {
                if (!fs.exists(file)) {
                    return false; // not a file this store's file system sees
                }
                if (attempt == CREATE_ATTEMPTS) {
                    throw failure("storing", key, target, null, e);
                }
                // a concurrent delete removed the directory once it was empty: create it again
            } catch (FileAlreadyExistsException e) {
                throw failure("storing", key, target, null, e);
            } catch (java.nio.file.FileSystemException e) {
                if (NioFs.isOutOfSpace(e)) {
                    throw failure("storing", key, target, null, e); // a full disk, which a copy would meet too
                }
                return false; // EXDEV, EPERM: another file system, or one without hard links
            } catch (UnsupportedOperationException e) {
                return false;
            }
        }
        try {
            open.forget(key);
            syncNearest(dir);
            return true;
        } catch (IOException e) {
            throw failure("storing", key, target, null, e);
        }
    }

    /**
     * Renames the object's file to {@code target} if it has no other name and holds at least
     * {@code minBytes}; both directories are synced. A file with a second name (a WAL segment
     * still kept under its own) stays. The open-file cache lets the object go first, so no cached
     * descriptor sees the file's next contents. False if the object is absent or target lies on
     * another file system.
     */
    @Override
    public boolean moveTo(String key, Path target, long minBytes) throws IOException {
        Path p = path(key);
        try {
            if (!fs.exists(p) || fs.isDirectory(p) || fs.linkCount(p) != 1 || fs.size(p) < minBytes) {
                return false;
            }
            open.forget(key);
            fs.rename(p, target);
        } catch (NoSuchFileException e) {
            return false; // deleted meanwhile
        } catch (java.nio.file.AtomicMoveNotSupportedException e) {
            return false; // another file system
        } catch (IOException e) {
            throw failure("moving", key, null, null, e);
        }
        try {
            syncNearest(p.getParent());
            fs.syncDir(target.getParent());
            return true;
        } catch (IOException e) {
            throw failure("moving", key, null, null, e);
        }
    }

    @Override
    public boolean shared(String key) throws IOException {
        try {
            return fs.linkCount(path(key)) > 1;
        } catch (NoSuchFileException e) {
            return false;
        }
    }

    /** Writes and forces a new temp file in the target's directory, creating that if needed. */
    private Path writeTemp(Path target, ByteBuffer data) throws IOException {
        Path dir = target.getParent();
        for (int attempt = 1; ; attempt++) {
            boolean lastAttempt = attempt == CREATE_ATTEMPTS;
            Path tmp = dir.resolve(TEMP_PREFIX + Long.toHexString(ThreadLocalRandom.current().nextLong()));
            try {
                fs.createDirectories(dir);
                fs.createForced(tmp, data);
                return tmp;
            } catch (NoSuchFileException e) {
                // a concurrent delete removed the directory once it was empty: create it again
                if (lastAttempt) {
                    throw e;
                }
            } catch (FileAlreadyExistsException e) {
                // the random name is taken: pick another (but a parent that is a file is final)
                if (lastAttempt || !tmp.toString().equals(e.getFile())) {
                    throw e;
                }
            } catch (IOException e) {
                deleteAfterFailure(tmp, e);
                throw e;
            }
        }
    }

    @Override
    public ByteBuffer get(String key) throws IOException {
        Path p = path(key);
        try (FsFile file = openObject(key, p)) {
            long size = file.size();
            if (size > MAX_GET) {
                throw new IOException("object is " + size + " bytes, too large to read whole; read it in ranges");
            }
            ByteBuffer b = ByteBuffer.allocate((int) size);
            file.read(b, 0);
            return b.flip();
        } catch (IOException e) {
            throw failure("reading", key, null, null, e);
        }
    }

    @Override
    public int read(String key, long offset, ByteBuffer dst) throws IOException {
        if (offset < 0) {
            throw new IllegalArgumentException("invalid range of object " + key + ": offset " + offset + " must not be negative");
        }
        OpenFiles.Handle h = open.acquire(key);
        try {
            int start = dst.position();
            if (offset < h.size) {
                h.file.read(dst, offset);
            }
            return dst.position() - start;
        } catch (IOException e) {
            throw failure("reading", key, null, null, e);
        } finally {
            open.release(h);
        }
    }

    @Override
    public ByteBuffer get(String key, long offset, int length) throws IOException {
        if (offset < 0 || length < 0) {
            throw new IllegalArgumentException("invalid range of object " + key + ": offset " + offset
                    + " and length " + length + " must not be negative");
        }
        OpenFiles.Handle h = open.acquire(key);
        try {
            long n = Math.max(0, Math.min(length, h.size - offset));
            ByteBuffer b = ByteBuffer.allocate((int) n);
            h.file.read(b, offset);
            return b.flip();
        } catch (IOException e) {
            throw failure("reading", key, null, null, e);
        } finally {
            open.release(h);
        }
    }

    private FsFile openObject(String key, Path p) throws IOException {
        try {
            return fs.open(p);
        } catch (IOException e) {
            if (!fs.exists(p) || fs.isDirectory(p)) {
                throw new NoSuchObjectException(describe(), key);
            }
            throw e;
        }
    }

    @Override
    public Optional<ObjectInfo> head(String key) throws IOException {
        Path p = path(key);
        try {
            if (!fs.exists(p) || fs.isDirectory(p)) {
                return Optional.empty();
            }
            return Optional.of(new ObjectInfo(key, fs.size(p)));
        } catch (NoSuchFileException e) {
            return Optional.empty(); // deleted meanwhile
        } catch (IOException e) {
            throw failure("reading", key, null, null, e);
        }
    }

    /**
     * Walks only the directory the prefix names (its last segment may be partial), skips
     * subtrees that sort entirely before {@code startAfter}, then sorts: key order is not
     * directory order ("a.b" sorts before "a/b", but directory "a" comes first).
     */
    @Override
    public List<ObjectInfo> list(String prefix, String startAfter) throws IOException {
        ObjectKeys.checkPrefix(prefix);
        int slash = prefix.lastIndexOf('/');
        String dirKey = slash < 0 ? "" : prefix.substring(0, slash + 1);
        Path dir = dirKey.isEmpty() ? root : root.resolve(dirKey);
        List<ObjectInfo> out = new ArrayList<>();
        try {
            if (fs.isDirectory(dir)) {
                walk(dir, dirKey, prefix.substring(slash + 1), startAfter, out);
            }
        } catch (IOException e) {
            throw failure("listing", prefix + "*", null, null, e);
        }
        out.sort(Comparator.comparing(ObjectInfo::key));
        return out;
    }

    private void walk(Path dir, String keyPrefix, String namePrefix, String startAfter, List<ObjectInfo> out)
            throws IOException {
        for (String name : fs.list(dir)) {
            if (!name.startsWith(namePrefix) || !isKeySegment(name)) {
                continue; // temp files and anything else that cannot be an object
            }
            String key = keyPrefix + name;
            Path p = dir.resolve(name);
            if (fs.isDirectory(p)) {
                String sub = key + "/";
                boolean allBefore = startAfter != null && sub.compareTo(startAfter) < 0 && !startAfter.startsWith(sub);
                if (!allBefore) {
                    walk(p, sub, "", startAfter, out);
                }
            } else if (startAfter == null || key.compareTo(startAfter) > 0) {
                try {
                    out.add(new ObjectInfo(key, fs.size(p)));
                } catch (NoSuchFileException e) {
                    // deleted meanwhile
                }
            }
        }
    }

    private static boolean isKeySegment(String name) {
        try {
            ObjectKeys.check(name);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    @Override
    public void delete(String key) throws IOException {
        deleteAll(List.of(key));
    }

    /**
     * Deletes every object first, then syncs each directory they were in once: also where the
     * object was already gone, as an earlier delete may have crashed before its sync.
     */
    @Override
    public void deleteAll(List<String> keys) throws IOException {
        Map<Path, String> dirs = new LinkedHashMap<>(); // directory to sync -> a key in it, for messages
        Set<Path> emptied = new LinkedHashSet<>();
        for (String key : keys) {
            Path p = path(key);
            Path dir = p.getParent();
            try {
                if (fs.isDirectory(p)) {
                    continue; // only a prefix of other objects: no object has this name
                }
                boolean existed = fs.delete(p);
                open.forget(key);
                if (existed || fs.isDirectory(dir)) {
                    dirs.putIfAbsent(dir, key);
                }
                if (existed) {
                    emptied.add(dir);
                }
            } catch (IOException e) {
                throw failure("deleting", key, null, null, e);
            }
        }
        for (Map.Entry<Path, String> d : dirs.entrySet()) {
            try {
                syncNearest(d.getKey());
            } catch (IOException e) {
                throw failure("deleting", d.getValue(), null, null, e);
            }
        }
        for (Path dir : emptied) {
            removeEmptyParents(dir);
        }
    }

    /** Keeps the tree free of directories that only held deleted objects. */
    private void removeEmptyParents(Path dir) {
        for (Path d = dir; !d.equals(root); d = d.getParent()) {
            try {
                if (!fs.list(d).isEmpty() || !fs.delete(d)) {
                    return;
                }
                fs.syncDir(d.getParent());
            } catch (IOException e) {
                return; // a put is filling it again, or it just stays: empty directories are harmless
            }
        }
    }

    /**
     * Syncs {@code dir}, or if a concurrent delete removed it, the nearest ancestor that still
     * exists, which is where that removal (and so the end of our entry) has to become durable.
     */
    private void syncNearest(Path dir) throws IOException {
        for (Path d = dir; ; d = d.getParent()) {
            try {
                syncDir(d);
                return;
            } catch (NoSuchFileException e) {
                if (d.equals(root) || d.getParent() == null) {
                    throw e;
                }
            }
        }
    }

    /**
     * fsync of a directory, shared by concurrent callers (group commit, as the WAL does it): each
     * caller takes a ticket after its own change to the directory, and a sync that began after
     * the ticket was taken covers it. Parallel chunk uploads into one directory so share one
     * directory sync instead of queueing one each.
     */
    private void syncDir(Path d) throws IOException {
        DirSync s = dirSyncs.computeIfAbsent(d, k -> new DirSync());
        long ticket = s.requested.incrementAndGet();
        s.lock.lock();
        try {
            if (s.synced >= ticket) {
                return;
            }
            long upTo = s.requested.get(); // every change ticketed so far happened before this sync starts
            fs.syncDir(d);
            s.synced = upTo;
        } finally {
            s.lock.unlock();
        }
    }

    private static final class DirSync {
        final java.util.concurrent.atomic.AtomicLong requested = new java.util.concurrent.atomic.AtomicLong();
        final java.util.concurrent.locks.ReentrantLock lock = new java.util.concurrent.locks.ReentrantLock();
        /** Guarded by lock. */
        long synced;
    }

    /** Closes the object files kept open for range reads. */
    @Override
    public void close() {
        open.clear();
    }

    /**
     * The object files open for range reads, least recently used first out. A handle is
     * reference counted (the set holds one reference, each reader one more), so a file leaving
     * the set is closed only once its last reader is done. Opening happens under the lock, so a
     * {@link #forget} after a rename or delete cannot be overtaken by a reader still inserting
     * the old file. Guarded by {@code this}.
     */
    private final class OpenFiles {
        final class Handle {
            final FsFile file;
            final long size;
            int refs = 1; // the set's

            Handle(FsFile file, long size) {
                this.file = file;
                this.size = size;
            }
        }

        /** By key: a hit costs no path resolution. */
        private final java.util.LinkedHashMap<String, Handle> files = new java.util.LinkedHashMap<>(64, 0.75f, true);

        synchronized Handle acquire(String key) throws IOException {
            Handle h = files.get(key);
            if (h == null) {
                Path p = path(key);
                FsFile f;
                long size;
                try {
                    f = openObject(key, p);
                } catch (IOException e) {
                    throw failure("reading", key, null, null, e);
                }
                try {
                    size = f.size();
                } catch (IOException e) {
                    closeQuietly(f);
                    throw failure("reading", key, null, null, e);
                }
                h = new Handle(f, size);
                files.put(key, h);
                if (files.size() > openFiles) {
                    var eldest = files.entrySet().iterator();
                    Handle old = eldest.next().getValue();
                    eldest.remove();
                    release(old);
                }
            }
            h.refs++;
            return h;
        }

        synchronized void release(Handle h) {
            if (--h.refs == 0) {
                closeQuietly(h.file);
            }
        }

        synchronized void forget(String key) {
            Handle h = files.remove(key);
            if (h != null) {
                release(h);
            }
        }

        synchronized void clear() {
            for (Handle h : files.values()) {
                release(h);
            }
            files.clear();
        }

        private static void closeQuietly(FsFile f) {
            try {
                f.close();
            } catch (IOException e) {
                // read-only: nothing was lost
            }
        }
    }

    private void deleteAfterFailure(Path tmp, IOException failure) {
        try {
            fs.delete(tmp);
        } catch (IOException e) {
            failure.addSuppressed(e);
        }
    }

    /**
     * The exception to throw: the store's own exceptions as they are, a full disk as
     * StoreFullException, anything else with the key, the root and, for a failed put, whether an
     * object and a prefix collide.
     */
    private IOException failure(String doing, String key, Path target, Path tmp, IOException e) {
        if (tmp != null) {
            deleteAfterFailure(tmp, e);
        }
        if (e instanceof NoSuchObjectException || e instanceof StoreFullException) {
            return e;
        }
        if (NioFs.isOutOfSpace(e)) {
            return new StoreFullException("out of space " + doing + " object " + key + " in " + describe()
                    + ": free space on that file system (or raise its quota), or delete unused volumes and snapshots", e);
        }
        String hint = target == null ? "" : collision(target);
        if (hint.isEmpty()) {
            hint = "; check that " + root + " is writable and its disk healthy";
        }
        return new IOException(doing + " object " + key + " in " + describe() + " failed: " + e.getMessage() + hint, e);
    }

    private String collision(Path target) {
        if (fs.isDirectory(target)) {
            return "; objects exist under " + root.relativize(target) + "/, and a file store cannot also hold an object of that name";
        }
        for (Path d = target.getParent(); !d.equals(root); d = d.getParent()) {
            if (fs.exists(d) && !fs.isDirectory(d)) {
                return "; object " + root.relativize(d) + " exists, and a file store cannot also hold objects under it";
            }
        }
        return "";
    }
}
