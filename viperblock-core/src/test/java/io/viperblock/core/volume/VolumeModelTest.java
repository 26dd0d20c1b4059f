package io.viperblock.core.volume;

import io.viperblock.core.store.FileStore;
import io.viperblock.core.store.MemoryStore;
import io.viperblock.core.store.ObjectStore;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The model scenario ({@link VolumeScenarios#model}) on the memory and file stores: thousands of
 * random operations compared byte for byte with a plain array after every step. Reproduce a
 * failure with -Dvb.seed=N (the seed is printed in every message).
 */
class VolumeModelTest {
    static final int SIZE = VolumeScenarios.SIZE;

    @TempDir
    Path tmp;

    static VolumeConfig smallConfig() {
        return VolumeScenarios.smallConfig();
    }

    static ObjectStore store(String kind, Path dir) throws Exception {
        return kind.equals("file") ? new FileStore(dir.resolve("store")) : new MemoryStore();
    }

    static long[] randomRange(SplittableRandom rnd) {
        return VolumeScenarios.randomRange(rnd);
    }

    static long[] randomRange(SplittableRandom rnd, int max) {
        return VolumeScenarios.randomRange(rnd, max);
    }

    @ParameterizedTest
    @ValueSource(strings = {"memory", "file"})
    void randomOperationsMatchTheModel(String kind) throws Exception {
        VolumeScenarios.model(store(kind, tmp), tmp.resolve("data"), Long.getLong("vb.seed", System.nanoTime()),
                Integer.getInteger("vb.steps", 2500), kind);
    }
}
