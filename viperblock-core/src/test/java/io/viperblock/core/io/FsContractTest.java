package io.viperblock.core.io;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What every {@link Fs} must do; subclasses supply the Fs and an empty directory in it. */
public abstract class FsContractTest {
    protected Fs fs;
    protected Path base;

    protected abstract Fs newFs();

    /** An existing, empty directory of {@code fs}. */
    protected abstract Path newBase(Fs fs) throws IOException;

    @BeforeEach
    void setUpFs() throws IOException {
        fs = newFs();
        base = newBase(fs);
    }

    protected static ByteBuffer utf8(String s) {
        return ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8));
    }

    protected static byte[] readAll(FsFile f) throws IOException {
        ByteBuffer b = ByteBuffer.allocate((int) f.size());
        assertEquals(b.capacity(), f.read(b, 0));
        return b.array();
    }

    protected byte[] readAll(Path p) throws IOException {
        try (FsFile f = fs.open(p)) {
            return readAll(f);
        }
    }

    protected String readString(Path p) throws IOException {
        return new String(readAll(p), StandardCharsets.UTF_8);
    }

    protected void writeFile(Path p, String content) throws IOException {
        try (FsFile f = fs.createNew(p)) {
            f.write(utf8(content), 0);
        }
    }

    @Test
    void gatheringWriteThenPositionalReads() throws IOException {
        Path p = base.resolve("f");
        ByteBuffer direct = ByteBuffer.allocateDirect(3).put("def".getBytes(StandardCharsets.UTF_8)).flip();
        try (FsFile f = fs.createNew(p)) {
            f.write(new ByteBuffer[] {utf8("abc"), ByteBuffer.allocate(0), direct, utf8("gh")}, 0);
            assertEquals(8, f.size());
            assertEquals(8, fs.size(p));
            assertEquals("abcdefgh", new String(readAll(f), StandardCharsets.UTF_8));

            ByteBuffer mid = ByteBuffer.allocate(3);
            assertEquals(3, f.read(mid, 2));
            assertEquals("cde", new String(mid.array(), StandardCharsets.UTF_8));

            ByteBuffer tail = ByteBuffer.allocate(10);
            assertEquals(2, f.read(tail, 6), "a read stops at the end of the file");
            assertEquals(0, f.read(ByteBuffer.allocate(4), 8));
            assertEquals(0, f.read(ByteBuffer.allocate(4), 100));
        }
        assertFalse(direct.hasRemaining(), "written buffers are consumed");
    }

    @Test
    void writePastTheEndLeavesAHoleOfZeros() throws IOException {
        Path p = base.resolve("f");
        try (FsFile f = fs.createNew(p)) {
            f.write(utf8("ab"), 0);
            f.write(utf8("z"), 10_000);
            byte[] all = readAll(f);
            assertEquals(10_001, all.length);
            assertEquals('b', all[1]);
            for (int i = 2; i < 10_000; i++) {
                assertEquals(0, all[i], "byte " + i);
            }
            assertEquals('z', all[10_000]);
        }
    }

    @Test
    void gatheringWriteOfMoreBuffersThanOneSyscallTakes() throws IOException {
        SplittableRandom rnd = new SplittableRandom(7);
        ByteBuffer[] bufs = new ByteBuffer[3000]; // Linux takes at most 1024 per writev
        byte[] expected = new byte[0];
        for (int i = 0; i < bufs.length; i++) {
            byte[] b = new byte[rnd.nextInt(0, 40)];
            rnd.nextBytes(b);
            bufs[i] = ByteBuffer.wrap(b);
            int old = expected.length;
            expected = Arrays.copyOf(expected, old + b.length);
            System.arraycopy(b, 0, expected, old, b.length);
        }
        try (FsFile f = fs.createNew(base.resolve("f"))) {
            f.write(utf8("0123456789"), 0);
            f.write(bufs, 5);
            byte[] all = readAll(f);
            assertEquals(5 + expected.length, all.length);
            assertArrayEquals(expected, Arrays.copyOfRange(all, 5, all.length));
        }
    }

    @Test
    void truncateShrinksButNeverGrows() throws IOException {
        try (FsFile f = fs.createNew(base.resolve("f"))) {
            f.write(utf8("abcdef"), 0);
            f.truncate(3);
            assertEquals(3, f.size());
            f.truncate(100);
            assertEquals(3, f.size());
            f.write(utf8("X"), 5);
            assertArrayEquals(new byte[] {'a', 'b', 'c', 0, 0, 'X'}, readAll(f), "truncated bytes come back as zeros");
        }
    }

    /** Sizes around the page and the 1 MiB at which NioFs writes past the page cache. */
    @Test
    void createForcedWritesExactlyTheRemainingBytesOfAnyBuffer() throws IOException {
        SplittableRandom rnd = new SplittableRandom(7);
        int[] sizes = {0, 1, 4095, 4096, 4097, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, (4 << 20) + 4096 * 6 + 48};
        int n = 0;
        for (int size : sizes) {
            for (String kind : new String[] {"heap", "direct", "aligned", "aligned-at-offset", "unaligned"}) {
                byte[] want = new byte[size];
                rnd.nextBytes(want);
                int skip = kind.equals("aligned-at-offset") ? 4096 : kind.equals("unaligned") ? 3 : 0;
                ByteBuffer raw = kind.equals("heap") ? ByteBuffer.allocate(size + skip + 8192)
                        : ByteBuffer.allocateDirect(size + skip + 3 * 8192);
                ByteBuffer buf = kind.startsWith("aligned") ? raw.alignedSlice(4096) : raw;
                buf.position(skip).put(want).put((byte) 0x5a); // a byte past the limit, which must not reach the file
                buf.limit(skip + size).position(skip);
                Path p = base.resolve("forced-" + n++);
                fs.createForced(p, buf);
                assertEquals(skip, buf.position(), "the buffer's position is unchanged");
                assertEquals(size, fs.size(p), size + " bytes from a " + kind + " buffer");
                assertArrayEquals(want, readAll(p), size + " bytes from a " + kind + " buffer");
            }
        }
    }

    @Test
    void createForcedFailsIfTheFileExistsOrItsDirectoryDoesNot() throws IOException {
        Path p = base.resolve("taken");
        writeFile(p, "first");
        assertThrows(FileAlreadyExistsException.class, () -> fs.createForced(p, utf8("second")));
        assertEquals("first", readString(p));
        assertThrows(NoSuchFileException.class, () -> fs.createForced(base.resolve("no/such/dir"), utf8("x")));
    }

    @Test
    void createNewFailsIfTheFileExists() throws IOException {
        Path p = base.resolve("f");
        writeFile(p, "old");
        assertThrows(FileAlreadyExistsException.class, () -> fs.createNew(p));
        assertEquals("old", readString(p));
    }

    @Test
    void missingFilesAndDirectories() throws IOException {
        assertThrows(NoSuchFileException.class, () -> fs.open(base.resolve("nope")));
        assertThrows(NoSuchFileException.class, () -> fs.createNew(base.resolve("no/such/dir")));
        assertThrows(NoSuchFileException.class, () -> fs.size(base.resolve("nope")));
        assertThrows(NoSuchFileException.class, () -> fs.syncDir(base.resolve("nope")));
        assertThrows(NoSuchFileException.class, () -> fs.rename(base.resolve("nope"), base.resolve("x")));
        assertEquals(List.of(), fs.list(base.resolve("nope")));
        assertFalse(fs.delete(base.resolve("nope")));
        assertFalse(fs.delete(base.resolve("no/such/file")));
        assertFalse(fs.exists(base.resolve("nope")));
        assertFalse(fs.isDirectory(base.resolve("nope")));
    }

    @Test
    void listIsSortedByName() throws IOException {
        for (String name : List.of("b", "a.b", "C", "a", "a-1", "_z")) {
            writeFile(base.resolve(name), name);
        }
        fs.createDirectories(base.resolve("a0"));
        List<String> expected = new ArrayList<>(List.of("b", "a.b", "C", "a", "a-1", "_z", "a0"));
        expected.sort(null);
        assertEquals(expected, fs.list(base));
    }

    @Test
    void createDirectoriesMakesParentsAndIsIdempotent() throws IOException {
        Path deep = base.resolve("x/y/z");
        fs.createDirectories(deep);
        fs.createDirectories(deep);
        assertTrue(fs.isDirectory(base.resolve("x")));
        assertTrue(fs.isDirectory(deep));
        assertTrue(fs.exists(deep));
        writeFile(deep.resolve("f"), "1");
        assertEquals(List.of("f"), fs.list(deep));
        assertFalse(fs.isDirectory(deep.resolve("f")));

        writeFile(base.resolve("file"), "x");
        assertThrows(IOException.class, () -> fs.createDirectories(base.resolve("file/sub")));
    }

    @Test
    void deleteFilesAndEmptyDirectories() throws IOException {
        Path d = base.resolve("d");
        fs.createDirectories(d);
        writeFile(d.resolve("f"), "x");
        assertThrows(DirectoryNotEmptyException.class, () -> fs.delete(d));
        assertTrue(fs.delete(d.resolve("f")));
        assertFalse(fs.delete(d.resolve("f")));
        assertFalse(fs.exists(d.resolve("f")));
        assertTrue(fs.delete(d));
        assertFalse(fs.exists(d));
    }

    @Test
    void renameReplacesTheTargetAtomically() throws IOException {
        Path a = base.resolve("a");
        Path b = base.resolve("b");
        writeFile(a, "new");
        writeFile(b, "old");
        try (FsFile oldHandle = fs.open(b)) {
            fs.rename(a, b);
            assertFalse(fs.exists(a));
            assertEquals("new", readString(b));
            assertEquals("old", new String(readAll(oldHandle), StandardCharsets.UTF_8),
                    "an open file keeps reading the replaced content");
        }
        fs.createDirectories(base.resolve("sub"));
        fs.rename(b, base.resolve("sub/c"));
        assertEquals("new", readString(base.resolve("sub/c")));
        assertEquals(List.of("sub"), fs.list(base));
    }

    @Test
    void linkCreatesASecondNameOnlyIfAbsent() throws IOException {
        Path a = base.resolve("a");
        Path b = base.resolve("b");
        Path c = base.resolve("c");
        writeFile(a, "one");
        writeFile(c, "other");
        assertEquals(1, fs.linkCount(a));
        assertTrue(fs.link(a, b));
        assertEquals("one", readString(b));
        assertEquals(2, fs.linkCount(a));
        assertFalse(fs.link(a, b));
        assertFalse(fs.link(a, c));
        assertEquals("other", readString(c));
        assertTrue(fs.delete(a));
        assertEquals("one", readString(b), "the other name still holds the file");
        assertEquals(1, fs.linkCount(b));
        assertThrows(NoSuchFileException.class, () -> fs.link(a, base.resolve("d")));
        assertThrows(NoSuchFileException.class, () -> fs.linkCount(a));
    }

    @Test
    void forceAndSyncDir() throws IOException {
        try (FsFile f = fs.createNew(base.resolve("f"))) {
            f.write(utf8("x"), 0);
            f.force();
        }
        fs.syncDir(base);
    }

    @Test
    void aClosedFileCannotBeUsed() throws IOException {
        FsFile f = fs.createNew(base.resolve("f"));
        f.close();
        assertThrows(IOException.class, () -> f.write(utf8("x"), 0));
        assertThrows(IOException.class, () -> f.read(ByteBuffer.allocate(1), 0));
    }

    /** Random writes, truncations and reads, checked against a byte array. */
    @Test
    void randomOperationsMatchAModel() throws IOException {
        long seed = Long.getLong("viperblock.seed", System.nanoTime());
        System.out.println(getClass().getSimpleName() + ".randomOperationsMatchAModel seed=" + seed);
        SplittableRandom rnd = new SplittableRandom(seed);
        byte[] model = new byte[0];
        Path p = base.resolve("f");
        FsFile f = fs.createNew(p);
        try {
            for (int op = 0; op < 400; op++) {
                int kind = rnd.nextInt(10);
                if (kind < 5) {
                    int pos = rnd.nextInt(0, 70_000);
                    int n = rnd.nextInt(1, 4);
                    ByteBuffer[] bufs = new ByteBuffer[n];
                    int total = 0;
                    for (int i = 0; i < n; i++) {
                        byte[] b = new byte[rnd.nextInt(0, 9000)];
                        rnd.nextBytes(b);
                        bufs[i] = ByteBuffer.wrap(b);
                        if (b.length > 0 && pos + total + b.length > model.length) {
                            model = Arrays.copyOf(model, pos + total + b.length);
                        }
                        if (b.length > 0) { // an empty buffer past the end writes nothing, and has nowhere to go in the model
                            System.arraycopy(b, 0, model, pos + total, b.length);
                        }
                        total += b.length;
                    }
                    f.write(bufs, pos);
                } else if (kind < 6) {
                    int size = rnd.nextInt(0, model.length + 100);
                    f.truncate(size);
                    model = Arrays.copyOf(model, Math.min(size, model.length));
                } else if (kind < 9) {
                    int pos = rnd.nextInt(0, model.length + 100);
                    ByteBuffer dst = ByteBuffer.allocate(rnd.nextInt(0, 20_000));
                    int n = f.read(dst, pos);
                    int expected = Math.max(0, Math.min(dst.capacity(), model.length - pos));
                    assertEquals(expected, n, "seed=" + seed + " op=" + op);
                    assertArrayEquals(Arrays.copyOfRange(model, Math.min(pos, model.length), Math.min(pos, model.length) + expected), Arrays.copyOf(dst.array(), n),
                            "seed=" + seed + " op=" + op);
                } else {
                    f.force();
                    f.close();
                    f = fs.open(p);
                }
                assertEquals(model.length, f.size(), "seed=" + seed + " op=" + op);
            }
            assertArrayEquals(model, readAll(f), "seed=" + seed);
        } finally {
            f.close();
        }
    }
}
