package io.viperblock.core.store;

import io.viperblock.core.io.CrashFs;
import io.viperblock.core.io.CrashFs.Mode;
import io.viperblock.core.io.FsFile;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** FileStore over a file system that loses power: what returned is kept, nothing is half kept. */
class FileStoreCrashTest {
    private static final Path ROOT = Path.of("/disk/store");

    private CrashFs fs = new CrashFs();
    private FileStore store = new FileStore(ROOT, fs);

    private static ByteBuffer bytes(String s) {
        return ObjectStoreContract.bytes(s);
    }

    private String getString(String key) throws IOException {
        return ObjectStoreContract.string(store.get(key));
    }

    private Optional<String> value(String key) throws IOException {
        return store.head(key).isPresent() ? Optional.of(getString(key)) : Optional.empty();
    }

    private static String brief(Optional<String> v) {
        return v.map(s -> s.length() > 20 ? s.substring(0, 20) + "... (" + s.length() + " chars)" : s).toString();
    }

    /** A value large enough to span several pages, so a torn write would show. */
    private static String big(String tag) {
        return (tag + "-").repeat(3000);
    }

    @Test
    void whatReturnedSurvivesACrash() throws IOException {
        for (Mode mode : Mode.values()) {
            fs = new CrashFs();
            store = new FileStore(ROOT, fs);
            store.put("a/b", bytes(big("put")));
            store.put("a/c", bytes("first"));
            store.put("a/c", bytes("second"));
            assertTrue(store.putIfAbsent("x/y/z", bytes(big("once"))));
            store.put("gone/soon", bytes("x"));
            store.delete("gone/soon");
            fs.crash(mode, new SplittableRandom(1));
            assertTrue(value("a/b").equals(Optional.of(big("put"))), mode + ": " + brief(value("a/b")));
            assertEquals(Optional.of("second"), value("a/c"));
            assertTrue(value("x/y/z").equals(Optional.of(big("once"))), mode + ": " + brief(value("x/y/z")));
            assertEquals(Optional.empty(), store.head("gone/soon"));
            assertEquals(List.of("a/b", "a/c", "x/y/z"), store.list("").stream().map(ObjectInfo::key).toList());
        }
    }

    @Test
    void aPutSyncsTheFileAndTheDirectory() throws IOException {
        store.put("k", bytes("x"));
        fs.resetCounters();
        store.put("k", bytes("y"));
        assertEquals(1, fs.forces());
        assertEquals(1, fs.syncDirs());
    }

    /** The operation under test, started on a store that already holds "v/k" = "old". */
    private interface Step {
        void run(FileStore store) throws IOException;
    }

    /**
     * Cuts the power after every possible number of file-system operations of {@code step}, in
     * both crash modes, and checks that the key then holds one of {@code allowed}, and
     * {@code whenDone} if the step returned.
     */
    private void crashAtEveryPoint(Step step, Set<Optional<String>> allowed, Optional<String> whenDone) throws IOException {
        long seed = Long.getLong("viperblock.seed", System.nanoTime());
        System.out.println("FileStoreCrashTest seed=" + seed);
        SplittableRandom rnd = new SplittableRandom(seed);
        for (Mode mode : Mode.values()) {
            boolean returned = false;
            for (int cut = 0; !returned; cut++) {
                String where = mode + " cut after " + cut + " ops, seed=" + seed;
                fs = new CrashFs();
                store = new FileStore(ROOT, fs);
                store.put("v/k", bytes(big("old")));
                store.put("v/other", bytes("other"));
                fs.powerCutAfter(cut);
                try {
                    step.run(store);
                    returned = true;
                } catch (IOException e) {
                    assertTrue(e.getMessage().contains("power cut"), where + ": " + e);
                }
                fs.crash(mode, rnd);
                Optional<String> got = value("v/k");
                assertTrue(allowed.contains(got), where + ": got " + brief(got));
                if (returned) {
                    assertTrue(whenDone.equals(got), where + ": got " + brief(got));
                    assertTrue(cut >= 2, "the step should take several operations");
                }
                List<String> keys = store.list("").stream().map(ObjectInfo::key).toList();
                assertEquals(got.isPresent() ? List.of("v/k", "v/other") : List.of("v/other"), keys, where);
                assertEquals("other", getString("v/other"), where);
            }
        }
    }

    @Test
    void aPutCutShortLeavesTheOldOrTheNewObject() throws IOException {
        crashAtEveryPoint(s -> s.put("v/k", bytes(big("new"))),
                Set.of(Optional.of(big("old")), Optional.of(big("new"))), Optional.of(big("new")));
    }

    @Test
    void aFirstPutCutShortLeavesNothingOrTheObject() throws IOException {
        crashAtEveryPoint(s -> {
                    s.delete("v/k");
                    s.put("v/k", bytes(big("new")));
                },
                Set.of(Optional.of(big("old")), Optional.empty(), Optional.of(big("new"))), Optional.of(big("new")));
    }

