package io.viperblock.core.store;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FileStoreTest extends ObjectStoreContract {
    @TempDir
    Path tmp;

    private Path root() {
        return tmp.resolve("store");
    }

    @Override
    protected ObjectStore newStore() {
        return new FileStore(root()); // the root does not exist yet: the first put makes it
    }

    @Test
    void keysAreFilesUnderTheRoot() throws IOException {
        store.put("a/b/c", bytes("hello"));
        assertEquals("hello", Files.readString(root().resolve("a/b/c")));
        assertEquals("file:" + root(), store.describe());
        try (var files = Files.list(root().resolve("a/b"))) {
            assertEquals(List.of(root().resolve("a/b/c")), files.toList(), "no temp file is left behind");
        }
    }

    @Test
    void rangeReadsThroughOpenFilesSeeEveryPutAndDelete() throws IOException {
        FileStore small = new FileStore(root(), io.viperblock.core.io.NioFs.INSTANCE, 32);
        int n = 32 + 10; // more objects than files kept open: some are closed again
        for (int round = 0; round < 2; round++) {
            for (int i = 0; i < n; i++) {
                small.put("r/" + i, bytes("round" + round + "-" + i));
            }
            for (int i = 0; i < n; i++) {
                java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(64);
                int got = small.read("r/" + i, 5, b);
                assertEquals(("-" + i).length() + 1, got);
                assertEquals(round + "-" + i, new String(b.array(), 0, got, StandardCharsets.UTF_8));
                assertEquals("round" + round, string(small.get("r/" + i, 0, 6)));
            }
        }
        small.delete("r/3");
        assertThrows(NoSuchObjectException.class, () -> small.read("r/3", 0, java.nio.ByteBuffer.allocate(4)));
        assertThrows(NoSuchObjectException.class, () -> small.get("r/3", 0, 4));
        small.put("r/3", bytes("back"));
        assertEquals("ck", string(small.get("r/3", 2, 10)));
        small.close();
        assertEquals("ba", string(small.get("r/3", 0, 2)), "a closed file store reopens files as needed");
        small.close();
    }

    @Test
    void filesKeptOpenAreAQuarterOfTheDescriptorLimitWithinBounds() {
        assertEquals(256, FileStore.openFilesFor(1024));
        assertEquals(5000, FileStore.openFilesFor(20000));
        assertEquals(8192, FileStore.openFilesFor(1 << 20));
        int d = FileStore.defaultOpenFiles();
        assertTrue(d >= 256 && d <= 8192, "default " + d);
    }

    @Test
    void aStoreOpenedAgainSeesTheObjects() throws IOException {
        store.put("x/y", bytes("kept"));
        assertEquals("kept", string(new FileStore(root()).get("x/y")));
    }

    @Test
    void filesThatCannotBeObjectsAreNotListed() throws IOException {
        store.put("d/obj", bytes("1"));
        Files.writeString(root().resolve("d/.tmp~1234"), "half written");
        Files.createDirectories(root().resolve("lost+found"));
        Files.writeString(root().resolve("lost+found/x"), "junk");
        Files.writeString(root().resolve("d/with space"), "junk");
        assertEquals(List.of("d/obj"), keys("", null));
        assertEquals(List.of("d/obj"), keys("d/", null));
    }

    @Test
    void deleteRemovesEmptyDirectoriesButNotTheRoot() throws IOException {
        store.put("a/b/c/d", bytes("1"));
        store.put("a/x", bytes("2"));
        store.delete("a/b/c/d");
        assertFalse(Files.exists(root().resolve("a/b")));
        assertTrue(Files.isDirectory(root().resolve("a")));
        store.delete("a/x");
        assertTrue(Files.isDirectory(root()));
        try (var files = Files.list(root())) {
            assertEquals(0, files.count());
        }
    }

    @Test
    void anObjectAndAPrefixOfTheSameNameCollideWithAClearError() throws IOException {
        store.put("a/b", bytes("1"));
        IOException e = assertThrows(IOException.class, () -> store.put("a", bytes("2")));
        assertTrue(e.getMessage().contains(root().toString()) && e.getMessage().contains("cannot also hold"), e.getMessage());
        assertThrows(IOException.class, () -> store.putIfAbsent("a", bytes("2")));
        e = assertThrows(IOException.class, () -> store.put("a/b/c", bytes("3")));
        assertTrue(e.getMessage().contains("object a/b exists"), e.getMessage());
        assertEquals("1", getString("a/b"));
        assertEquals(List.of("a/b"), keys("", null));
    }

    @Test
    void errorsNameTheRoot() throws IOException {
        Files.writeString(root(), "a file where the root should be", StandardCharsets.UTF_8);
        IOException e = assertThrows(IOException.class, () -> store.put("k", bytes("x")));
        assertTrue(e.getMessage().contains(root().toString()), e.getMessage());
        NoSuchObjectException missing = assertThrows(NoSuchObjectException.class, () -> store.get("k"));
        assertTrue(missing.getMessage().contains(root().toString()), missing.getMessage());
    }
}
