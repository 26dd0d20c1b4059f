package io.viperblock.core.store;

import io.viperblock.core.metrics.LatencyHistogram;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.atomic.LongAdder;
import java.util.stream.Stream;

/**
 * An {@link ObjectStore} that counts, for any store it wraps, the requests by operation, their
 * latency, the bytes moved, and the failures by kind; everything else it leaves to the store.
 *
 * <p>Thread-safe: the store is, and the counters are {@link LongAdder}s and
 * {@link LatencyHistogram}s.
 */
public final class MeteredStore implements ObjectStore {
    /** What a request did; the label is the Prometheus label value. */
    public enum Op {
        PUT, PUT_IF_ABSENT, GET, HEAD, LIST, DELETE;

        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** Why a request failed: absent object, store out of space, another I/O error, anything else. */
    public enum ErrorKind {
        NOT_FOUND, FULL, IO, OTHER;

        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }

        static ErrorKind of(Exception e) {
            if (e instanceof NoSuchObjectException) {
                return NOT_FOUND;
            }
            if (e instanceof StoreFullException) {
                return FULL;
            }
            return e instanceof IOException ? IO : OTHER;
        }
    }

    private static final int OPS = Op.values().length;
    private static final int KINDS = ErrorKind.values().length;

    private final ObjectStore store;
    private final LongAdder[] requests = adders(OPS);
    private final LongAdder[] bytes = adders(OPS);
    private final LongAdder[] errors = adders(OPS * KINDS);
    private final LatencyHistogram[] latency = new LatencyHistogram[OPS];

    public MeteredStore(ObjectStore store) {
        this.store = store;
        for (int i = 0; i < OPS; i++) {
            latency[i] = new LatencyHistogram();
        }
    }

    private static LongAdder[] adders(int n) {
        return Stream.generate(LongAdder::new).limit(n).toArray(LongAdder[]::new);
    }

    /** One request to the wrapped store. */
    @FunctionalInterface
    private interface Call<T> {
        T run() throws IOException;
    }

    private <T> T timed(Op op, Call<T> call) throws IOException {
        return timed(op, 1, call);
    }

    /** {@code n} requests to the wrapped store in one call, each counted, each given an equal share of its time. */
    private <T> T timed(Op op, int n, Call<T> call) throws IOException {
        long started = System.nanoTime();
        try {
            return call.run();
        } catch (IOException | RuntimeException e) {
            errors[op.ordinal() * KINDS + ErrorKind.of(e).ordinal()].increment();
            throw e;
        } finally {
            requests[op.ordinal()].add(n);
            long each = (System.nanoTime() - started) / Math.max(1, n);
            for (int i = 0; i < n; i++) {
                latency[op.ordinal()].record(each);
            }
        }
    }

    @Override
    public void put(String key, ByteBuffer data) throws IOException {
        int n = data.remaining();
        timed(Op.PUT, () -> {
            store.put(key, data);
            return null;
        });
        bytes[Op.PUT.ordinal()].add(n);
    }

    @Override
    public boolean putIfAbsent(String key, ByteBuffer data) throws IOException {
        int n = data.remaining();
        boolean stored = timed(Op.PUT_IF_ABSENT, () -> store.putIfAbsent(key, data));
        if (stored) {
            bytes[Op.PUT_IF_ABSENT.ordinal()].add(n);
        }
        return stored;
    }

    @Override
    public ByteBuffer get(String key) throws IOException {
        ByteBuffer b = timed(Op.GET, () -> store.get(key));
        bytes[Op.GET.ordinal()].add(b.remaining());
        return b;
    }

    @Override
    public ByteBuffer get(String key, long offset, int length) throws IOException {
        ByteBuffer b = timed(Op.GET, () -> store.get(key, offset, length));
        bytes[Op.GET.ordinal()].add(b.remaining());
        return b;
    }

    @Override
    public int read(String key, long offset, ByteBuffer dst) throws IOException {
        int n = timed(Op.GET, () -> store.read(key, offset, dst)); // keeps the store's own read (no extra copy)
        bytes[Op.GET.ordinal()].add(n);
        return n;
    }

    @Override
    public Optional<ObjectInfo> head(String key) throws IOException {
        return timed(Op.HEAD, () -> store.head(key));
    }

    @Override
    public List<ObjectInfo> list(String prefix, String startAfter) throws IOException {
        return timed(Op.LIST, () -> store.list(prefix, startAfter));
    }

    @Override
    public void delete(String key) throws IOException {
        timed(Op.DELETE, () -> {
            store.delete(key);
            return null;
        });
    }

    /**
     * Counted as one delete request per object, as a store without a batch delete sends them (S3
     * here), each with an equal share of the call's time; the store's own batching still applies.
     */
    @Override
    public void deleteAll(List<String> keys) throws IOException {
        timed(Op.DELETE, keys.size(), () -> {
            store.deleteAll(keys);
            return null;
        });
    }

    @Override
    public boolean local() {
        return store.local();
    }

    /** Counted as a put (of no bytes: none are copied). */
    @Override
    public boolean link(String key, java.nio.file.Path file) throws IOException {
        return timed(Op.PUT, () -> store.link(key, file));
    }

    @Override
    public boolean moveTo(String key, java.nio.file.Path target, long minBytes) throws IOException {
        return timed(Op.DELETE, () -> store.moveTo(key, target, minBytes));
    }

    @Override
    public boolean shared(String key) throws IOException {
        return store.shared(key);
    }

    @Override
    public String describe() {
        return store.describe();
    }

    @Override
    public void close() throws IOException {
        store.close();
    }

    /** Requests of {@code op} so far, failed ones included. */
    public long requests(Op op) {
        return requests[op.ordinal()].sum();
    }

    /** Bytes stored (put, put_if_absent) or fetched (get) by {@code op}; 0 for the others. */
    public long bytes(Op op) {
        return bytes[op.ordinal()].sum();
    }

    /** Requests of {@code op} that failed with {@code kind}. */
    public long errors(Op op, ErrorKind kind) {
        return errors[op.ordinal() * KINDS + kind.ordinal()].sum();
    }

    public LatencyHistogram.Snapshot latency(Op op) {
        return latency[op.ordinal()].snapshot();
    }

    @Override
    public String toString() {
        return "metered " + store.describe();
    }
}
