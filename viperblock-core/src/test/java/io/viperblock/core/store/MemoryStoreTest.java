package io.viperblock.core.store;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MemoryStoreTest extends ObjectStoreContract {
    @Override
    protected ObjectStore newStore() {
        return new MemoryStore();
    }

    @Test
    void describe() {
        assertEquals("mem:", store.describe());
    }

    @Test
    void aFullStoreRejectsGrowthAndKeepsTheOldObject() throws IOException {
        MemoryStore small = new MemoryStore(100);
        small.put("a", ByteBuffer.allocate(60));
        StoreFullException e = assertThrows(StoreFullException.class, () -> small.put("b", ByteBuffer.allocate(50)));
        assertTrue(e.getMessage().contains("b") && e.getMessage().contains("mem:"), e.getMessage());
        assertThrows(StoreFullException.class, () -> small.putIfAbsent("b", ByteBuffer.allocate(50)));
        assertFalse(small.head("b").isPresent());

        small.put("a", ByteBuffer.allocate(100)); // a replacement needs only the difference
        assertThrows(StoreFullException.class, () -> small.put("a", ByteBuffer.allocate(101)));
        assertEquals(100, small.get("a").remaining());
        small.delete("a");
        assertTrue(small.putIfAbsent("b", ByteBuffer.allocate(100)));
    }
}
