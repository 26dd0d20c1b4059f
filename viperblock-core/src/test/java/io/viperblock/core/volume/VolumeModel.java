package io.viperblock.core.volume;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.util.Arrays;

/**
 * The plain in-memory model a volume is compared with: one byte array. Confined to a test thread.
 */
final class VolumeModel {
    final byte[] bytes;

    VolumeModel(int size) {
        bytes = new byte[size];
    }

    void write(long offset, byte[] data) {
        System.arraycopy(data, 0, bytes, (int) offset, data.length);
    }

    void zero(long offset, long length) {
        Arrays.fill(bytes, (int) offset, (int) (offset + length), (byte) 0);
    }

    /** Fails with the first differing offset if the volume does not hold exactly the model's bytes. */
    void assertMatches(Volume v, String context) throws IOException {
        byte[] actual = v.read(0, bytes.length);
        if (!Arrays.equals(actual, bytes)) {
            int i = Arrays.mismatch(actual, bytes);
            fail(context + ": volume differs from the model at byte " + i + " (block " + i / 4096 + "): expected "
                    + bytes[i] + " got " + actual[i]);
        }
    }
}
