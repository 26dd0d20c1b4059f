package io.viperblock.core.store;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Optional;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * An {@link ObjectStore} in memory, for tests and benchmarks. Objects are copied in and out, so no
 * caller can change a stored object through a buffer it still holds.
 *
 * <p>Thread-safe: reads go straight to a concurrent map; mutations hold this object's lock so
 * the byte count behind the optional capacity stays exact.
 */
public final class MemoryStore implements ObjectStore {
    private final ConcurrentSkipListMap<String, byte[]> objects = new ConcurrentSkipListMap<>();
    private final long capacity;
    private long used;

    /** A store without a size limit. */
    public MemoryStore() {
        this(Long.MAX_VALUE);
    }

    /** A store that holds at most {@code capacity} bytes of objects, then throws StoreFullException. */
    public MemoryStore(long capacity) {
        if (capacity < 0) {
            throw new IllegalArgumentException("capacity must be >= 0, got " + capacity);
        }
        this.capacity = capacity;
    }

    @Override
    public void put(String key, ByteBuffer data) throws IOException {
        ObjectKeys.check(key);
        byte[] bytes = copy(data);
        synchronized (this) {
            byte[] old = objects.get(key);
            reserve(key, bytes.length - (old == null ? 0 : old.length));
            objects.put(key, bytes);
        }
    }

    @Override
    public boolean putIfAbsent(String key, ByteBuffer data) throws IOException {
        ObjectKeys.check(key);
        byte[] bytes = copy(data);
        synchronized (this) {
            if (objects.containsKey(key)) {
                return false;
            }
            reserve(key, bytes.length);
            objects.put(key, bytes);
            return true;
        }
    }

    private void reserve(String key, long growth) throws StoreFullException {
        if (growth > capacity - used) {
            throw new StoreFullException("no room for object " + key + " in " + describe() + ": " + used + " of "
                    + capacity + " bytes used; delete objects or create the store with a larger capacity", null);
        }
        used += growth;
    }

    @Override
    public ByteBuffer get(String key) throws IOException {
        return ByteBuffer.wrap(bytes(key).clone());
    }

    @Override
    public ByteBuffer get(String key, long offset, int length) throws IOException {
        checkRange(key, offset, length);
        byte[] b = bytes(key);
        if (offset >= b.length) {
            return ByteBuffer.allocate(0);
        }
        int from = (int) offset;
        return ByteBuffer.wrap(Arrays.copyOfRange(b, from, from + (int) Math.min(length, b.length - offset)));
    }

    private static void checkRange(String key, long offset, int length) {
        if (offset < 0 || length < 0) {
            throw new IllegalArgumentException("invalid range of object " + key + ": offset " + offset
                    + " and length " + length + " must not be negative");
        }
    }

    private byte[] bytes(String key) throws NoSuchObjectException {
        byte[] b = objects.get(ObjectKeys.check(key));
        if (b == null) {
            throw new NoSuchObjectException(describe(), key);
        }
        return b;
    }

    @Override
    public Optional<ObjectInfo> head(String key) {
        byte[] b = objects.get(ObjectKeys.check(key));
        return b == null ? Optional.empty() : Optional.of(new ObjectInfo(key, b.length));
    }

    @Override
    public List<ObjectInfo> list(String prefix, String startAfter) {
        ObjectKeys.checkPrefix(prefix);
        // Keys with a common prefix are contiguous in key order, so one range scan finds them all.
        NavigableMap<String, byte[]> from = startAfter != null && startAfter.compareTo(prefix) >= 0
                ? objects.tailMap(startAfter, false)
                : objects.tailMap(prefix, true);
        List<ObjectInfo> result = new ArrayList<>();
        for (Map.Entry<String, byte[]> e : from.entrySet()) {
            if (!e.getKey().startsWith(prefix)) {
                break;
            }
            result.add(new ObjectInfo(e.getKey(), e.getValue().length));
        }
        return result;
    }

    @Override
    public void delete(String key) {
        ObjectKeys.check(key);
        synchronized (this) {
            byte[] old = objects.remove(key);
            if (old != null) {
                used -= old.length;
            }
        }
    }

    @Override
    public boolean local() {
        return true;
    }

    @Override
    public String describe() {
        return "mem:";
    }

    private static byte[] copy(ByteBuffer data) {
        byte[] b = new byte[data.remaining()];
        data.duplicate().get(b);
        return b;
    }
}
