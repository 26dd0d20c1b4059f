package io.viperblock.core.store;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What every {@link ObjectStore} must do. A store's test extends this and returns a new, empty
 * store from {@link #newStore()}; it is closed after each test.
 */
public abstract class ObjectStoreContract {
    protected ObjectStore store;

    /** A new store holding no objects. */
    protected abstract ObjectStore newStore() throws Exception;

    @BeforeEach
    void openStore() throws Exception {
        store = newStore();
    }

    @AfterEach
    void closeStore() throws Exception {
        store.close();
    }

    protected static ByteBuffer bytes(String s) {
        return ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8));
    }

    protected static String string(ByteBuffer b) {
        byte[] a = new byte[b.remaining()];
        b.duplicate().get(a);
        return new String(a, StandardCharsets.UTF_8);
    }

    protected String getString(String key) throws IOException {
        return string(store.get(key));
    }

    protected List<String> keys(String prefix, String startAfter) throws IOException {
        return store.list(prefix, startAfter).stream().map(ObjectInfo::key).toList();
    }

    @Test
    void putThenGetAndReplace() throws IOException {
        store.put("a/b/c", bytes("hello"));
        assertEquals("hello", getString("a/b/c"));
        store.put("a/b/c", bytes("replaced, longer"));
        assertEquals("replaced, longer", getString("a/b/c"));
        store.put("a/b/c", bytes("short"));
        assertEquals("short", getString("a/b/c"));
        store.put("empty", ByteBuffer.allocate(0));
        assertEquals(0, store.get("empty").remaining());
    }

    @Test
    void putStoresTheRemainingBytesAndKeepsNoReference() throws IOException {
        byte[] src = "xxhelloyy".getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.wrap(src, 2, 5);
        store.put("k", b);
        src[3] = 'E';
        assertEquals("hello", getString("k"));

        ByteBuffer got = store.get("k");
        assertEquals(0, got.position());
        got.put(0, (byte) 'J');
        assertEquals("hello", getString("k"), "changing a returned buffer changes nothing stored");

        ByteBuffer direct = ByteBuffer.allocateDirect(4).put(new byte[] {1, 2, 3, 4}).flip();
        store.put("direct", direct);
        assertEquals(ByteBuffer.wrap(new byte[] {1, 2, 3, 4}), store.get("direct"));
    }

    @Test
    void rangedGet() throws IOException {
        store.put("k", bytes("0123456789"));
        assertEquals("345", string(store.get("k", 3, 3)));
        assertEquals("0123456789", string(store.get("k", 0, 10)));
        assertEquals("789", string(store.get("k", 7, 100)), "a range past the end is cut short");
        assertEquals("", string(store.get("k", 10, 5)));
        assertEquals("", string(store.get("k", 1_000_000, 5)), "an offset past the end gives nothing");
        assertEquals("", string(store.get("k", 2, 0)));
        assertThrows(IllegalArgumentException.class, () -> store.get("k", -1, 3));
        assertThrows(IllegalArgumentException.class, () -> store.get("k", 0, -1));
        assertThrows(NoSuchObjectException.class, () -> store.get("absent", 0, 3));
    }

    @Test
    void readIntoACallersBuffer() throws IOException {
        store.put("k", bytes("0123456789"));
        for (ByteBuffer dst : new ByteBuffer[] {ByteBuffer.allocate(8), ByteBuffer.allocateDirect(8)}) {
            dst.position(2).limit(6);
            assertEquals(4, store.read("k", 3, dst));
            assertEquals(6, dst.position(), "the buffer's position moves past what was read");
            dst.flip().position(2);
            assertEquals("3456", string(dst.slice()));
            dst.clear();
            assertEquals(3, store.read("k", 7, dst), "the object ends first");
            assertEquals(0, store.read("k", 10, dst.clear()), "an offset at or past the end reads nothing");
            assertEquals(0, store.read("k", 99, dst.clear()));
        }
        assertThrows(NoSuchObjectException.class, () -> store.read("absent", 0, ByteBuffer.allocate(3)));
    }

    @Test
    void head() throws IOException {
        assertEquals(Optional.empty(), store.head("k"));
        store.put("k", bytes("abc"));
        assertEquals(Optional.of(new ObjectInfo("k", 3)), store.head("k"));
        store.put("k", ByteBuffer.allocate(0));
        assertEquals(Optional.of(new ObjectInfo("k", 0)), store.head("k"));
    }

    @Test
    void absentObjects() throws IOException {
        NoSuchObjectException e = assertThrows(NoSuchObjectException.class, () -> store.get("no/such"));
        assertTrue(e.getMessage().contains("no/such"), e.getMessage());
        store.put("dir/obj", bytes("x"));
        assertThrows(NoSuchObjectException.class, () -> store.get("dir"), "a prefix is not an object");
        assertEquals(Optional.empty(), store.head("dir"));
        assertThrows(NoSuchObjectException.class, () -> store.get("dir/obj/below"));
        assertEquals(Optional.empty(), store.head("dir/obj/below"));
    }

    private static final List<String> LIST_KEYS = List.of(
            "a.b", "a/b", "a/c/d", "a/c/e", "a-", "ab", "a0/x", "b",
            "volumes/vol1/x", "volumes/vol2/y/z", "volumes/v/z", "volumes/volume", "volumesX");

    private void putListKeys() throws IOException {
        for (String k : LIST_KEYS) {
            store.put(k, bytes(k));
        }
    }

    private static List<String> expectedKeys(String prefix, String startAfter) {
        return LIST_KEYS.stream()
                .filter(k -> k.startsWith(prefix) && (startAfter == null || k.compareTo(startAfter) > 0))
                .sorted()
                .toList();
    }

    @Test
    void listByPrefixInKeyOrder() throws IOException {
        putListKeys();
        for (String prefix : List.of("", "a", "a/", "a/c", "a/c/", "a.", "volumes/", "volumes/vo", "volumes/vol",
                "volumes/vol1", "volumes/vol2/y/", "volumes", "b", "c", "nothing/here/")) {
            assertEquals(expectedKeys(prefix, null), keys(prefix, null), "prefix " + prefix);
        }
        assertEquals(List.of("a-", "a.b", "a/b", "a/c/d", "a/c/e", "a0/x", "ab"), keys("a", null),
                "key order is String order, not directory order");
        for (ObjectInfo info : store.list("")) {
            assertEquals(info.key().length(), info.size());
        }
    }

    @Test
    void listStartingAfter() throws IOException {
        putListKeys();
        for (String prefix : List.of("", "a", "a/", "volumes/vo")) {
            for (String after : List.of("", "a", "a/", "a/b", "a/c", "a/c/d", "a0", "a0/x", "b", "volumes/vol1/x",
                    "volumes/vol1/y", "volumes/w", "zzz")) {
                assertEquals(expectedKeys(prefix, after), keys(prefix, after), "prefix " + prefix + " after " + after);
            }
        }
    }

    @Test
    void listPageByPage() throws IOException {
        putListKeys();
        List<String> all = new ArrayList<>();
        String last = null;
        while (true) {
            List<ObjectInfo> page = store.list("", last);
            if (page.isEmpty()) {
                break;
            }
            // take two at a time, as a paginating caller would
            for (ObjectInfo info : page.subList(0, Math.min(2, page.size()))) {
                all.add(info.key());
                last = info.key();
            }
        }
        assertEquals(expectedKeys("", null), all);
    }

    @Test
    void listOfAnEmptyStore() throws IOException {
        assertEquals(List.of(), store.list(""));
        assertEquals(List.of(), store.list("a/b/"));
    }

    @Test
    void deleteIsIdempotent() throws IOException {
        store.put("x/y/z", bytes("1"));
        store.put("x/w", bytes("2"));
        store.delete("x/y/z");
        store.delete("x/y/z");
        store.delete("never/was");
        assertThrows(NoSuchObjectException.class, () -> store.get("x/y/z"));
        assertEquals(Optional.empty(), store.head("x/y/z"));
        assertEquals(List.of("x/w"), keys("", null));
        store.delete("x");
        assertEquals("2", getString("x/w"), "deleting a prefix deletes nothing");
        store.put("x/y/z", bytes("3"));
        assertEquals("3", getString("x/y/z"));
    }

    @Test
    void deleteAllDeletesEachAndOnlyThose() throws IOException {
        List<String> doomed = new java.util.ArrayList<>();
        for (int i = 0; i < 40; i++) {
            String key = (i % 2 == 0 ? "c/" : "d/e/") + String.format("%016x", i);
            store.put(key, bytes("v" + i));
            if (i % 3 != 0) {
                doomed.add(key);
            }
        }
        doomed.add("never/was");
        doomed.add("c"); // a prefix: no object
        store.deleteAll(doomed);
        store.deleteAll(List.of());
        for (int i = 0; i < 40; i++) {
            String key = (i % 2 == 0 ? "c/" : "d/e/") + String.format("%016x", i);
            if (i % 3 == 0) {
                assertEquals("v" + i, getString(key), key + " was not named and stays");
            } else {
                assertThrows(NoSuchObjectException.class, () -> store.get(key), key);
            }
        }
        assertEquals(14, keys("", null).size());
        store.put(doomed.get(0), bytes("again"));
        assertEquals("again", getString(doomed.get(0)), "a deleted name can be stored again");
    }

    @Test
    void putIfAbsent() throws IOException {
        assertTrue(store.putIfAbsent("k/1", bytes("first")));
        assertFalse(store.putIfAbsent("k/1", bytes("second")));
        assertEquals("first", getString("k/1"));
        store.delete("k/1");
        assertTrue(store.putIfAbsent("k/1", bytes("third")));
        assertEquals("third", getString("k/1"));
        assertEquals(List.of("k/1"), keys("", null));
    }

    @Test
    void putIfAbsentRaceHasExactlyOneWinner() throws Exception {
        int threads = 8;
        for (int round = 0; round < 10; round++) {
            String key = "race/" + round;
            CountDownLatch start = new CountDownLatch(1);
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            try {
                List<Future<Boolean>> results = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    String value = "thread-" + t;
                    results.add(pool.submit(() -> {
                        start.await();
                        return store.putIfAbsent(key, bytes(value));
                    }));
                }
                start.countDown();
                int winner = -1;
                for (int t = 0; t < threads; t++) {
                    if (results.get(t).get()) {
                        assertEquals(-1, winner, "two winners in round " + round);
                        winner = t;
                    }
                }
                assertTrue(winner >= 0, "no winner in round " + round);
                assertEquals("thread-" + winner, getString(key));
            } finally {
                pool.shutdownNow();
            }
        }
        assertEquals(10, store.list("race/").size());
    }

    /** Writers and deleters in one directory: cleaning up empty directories must not break puts. */
    @Test
    void concurrentPutsAndDeletesInOneDirectory() throws Exception {
        int threads = 8;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                String key = "shared/dir/k" + t;
                done.add(pool.submit(() -> {
                    for (int i = 0; i < 50; i++) {
                        store.put(key, bytes(key + i));
                        assertEquals(key + i, getString(key));
                        store.delete(key);
                    }
                    store.put(key, bytes("last"));
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
        assertEquals(threads, store.list("shared/dir/").size());
    }

    @Test
    void invalidKeysAreRejected() {
        List<String> invalid = List.of("", "/a", "a/", "a//b", "../x", "a/../b", "a/./b", ".", "..", "a b",
                "a\u0000b", "a\\b", "é", "a".repeat(ObjectKeys.MAX_KEY_LENGTH + 1));
        for (String key : invalid) {
            String what = "key \"" + key.substring(0, Math.min(key.length(), 20)) + "\"";
            assertThrows(IllegalArgumentException.class, () -> store.put(key, bytes("x")), what);
            assertThrows(IllegalArgumentException.class, () -> store.putIfAbsent(key, bytes("x")), what);
            assertThrows(IllegalArgumentException.class, () -> store.get(key), what);
            assertThrows(IllegalArgumentException.class, () -> store.get(key, 0, 1), what);
            assertThrows(IllegalArgumentException.class, () -> store.head(key), what);
            assertThrows(IllegalArgumentException.class, () -> store.delete(key), what);
        }
        for (String prefix : List.of("/", "/a", "a//", "../", "a/../", "a b")) {
            assertThrows(IllegalArgumentException.class, () -> store.list(prefix), "prefix " + prefix);
        }
    }

    @Test
    void theLongestKeyWorks() throws IOException {
        StringBuilder b = new StringBuilder();
        while (b.length() < ObjectKeys.MAX_KEY_LENGTH) {
            b.append(b.isEmpty() ? "" : "/").append("s".repeat(99));
        }
        String key = b.substring(0, ObjectKeys.MAX_KEY_LENGTH);
        store.put(key, bytes("long"));
        assertEquals("long", getString(key));
        assertEquals(List.of(key), keys("", null));
    }

    @Test
    void describeSaysWhereTheStoreIs() {
        assertFalse(store.describe().isBlank());
    }

    /** Random puts, deletes and reads against a sorted map. */
    @Test
    void randomOperationsMatchAModel() throws IOException {
        long seed = Long.getLong("viperblock.seed", System.nanoTime());
        System.out.println(getClass().getSimpleName() + ".randomOperationsMatchAModel seed=" + seed);
        SplittableRandom rnd = new SplittableRandom(seed);
        TreeMap<String, String> model = new TreeMap<>();
        // leaf keys only ("p/q" never with "p"), which any store can hold
        String[] keys = {"v/1/a", "v/1/b", "v/2/a", "v/10/a", "v.x", "w", "w-1/z", "v/1.b"};
        for (int op = 0; op < 300; op++) {
            String key = keys[rnd.nextInt(keys.length)];
            String where = "seed=" + seed + " op=" + op + " key=" + key;
            switch (rnd.nextInt(6)) {
                case 0, 1 -> {
                    String value = "v" + rnd.nextInt(1000);
                    store.put(key, bytes(value));
                    model.put(key, value);
                }
                case 2 -> {
                    String value = "i" + rnd.nextInt(1000);
                    assertEquals(!model.containsKey(key), store.putIfAbsent(key, bytes(value)), where);
                    model.putIfAbsent(key, value);
                }
                case 3 -> {
                    store.delete(key);
                    model.remove(key);
                }
                case 4 -> {
                    if (model.containsKey(key)) {
                        assertEquals(model.get(key), getString(key), where);
                    } else {
                        assertThrows(NoSuchObjectException.class, () -> store.get(key), where);
                    }
                }
                default -> {
                    String prefix = List.of("", "v", "v/", "v/1", "v/1/", "w").get(rnd.nextInt(6));
                    String after = rnd.nextBoolean() ? null : keys[rnd.nextInt(keys.length)];
                    List<String> expected = new ArrayList<>();
                    for (Map.Entry<String, String> e : model.entrySet()) {
                        if (e.getKey().startsWith(prefix) && (after == null || e.getKey().compareTo(after) > 0)) {
                            expected.add(e.getKey());
                        }
                    }
                    assertEquals(expected, keys(prefix, after), where + " prefix=" + prefix + " after=" + after);
                }
            }
        }
        for (Map.Entry<String, String> e : model.entrySet()) {
            assertEquals(e.getValue(), getString(e.getKey()));
        }
    }
}
