package io.viperblock.core.format;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.viperblock.core.testing.Seeds;
import java.nio.ByteBuffer;
import java.util.SplittableRandom;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

class Crc32cTest {

    private static int crc(byte[] b, int from, int to) {
        CRC32C c = new CRC32C();
        c.update(b, from, to - from);
        return (int) c.getValue();
    }

    @Test
    void theCrcOfAConcatenationComesFromTheCrcsOfItsParts() {
        SplittableRandom r = Seeds.random("theCrcOfAConcatenationComesFromTheCrcsOfItsParts");
        int[] lengths = {0, 1, 3, 28, 4095, 4096, 4097, 8192, 3 * 4096, 256 * 4096, 1000 * 4096 + 13};
        for (int round = 0; round < 200; round++) {
            int a = round < lengths.length ? lengths[round] : r.nextInt(100_000);
            int b = round < lengths.length ? lengths[lengths.length - 1 - round] : r.nextBoolean() ? r.nextInt(300) * 4096 : r.nextInt(100_000);
            byte[] all = Seeds.bytes(r, a + b);
            assertEquals(crc(all, 0, a + b), Crc32c.combine(crc(all, 0, a), crc(all, a, a + b), b), "lengths " + a + " + " + b);
        }
        assertThrows(IllegalArgumentException.class, () -> Crc32c.combine(1, 2, -1));
    }

    @Test
    void blocksAndTheirWholeInOnePass() {
        SplittableRandom r = Seeds.random("blocksAndTheirWholeInOnePass");
        for (int blocks : new int[] {0, 1, 2, 17, 256, 1 + r.nextInt(1024)}) {
            byte[] data = Seeds.bytes(r, blocks * 4096 + 100);
            // the payload sits inside a bigger buffer, at an odd position
            ByteBuffer payload = ByteBuffer.wrap(data).position(37).limit(37 + blocks * 4096);
            int[] crcs = new int[blocks + 3];
            int whole = Crc32c.ofBlocks(payload, crcs);
            assertEquals(crc(data, 37, 37 + blocks * 4096), whole, blocks + " blocks");
            assertEquals(crc(data, 37, 37 + blocks * 4096), Crc32c.of(payload));
            for (int i = 0; i < blocks; i++) {
                assertEquals(crc(data, 37 + i * 4096, 37 + (i + 1) * 4096), crcs[i], "block " + i + " of " + blocks);
            }
            assertEquals(37, payload.position());
        }
        assertThrows(IllegalArgumentException.class, () -> Crc32c.ofBlocks(ByteBuffer.allocate(4097), new int[2]));
        assertThrows(IllegalArgumentException.class, () -> Crc32c.ofBlocks(ByteBuffer.allocate(8192), new int[1]));
    }
}
