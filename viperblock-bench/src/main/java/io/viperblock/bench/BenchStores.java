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
     * Takes chunk uploads and drops their bodies (only counting them). The engine never deletes
     * chunks a newer consolidation replaced, so a MemoryStore under a write benchmark that
     * overwrites one span for minutes would otherwise fill the heap with garbage chunks and the
     * benchmark would end up measuring the garbage collector. Nothing reads the chunks back in
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

    /** Forwards everything to a MemoryStore. */
    abstract static class Delegating implements ObjectStore {
        private final MemoryStore inner = new MemoryStore();

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
        public String describe() {
            return "benchmark " + getClass().getSimpleName() + " over " + inner.describe();
        }
    }
}
