package io.viperblock.core.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The metered store keeps the wrapped store's contract, and counts what it sends. */
class MeteredStoreTest extends ObjectStoreContract {
    @Override
    protected ObjectStore newStore() {
        return new MeteredStore(new MemoryStore());
    }

    @Test
    void aDeleteOfManyObjectsCountsOneRequestForEach() throws IOException {
        MeteredStore m = new MeteredStore(new MemoryStore());
        for (String k : List.of("a", "b", "c")) {
            m.put(k, ByteBuffer.allocate(1));
        }
        m.delete("a");
        m.deleteAll(List.of("b", "c", "gone"));
        assertEquals(4, m.requests(MeteredStore.Op.DELETE));
        assertEquals(4, m.latency(MeteredStore.Op.DELETE).count(), "one latency sample a request");
        assertFalse(m.head("c").isPresent());
    }
}
