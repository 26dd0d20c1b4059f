package io.viperblock.bench;

import io.viperblock.core.store.MemoryStore;
import io.viperblock.core.store.ObjectInfo;
import io.viperblock.core.store.ObjectStore;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.LongAdder;

/**
 * Object stores for benchmarks that exercise the WAL side of the engine: a {@link MemoryStore}
 * for everything (volume.json, leases, map deltas, checkpoints), with chunk uploads handled
 * differently.
 */
final class BenchStores {
    private BenchStores() {}

    /** Chunk keys are {@code volumes/<vol>/chunks/<seq>} (docs/FORMATS.md). */
    static boolean isChunk(String key) {
        return key.contains("/chunks/");
    }

    /**
     * Takes chunk uploads and drops their bodies (only counting them). The engine deletes chunks
     * a newer consolidation replaced only at the next look for them (ChunkCollector: after each
     * checkpoint, or {@code sweepEvery}, 10 s, after the last look), so a
     * MemoryStore under a write benchmark that overwrites one span for minutes would otherwise
     * hold gigabytes of garbage chunks and the benchmark would end up measuring the JVM's
     * garbage collector. Nothing reads the chunks back in
     * a write benchmark. All the consolidator's own work (reading the WAL, building and
     * checksumming chunks, map deltas, checkpoints) still runs.
     */
    static final class ChunkSink extends Delegating {
        final LongAdder chunkBytes = new LongAdder();
        final LongAdder chunks = new LongAdder();

        @Override
        public void put(String key, ByteBuffer data) throws IOException {
            if (isChunk(key)) {
                chunks.increment();
                chunkBytes.add(data.remaining());
                return;
            }
            super.put(key, data);
        }

        @Override
        public boolean putIfAbsent(String key, ByteBuffer data) throws IOException {
            if (isChunk(key)) {
                put(key, data);
                return true;
            }
            return super.putIfAbsent(key, data);
        }
    }

    /**
     * Refuses every chunk upload, so consolidation never succeeds and the WAL stays on disk: the
     * state a crash leaves when the store was unreachable. Everything else works, so a volume can
     * still be created and opened.
     */
    static final class NoChunks extends Delegating {
        @Override
        public void put(String key, ByteBuffer data) throws IOException {
            if (isChunk(key)) {
                throw new IOException("benchmark store: chunk uploads are switched off (" + key + ")");
            }
            super.put(key, data);
        }

        @Override
        public boolean putIfAbsent(String key, ByteBuffer data) throws IOException {
            if (isChunk(key)) {
                put(key, data);
            }
            return super.putIfAbsent(key, data);
        }
    }

    /**
     * Holds every chunk upload while closed (until {@link #open()}), so a volume's consolidator stays idle while
     * a benchmark builds a WAL backlog, however many segments fill and are sealed; everything else
     * goes straight to the store underneath.
     */
    static final class ChunkGate extends Delegating {
        private volatile java.util.concurrent.CountDownLatch gate = new java.util.concurrent.CountDownLatch(1);

        /** Starts closed. */
        ChunkGate(ObjectStore inner) {
            super(inner);
        }

        void open() {
            gate.countDown();
        }

        /** Closes an open gate again (uploads already past it go on). */
        void shut() {
            if (gate.getCount() == 0) {
                gate = new java.util.concurrent.CountDownLatch(1);
            }
        }

        @Override
        public void put(String key, ByteBuffer data) throws IOException {
            if (isChunk(key)) {
                try {
                    gate.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new java.io.InterruptedIOException("interrupted before the chunk gate opened");
                }
            }
            super.put(key, data);
        }
    }

    /** Forwards everything to another store, a MemoryStore unless given. */
    abstract static class Delegating implements ObjectStore {
        private final ObjectStore inner;

        Delegating() {
            this(new MemoryStore());
        }

        Delegating(ObjectStore inner) {
            this.inner = inner;
        }

        @Override
        public int read(String key, long offset, ByteBuffer dst) throws IOException {
            return inner.read(key, offset, dst);
        }

        @Override
        public void put(String key, ByteBuffer data) throws IOException {
            inner.put(key, data);
        }

        @Override
        public boolean putIfAbsent(String key, ByteBuffer data) throws IOException {
            return inner.putIfAbsent(key, data);
        }

        @Override
        public ByteBuffer get(String key) throws IOException {
            return inner.get(key);
        }

        @Override
        public ByteBuffer get(String key, long offset, int length) throws IOException {
            return inner.get(key, offset, length);
        }

        @Override
        public Optional<ObjectInfo> head(String key) throws IOException {
            return inner.head(key);
        }

        @Override
        public List<ObjectInfo> list(String prefix, String startAfter) throws IOException {
            return inner.list(prefix, startAfter);
        }

        @Override
        public void delete(String key) throws IOException {
            inner.delete(key);
        }

        @Override
        public boolean local() {
            return inner.local();
        }

        @Override
        public String describe() {
            return "benchmark " + getClass().getSimpleName() + " over " + inner.describe();
        }
    }
}