    @Test
    void aPutIfAbsentCutShortLeavesNothingOrTheObject() throws IOException {
        crashAtEveryPoint(s -> {
                    s.delete("v/k");
                    assertTrue(s.putIfAbsent("v/k", bytes(big("new"))));
                },
                Set.of(Optional.of(big("old")), Optional.empty(), Optional.of(big("new"))), Optional.of(big("new")));
    }

    @Test
    void aDeleteCutShortLeavesTheObjectOrNothing() throws IOException {
        crashAtEveryPoint(s -> s.delete("v/k"), Set.of(Optional.of(big("old")), Optional.empty()), Optional.empty());
    }

    @Test
    void tempFilesThatSurviveACrashAreNeverListed() throws IOException {
        store.put("d/obj", bytes("1"));
        Path tmp = ROOT.resolve("d/.tmp~0123abcd");
        try (FsFile f = fs.createNew(tmp)) {
            f.write(bytes("half"), 0);
            f.force();
        }
        fs.syncDir(ROOT.resolve("d"));
        fs.crash();
        assertTrue(fs.exists(tmp));
        assertEquals(List.of("d/obj"), store.list("").stream().map(ObjectInfo::key).toList());
        assertEquals(List.of("d/obj"), store.list("d/").stream().map(ObjectInfo::key).toList());
    }

    @Test
    void aFullDiskFailsThePutAndKeepsTheOldObject() throws IOException {
        store.put("v/k", bytes("old"));
        fs.failWritesAfter(10_000);
        StoreFullException e = assertThrows(StoreFullException.class, () -> store.put("v/k", ByteBuffer.allocate(20_000)));
        assertTrue(e.getMessage().contains("v/k") && e.getMessage().contains(ROOT.toString()), e.getMessage());
        assertThrows(StoreFullException.class, () -> store.putIfAbsent("v/new", ByteBuffer.allocate(20_000)));
        assertEquals("old", getString("v/k"));
        assertEquals(List.of("k"), fs.list(ROOT.resolve("v")), "the temp file was deleted");
        assertFalse(store.head("v/new").isPresent());

        fs.crash();
        assertEquals("old", getString("v/k"));
        store.put("v/k", bytes("fits"));
        assertEquals("fits", getString("v/k"));
    }

    @Test
    void aLinkRefusedForWantOfSpaceIsAFullStoreAndOtherRefusalsMeanCopy() throws IOException {
        Path seg = Path.of("/disk/wal/1.wal");
        fs.createDirectories(seg.getParent());
        try (FsFile f = fs.createNew(seg)) {
            f.write(bytes("segment"), 0);
            f.force();
        }
        fs.failLinks(1, "No space left on device");
        StoreFullException e = assertThrows(StoreFullException.class, () -> store.link("v/c1", seg));
        assertTrue(e.getMessage().contains("v/c1"), e.getMessage());
        assertFalse(store.head("v/c1").isPresent());

        fs.failLinks(1, "Invalid cross-device link");
        assertFalse(store.link("v/c1", seg), "a file system that cannot link it: the caller copies");
        assertFalse(store.link("v/c2", Path.of("/elsewhere/2.wal")), "a file this store does not see");

        assertTrue(store.link("v/c1", seg));
        fs.crash();
        assertEquals("segment", getString("v/c1"));
    }

    @Test
    void moveToTakesAnObjectWithNoOtherNameOutOfTheStoreDurably() throws IOException {
        Path wal = Path.of("/disk/wal");
        fs.createDirectories(wal);
        store.put("v/chunks/1", ByteBuffer.wrap(new byte[8192]));
        store.put("v/chunks/2", ByteBuffer.wrap(new byte[100]));
        assertFalse(store.moveTo("v/chunks/2", wal.resolve("2.spare"), 4096), "smaller than asked for");
        assertFalse(store.moveTo("v/chunks/3", wal.resolve("3.spare"), 0), "no such object");

        Path seg = wal.resolve("4.wal"); // a WAL segment linked as a chunk: the chunk's file has a second name
        try (FsFile f = fs.createNew(seg)) {
            f.write(ByteBuffer.wrap(new byte[8192]), 0);
            f.force();
        }
        assertTrue(store.link("v/chunks/4", seg));
        assertFalse(store.moveTo("v/chunks/4", wal.resolve("4.spare"), 0), "a file with another name is not taken");
        assertTrue(store.head("v/chunks/4").isPresent());
        assertTrue(store.shared("v/chunks/4"), "its file has the segment's name too");
        assertFalse(store.shared("v/chunks/1"));
        assertFalse(store.shared("v/chunks/3"), "no such object");

        assertTrue(store.moveTo("v/chunks/1", wal.resolve("1.spare"), 4096));
        assertFalse(store.head("v/chunks/1").isPresent());
        fs.crash();
        assertFalse(store.head("v/chunks/1").isPresent(), "the move is durable");
        assertEquals(8192, fs.size(wal.resolve("1.spare")));
        assertEquals(List.of("2", "4"), store.list("v/chunks/").stream().map(o -> o.key().substring("v/chunks/".length())).toList());

        fs.delete(seg); // the WAL lets the segment's name go
        assertFalse(store.shared("v/chunks/4"));
        assertTrue(store.moveTo("v/chunks/4", wal.resolve("4.spare"), 0), "now the file has no other name");
    }
}
