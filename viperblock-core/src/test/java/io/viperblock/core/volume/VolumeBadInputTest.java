package io.viperblock.core.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.core.store.MemoryStore;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/** Every public method with bad arguments: a clear exception, and the volume goes on working. */
class VolumeBadInputTest {
    static final long SIZE = 1 << 20;

    @TempDir
    Path tmp;
    VolumeManager mgr;
    Volume v;

    @BeforeEach
    void open() throws Exception {
        mgr = new VolumeManager(new MemoryStore(), tmp);
        mgr.create("vol", SIZE);
        v = mgr.open("vol");
        v.write(0, new byte[] {7, 7, 7}, false);
    }

    @AfterEach
    void close() throws Exception {
        v.close();
    }

    private void assertRejected(Executable call, String... words) throws Exception {
        OutOfRangeException e = assertThrows(OutOfRangeException.class, call);
        for (String w : words) {
            assertTrue(e.getMessage().contains(w), e.getMessage());
        }
        // still usable, data intact
        assertArrayEquals(new byte[] {7, 7, 7}, v.read(0, 3));
        v.write(SIZE - 1, new byte[] {1}, false);
        assertEquals(1, v.read(SIZE - 1, 1)[0]);
    }

    @Test
    void outOfRangeAndNegativeArgumentsAreRefused() throws Exception {
        assertRejected(() -> v.read(-1, 1), "offset -1", "\"vol\"");
        assertRejected(() -> v.read(SIZE, 1), "outside the volume", "size " + SIZE);
        assertRejected(() -> v.read(SIZE - 1, 2));
        assertRejected(() -> v.read(0, -5), "negative");
        assertRejected(() -> v.read(Long.MAX_VALUE, 1));
        assertRejected(() -> v.write(SIZE - 2, new byte[3], false), "write");
        assertRejected(() -> v.write(-4096, new byte[4096], true));
        assertRejected(() -> v.write(Long.MAX_VALUE - 1, ByteBuffer.allocate(10), false));
        assertRejected(() -> v.trim(SIZE, 4096), "trim");
        assertRejected(() -> v.trim(0, -1));
        assertRejected(() -> v.trim(4096, Long.MAX_VALUE));
        assertRejected(() -> v.writeZeroes(SIZE - 4096, 8192, false));
        assertRejected(() -> v.writeZeroes(-1, 1, false));
        assertRejected(() -> v.blockStatus(0, SIZE + 1), "block status");
        assertRejected(() -> v.blockStatus(-1, 1));
        // zero-length operations at the very end are fine
        v.write(SIZE, new byte[0], false);
        assertEquals(0, v.read(SIZE, 0).length);
        v.trim(SIZE, 0);
    }

    @Test
    void writeAllRefusesWritesThatAreNotWholeBlocksAndWritesNoneOfTheBatch() throws Exception {
        long[] offsets = {8192, SIZE - 4096};
        ByteBuffer[] ok = {ByteBuffer.allocate(4096), ByteBuffer.allocate(4096)};
        assertRejected(() -> v.writeAll(new long[] {8192, SIZE}, new ByteBuffer[] {ok[0], ok[1]}, 2), "write");
        for (ByteBuffer bad : new ByteBuffer[] {ByteBuffer.allocate(100), ByteBuffer.allocate(0), ByteBuffer.allocate(4097)}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> v.writeAll(new long[] {8192, 65536}, new ByteBuffer[] {ByteBuffer.wrap(new byte[4096]).put(0, (byte) 9), bad}, 2));
            assertTrue(e.getMessage().contains("whole blocks"), e.getMessage());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> v.writeAll(new long[] {8192, 100}, new ByteBuffer[] {ok[0], ok[1]}, 2));
        assertTrue(e.getMessage().contains("4096 bytes at 100"), e.getMessage());
        assertArrayEquals(new byte[4096], v.read(8192, 4096), "nothing of a refused batch is written");
        v.writeAll(offsets, new ByteBuffer[] {ByteBuffer.wrap(new byte[4096]).put(0, (byte) 5), ByteBuffer.wrap(new byte[4096]).put(1, (byte) 6)}, 2);
        assertEquals(5, v.read(8192, 1)[0]);
        assertEquals(6, v.read(SIZE - 4096 + 1, 1)[0]);
    }

    @Test
    void closedVolumeRefusesEverythingClearly() throws Exception {
        v.close();
        for (Executable call : new Executable[] {() -> v.read(0, 1), () -> v.write(0, new byte[1], false), () -> v.flush(),
                () -> v.trim(0, 4096), () -> v.writeZeroes(0, 1, false), () -> v.blockStatus(0, 1), () -> v.drain()}) {
            VolumeClosedException e = assertThrows(VolumeClosedException.class, call);
            assertTrue(e.getMessage().contains("\"vol\" is closed"), e.getMessage());
        }
        v.close(); // closing twice is harmless
        v = mgr.open("vol"); // and it opens again with its data
        assertArrayEquals(new byte[] {7, 7, 7}, v.read(0, 3));
    }

    @Test
    void badNamesAndSizesAreRefused() throws Exception {
        for (String bad : new String[] {"", "../x", "a/b", ".hidden", "a b", "x".repeat(129), "vol\u0000", "-dash"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> mgr.create(bad, SIZE), bad);
            assertTrue(e.getMessage().contains("name"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> mgr.open(bad), bad);
            assertThrows(IllegalArgumentException.class, () -> mgr.delete(bad), bad);
        }
        assertThrows(IllegalArgumentException.class, () -> mgr.create("ok", 0));
        assertThrows(IllegalArgumentException.class, () -> mgr.create("ok", -4096));
        assertThrows(IllegalArgumentException.class, () -> mgr.create("ok", 4097));
        VolumeExistsException dup = assertThrows(VolumeExistsException.class, () -> mgr.create("vol", SIZE));
        assertTrue(dup.getMessage().contains("already exists"), dup.getMessage());
        VolumeNotFoundException nf = assertThrows(VolumeNotFoundException.class, () -> mgr.open("missing"));
        assertTrue(nf.getMessage().contains("\"missing\" does not exist"), nf.getMessage());
        assertThrows(VolumeNotFoundException.class, () -> mgr.delete("missing"));
        VolumeInUseException inUse = assertThrows(VolumeInUseException.class, () -> mgr.delete("vol"));
        assertTrue(inUse.getMessage().contains("open"), inUse.getMessage());
        assertArrayEquals(new byte[] {7, 7, 7}, v.read(0, 3));
    }
}
