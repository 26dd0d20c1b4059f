package io.viperblock.core.store;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Optional;

/**
 * Where chunks and metadata live: a flat namespace of immutable-by-convention objects, as S3
 * offers. Keys are validated by {@link ObjectKeys#check(String)}: '/'-separated segments of
 * {@code [A-Za-z0-9._-]}, never "." or "..", so no key can leave the store's root.
 *
 * <p>Failures: {@link NoSuchObjectException} for an absent object, {@link StoreFullException} when
 * the store is out of space (the engine turns it into ENOSPC), any other IOException for a store
 * failure (EIO). A put that returned is durable; a put that failed left either the old object or
 * the new one, never a mix.
 *
 * <p>Implementations are thread-safe.
 */
public interface ObjectStore extends AutoCloseable {

    /**
     * Stores the remaining bytes of {@code data} under {@code key}, replacing any object there.
     * The store keeps no reference to {@code data} once this returns (callers reuse buffers).
     */
    void put(String key, ByteBuffer data) throws IOException;

    /**
     * Stores {@code data} only if no object named {@code key} exists (S3 {@code If-None-Match: *},
     * an exclusive create on files); returns false, changing nothing, if one does.
     */
    boolean putIfAbsent(String key, ByteBuffer data) throws IOException;

    /** The whole object. */
    ByteBuffer get(String key) throws IOException;

    /**
     * {@code length} bytes from {@code offset}; fewer only if the object ends first. An offset
     * past the end gives an empty buffer.
     */
    ByteBuffer get(String key, long offset, int length) throws IOException;

    /**
     * Reads bytes of the object from {@code offset} into {@code dst} until it is full or the
     * object ends; returns the number of bytes read. Stores that can read into the caller's
     * buffer without an intermediate copy override this.
     */
    default int read(String key, long offset, ByteBuffer dst) throws IOException {
        ByteBuffer b = get(key, offset, dst.remaining());
        int n = b.remaining();
        dst.put(b);
        return n;
    }

    /** Size of the object, or empty if it does not exist. */
    Optional<ObjectInfo> head(String key) throws IOException;

    /** Every object whose key starts with {@code prefix} and sorts after {@code startAfter} (null: all), in key order. */
    List<ObjectInfo> list(String prefix, String startAfter) throws IOException;

    default List<ObjectInfo> list(String prefix) throws IOException {
        return list(prefix, null);
    }

    /** Deletes the object; deleting an absent object is not an error. */
    void delete(String key) throws IOException;

    /**
     * Deletes each of the objects, as {@link #delete} would, at less cost where a store can (a
     * file store syncs each directory once, not once per object). If it fails, some may be
     * deleted and the others not.
     */
    default void deleteAll(List<String> keys) throws IOException {
        for (String key : keys) {
            delete(key);
        }
    }

    /** Where the store is, for messages (never a secret). */
    String describe();

    /**
     * Whether the objects are on this machine (a directory, memory): a read costs a disk read at
     * most, never a network round trip. The NBD server serves a lone request on its reader thread
     * only then (see {@code NbdConnection}). False unless a store says otherwise.
     */
    default boolean local() {
        return false;
    }

    /**
     * Makes {@code file}, which the caller has forced, the new object {@code key} without copying
     * its bytes, if this store can (a file store on the file's file system gives it a second name,
     * a hard link, durable before this returns); false, changing nothing, if it cannot. The caller
     * must never change the file afterwards. False unless a store says otherwise.
     */
    default boolean link(String key, java.nio.file.Path file) throws IOException {
        return false;
    }

    /**
     * Takes the object {@code key} out of the store as the file {@code target} without copying its
     * bytes, if this store can and the object is a file of at least {@code minBytes} with no other
     * name (a file store on target's file system renames it; both directories are synced before
     * this returns). The object is then gone, as after {@link #delete}. False, changing nothing,
     * otherwise. For a caller that reuses the file's disk blocks. False unless a store says otherwise.
     */
    default boolean moveTo(String key, java.nio.file.Path target, long minBytes) throws IOException {
        return false;
    }

    /**
     * Whether the object {@code key} is a file that has another name besides its key (a file
     * store's chunk that is a WAL segment still kept under its own name, see {@link #link}):
     * deleting the object would then free no space. False for an absent object, and unless a store
     * says otherwise.
     */
    default boolean shared(String key) throws IOException {
        return false;
    }

    @Override
    default void close() throws IOException {}
}
