package io.viperblock.core.store;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;

/**
 * Wraps a store and injects faults on demand: every request failing, a share of requests
 * failing at random, or the store reporting that it is full; it can also pass for a remote store. For tests of the engine's
 * behaviour when the store misbehaves. Thread-safe (volatile switches; the random source is
 * used under this object's lock).
 */
public final class FaultyStore implements ObjectStore {
    private final ObjectStore delegate;
    private final SplittableRandom rnd;
    private volatile double failureRate;
    private volatile boolean full;
    private volatile boolean down;
    private volatile boolean remote;

    public FaultyStore(ObjectStore delegate, long seed) {
        this.delegate = delegate;
        this.rnd = new SplittableRandom(seed);
    }

    /** Every request fails with an IOException (a store that is down). */
    public void down(boolean down) { this.down = down; }
    /** Writes fail with StoreFullException (HTTP 507, disk full). */
    public void full(boolean full) { this.full = full; }
    /** This share of all requests fails with an IOException. */
    public void failureRate(double rate) { this.failureRate = rate; }
    /** Deletes of keys ending so fail with an IOException (null: none). */
    public void failDeletesOf(String suffix) { this.failDeletesOf = suffix; }
    /** {@link #local()} says false, as a store across a network does, whatever the store under it is. */
    public void remote(boolean remote) { this.remote = remote; }

    private void maybeFail(String op, String key) throws IOException {
        if (down) {
            throw new IOException("injected: store down (" + op + " " + key + ")");
        }
        double rate = failureRate;
        if (rate > 0) {
            boolean fail;
            synchronized (this) {
                fail = rnd.nextDouble() < rate;
            }
            if (fail) {
                throw new IOException("injected: random failure (" + op + " " + key + ")");
            }
        }
    }

    private void maybeFull(String key) throws IOException {
        if (full) {
            throw new StoreFullException("injected: store full writing " + key, null);
        }
    }

    /** Something a put, a ranged get or a delete runs before it goes to the store (a test's way to act at that moment). */
    public interface Hook {
        void before(String key) throws IOException;
    }

    private volatile Hook putHook;
    private volatile Hook getHook;
    private volatile Hook deleteHook;
    private volatile String failDeletesOf;

    public void beforePut(Hook hook) { this.putHook = hook; }

    public void beforeGet(Hook hook) { this.getHook = hook; }

    public void beforeDelete(Hook hook) { this.deleteHook = hook; }

    @Override
    public void put(String key, ByteBuffer data) throws IOException {
        beforeWrite("put", key);
        delegate.put(key, data);
    }

    /** A put of the file's bytes, as far as faults go (the put hook runs too). */
    @Override
    public boolean link(String key, java.nio.file.Path file) throws IOException {
        beforeWrite("link", key);
        return delegate.link(key, file);
    }

    /** The put hook, then the faults a write meets. */
    private void beforeWrite(String op, String key) throws IOException {
        Hook hook = putHook;
        if (hook != null) {
            hook.before(key);
        }
        maybeFail(op, key);
        maybeFull(key);
    }

    @Override
    public boolean putIfAbsent(String key, ByteBuffer data) throws IOException {
        maybeFail("putIfAbsent", key);
        maybeFull(key);
        return delegate.putIfAbsent(key, data);
    }

    @Override
    public ByteBuffer get(String key) throws IOException {
        maybeFail("get", key);
        return delegate.get(key);
    }

    @Override
    public ByteBuffer get(String key, long offset, int length) throws IOException {
        Hook hook = getHook;
        if (hook != null) {
            hook.before(key);
        }
        maybeFail("get", key);
        return delegate.get(key, offset, length);
    }

    @Override
    public Optional<ObjectInfo> head(String key) throws IOException {
        maybeFail("head", key);
        return delegate.head(key);
    }

    @Override
    public List<ObjectInfo> list(String prefix, String startAfter) throws IOException {
        maybeFail("list", prefix);
        return delegate.list(prefix, startAfter);
    }

    @Override
    public void delete(String key) throws IOException {
        beforeDelete("delete", key);
        delegate.delete(key);
    }

    @Override
    public boolean moveTo(String key, java.nio.file.Path target, long minBytes) throws IOException {
        beforeDelete("move", key);
        return delegate.moveTo(key, target, minBytes);
    }

    @Override
    public boolean shared(String key) throws IOException {
        return delegate.shared(key);
    }

    /** The delete hook, then the injected faults: a move out of the store is a delete. */
    private void beforeDelete(String op, String key) throws IOException {
        Hook hook = deleteHook;
        if (hook != null) {
            hook.before(key);
        }
        maybeFail(op, key);
        String suffix = failDeletesOf;
        if (suffix != null && key.endsWith(suffix)) {
            throw new IOException("injected failure: " + op + " " + key);
        }
    }

    @Override
    public boolean local() {
        return !remote && delegate.local();
    }

    @Override
    public String describe() {
        return delegate.describe() + " (with injected faults)";
    }
}
