package io.viperblock.core.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.viperblock.core.io.CrashFs;
import io.viperblock.core.store.FaultyStore;
import io.viperblock.core.store.MemoryStore;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A volume keeps a block cache for a remote store only: a local store's chunk files are in the
 * page cache once read, so there a second read of consolidated data goes to the store again, and
 * across a network it is served from the cache.
 */
class ChunkCacheTest {
    private static final int LENGTH = 64 << 10; // 16 blocks: a run the cache keeps

    @ParameterizedTest(name = "remote store: {0}")
    @ValueSource(booleans = {false, true})
    void onlyARemoteStoresReadsAreCached(boolean remote) throws Exception {
        FaultyStore store = new FaultyStore(new MemoryStore(), 3);
        VolumeManager manager = new VolumeManager(store, Path.of("/data"), new CrashFs(), VolumeScenarios.smallConfig().withCacheBytes(1 << 20));
        manager.create("c", 16 << 20);
        store.remote(remote);
        byte[] data = new byte[LENGTH];
        new SplittableRandom(5).nextBytes(data);
        try (Volume v = manager.open("c")) {
            v.write(LENGTH, data, false);
            v.drain(); // in the store now, and no WAL segment is kept to serve it
            assertArrayEquals(data, v.read(LENGTH, LENGTH));
            VolumeStats first = v.stats();
            assertEquals(0, first.walBlockReads(), "read from the store");
            assertArrayEquals(data, v.read(LENGTH, LENGTH));
            VolumeStats second = v.stats();
            if (remote) {
                assertEquals(16, second.cacheHits(), "the second read from the cache");
                assertEquals(first.storeReads(), second.storeReads(), "nothing fetched again");
            } else {
                assertEquals(0, second.cacheHits(), "no cache");
                assertEquals(first.storeReads() + 1, second.storeReads(), "one ranged read again");
                assertEquals(32, second.cacheMisses(), "both reads counted as fetched");
            }
        }
    }
}
