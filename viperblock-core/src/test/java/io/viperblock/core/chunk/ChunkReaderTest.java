package io.viperblock.core.chunk;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.viperblock.core.format.ChunkBuilder;
import io.viperblock.core.format.CorruptFormatException;
import io.viperblock.core.store.MemoryStore;
import java.nio.ByteBuffer;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@link ChunkReader} with and without its block cache: without one (a volume on a local store)
 * every read goes to the store and is checked against the bytes there as they are now; with one,
 * a block read before is served from the cache.
 */
class ChunkReaderTest {
    private static final int BLOCK = 4096;
    private static final int BLOCKS = 8;
    private static final long CHUNK_SEQ = 5;
    private static final long FIRST_BLOCK = 100;

    private final MemoryStore store = new MemoryStore();
    private final byte[][] blocks = new byte[BLOCKS][BLOCK];

    ChunkReaderTest() throws Exception {
        SplittableRandom r = new SplittableRandom(41);
        ChunkBuilder b = new ChunkBuilder(CHUNK_SEQ, 1);
        for (int i = 0; i < BLOCKS; i++) {
            r.nextBytes(blocks[i]);
            b.add(FIRST_BLOCK + i, 10 + i, ByteBuffer.wrap(blocks[i]));
        }
        store.put(key(CHUNK_SEQ), b.finish());
    }

    private static String key(long chunkSeq) {
        return "chunks/" + chunkSeq;
    }

    /** Reads blocks [index, index + count) of the chunk and checks them against what was written. */
    private static void readAndCompare(ChunkReader reader, byte[][] expected, int index, int count) throws Exception {
        ByteBuffer dst = ByteBuffer.allocate(count * BLOCK);
        reader.read(CHUNK_SEQ, BLOCKS, index, count, FIRST_BLOCK + index, dst);
        assertEquals(count * BLOCK, dst.position(), "the buffer is advanced past what was read");
        for (int i = 0; i < count; i++) {
            byte[] got = new byte[BLOCK];
            dst.get(i * BLOCK, got);
            assertArrayEquals(expected[index + i], got, "block " + (index + i));
        }
    }

    /** The stored chunk with one byte of block {@code index} flipped. */
    private void damageBlock(int index) throws Exception {
        ByteBuffer whole = store.get(key(CHUNK_SEQ));
        byte[] bytes = new byte[whole.remaining()];
        whole.get(bytes);
        bytes[index * BLOCK + 17] ^= 0x40;
        store.put(key(CHUNK_SEQ), ByteBuffer.wrap(bytes));
    }

    @Test
    void withoutACacheEachReadGoesToTheStoreAndIsCheckedThere() throws Exception {
        ChunkReader reader = new ChunkReader(store, ChunkReaderTest::key, 0);
        readAndCompare(reader, blocks, 2, 4);
        long reads = reader.storeReads(); // the footer, then one ranged read of the run
        assertEquals(2, reads);
        readAndCompare(reader, blocks, 2, 4);
        assertEquals(reads + 1, reader.storeReads(), "one ranged read for the 4 blocks again (the footer is kept)");
        assertEquals(0, reader.hits());
        assertEquals(8, reader.misses(), "every block read counts as fetched");

        damageBlock(3);
        CorruptFormatException e = assertThrows(CorruptFormatException.class, () -> readAndCompare(reader, blocks, 2, 4));
        assertEquals(key(CHUNK_SEQ), e.source(), e.getMessage());
        assertEquals(3L * BLOCK, e.offset(), "the damaged block's offset: " + e.getMessage());
        readAndCompare(reader, blocks, 4, 4); // the blocks around it still read
    }

    @Test
    void withACacheABlockReadBeforeIsServedFromIt() throws Exception {
        ChunkReader reader = new ChunkReader(store, ChunkReaderTest::key, 1 << 20);
        readAndCompare(reader, blocks, 2, 4);
        long reads = reader.storeReads();
        damageBlock(3); // the cache holds the block as it was checked
        damageBlock(6);
        readAndCompare(reader, blocks, 2, 4);
        assertEquals(reads, reader.storeReads(), "nothing fetched again");
        assertEquals(4, reader.hits());
        // a block not read before still goes to the store, where the damage is found
        CorruptFormatException e = assertThrows(CorruptFormatException.class, () -> readAndCompare(reader, blocks, 6, 2));
        assertEquals(6L * BLOCK, e.offset(), e.getMessage());
    }
}
