package io.viperblock.sfs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.s3.S3ProxyFixture;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code bin/sfs} end to end, in child processes, on the file, S3 (s3proxy) and memory stores. */
class SfsTest {
    @TempDir
    Path tmp;

    static SplittableRandom random(String test) {
        long seed = Long.getLong("viperblock.seed", System.nanoTime());
        System.out.println(test + ": seed=" + seed + " (rerun with -Dviperblock.seed=" + seed + ")");
        return new SplittableRandom(seed);
    }

    static byte[] bytes(SplittableRandom r, int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        return b;
    }

    /** Nested directories, an empty file, sizes off and on block boundaries, one of about 3 MiB. */
    static Path tree(Path root, SplittableRandom r) throws IOException {
        Map<String, Integer> files = Map.of(
                "empty", 0,
                "one-byte", 1,
                "a/block", 4096,
                "a/odd.bin", 4096 * 3 + 1 + r.nextInt(4000),
                "a/b/c/deep.txt", 1 + r.nextInt(100),
                "a/b/big.img", 3 * (1 << 20) + r.nextInt(4096),
                "z/with space.dat", 5000 + r.nextInt(20000));
        for (var e : files.entrySet()) {
            Path p = root.resolve(e.getKey());
            Files.createDirectories(p.getParent());
            Files.write(p, bytes(r, e.getValue()));
        }
        Files.createDirectories(root.resolve("a/empty-dir"));
        return root;
    }

    static String sha256(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    /** path -> "size sha256" of every regular file under dir. */
    static Map<String, String> expected(Path dir) throws IOException {
        Map<String, String> m = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.filter(Files::isRegularFile).toList()) {
                byte[] b = Files.readAllBytes(p);
                m.put(dir.relativize(p).toString(), b.length + " " + sha256(b));
            }
        }
        return m;
    }

    /** What {@code sfs ls} printed, as path -> "size sha256". */
    static Map<String, String> listing(String out) {
        Map<String, String> m = new TreeMap<>();
        for (String line : out.strip().split("\n")) {
            if (line.isBlank()) {
                continue;
            }
            String[] f = line.strip().split(" {2}", 3);
            m.put(f[2], f[0] + " " + f[1]);
        }
        return m;
    }

    /** Stores the tree, then lists and extracts it from fresh processes; {@code where} names the volume's store. */
    private void roundTrip(Launcher sfs, Path dir, String... where) throws Exception {
        Map<String, String> want = expected(dir);
        Path vbstate = tmp.resolve("vb.json");
        Path sfsstate = tmp.resolve("sfs.json");
        List<String> store = new java.util.ArrayList<>(List.of("-dir", dir.toString(), "-vol", "docs", "-createvol", "-size", "16777216",
                "-vbstate", vbstate.toString(), "-sfsstate", sfsstate.toString()));
        store.addAll(List.of(where));
        Launcher.Result up = sfs.run(store.toArray(String[]::new)).ok();
        System.out.print(up.out()); // the summary: files, bytes, time, MB/s
        assertTrue(up.out().contains("stored " + want.size() + " files"), up.describe());
        assertTrue(up.out().contains("verified " + want.size() + " files by SHA-256"), up.describe());
        String state = Files.readString(sfsstate);
        for (var e : want.entrySet()) {
            assertTrue(state.contains("\"path\": \"" + e.getKey() + "\"") && state.contains(e.getValue().split(" ")[1]), state);
        }
        assertTrue(Files.readString(vbstate).contains("\"volume\": \"docs\""));

        // the volume alone is enough: no -sfsstate file, and -vol with the store flags instead of -vbstate
        Files.delete(sfsstate);
        List<String> ls = new java.util.ArrayList<>(List.of("ls", "-vol", "docs"));
        ls.addAll(List.of(where));
        assertEquals(want, listing(sfs.run(ls.toArray(String[]::new)).ok().out()));

        Path outDir = Files.createDirectories(tmp.resolve("out"));
        for (String name : List.of("a/b/big.img", "empty", "a/odd.bin")) {
            Path out = outDir.resolve(name.replace('/', '_'));
            Launcher.Result get = sfs.run("get", name, out.toString(), "--vbstate", vbstate.toString()).ok();
            assertTrue(get.out().contains("verified"), get.describe());
            assertArrayEquals(Files.readAllBytes(dir.resolve(name)), Files.readAllBytes(out), name);
        }
        // single-dash options before the command, and a directory as OUT
        sfs.run("-vbstate", vbstate.toString(), "get", "a/b/c/deep.txt", outDir.toString()).ok();
        assertArrayEquals(Files.readAllBytes(dir.resolve("a/b/c/deep.txt")), Files.readAllBytes(outDir.resolve("deep.txt")));
    }

    @Test
    void fileStoreTreeIsStoredListedAndExtracted() throws Exception {
        Path dir = tree(Files.createDirectories(tmp.resolve("in")), random("fileStoreTreeIsStoredListedAndExtracted"));
        roundTrip(new Launcher(tmp), dir, "-btype", "file", "-voldata", tmp.resolve("vd").toString());
        assertTrue(Files.isDirectory(tmp.resolve("vd/store/volumes/docs")), "the file store is under -voldata");
    }

    @Test
    void s3StoreTreeIsStoredListedAndExtracted() throws Exception {
        Path dir = tree(Files.createDirectories(tmp.resolve("in")), random("s3StoreTreeIsStoredListedAndExtracted"));
        try (S3ProxyFixture s3 = S3ProxyFixture.start()) {
            String bucket = s3.newBucket();
            Launcher sfs = new Launcher(tmp).env("AWS_ENDPOINT_URL", s3.endpoint().toString()).env("AWS_REGION", "us-east-1")
                    .env("AWS_ACCESS_KEY_ID", S3ProxyFixture.IDENTITY).env("AWS_SECRET_ACCESS_KEY", S3ProxyFixture.CREDENTIAL)
                    .env("AWS_BUCKET", bucket);
            roundTrip(sfs, dir, "-btype", "s3", "-voldata", tmp.resolve("vd").toString());
            assertFalse(s3.blobStore().list(bucket).isEmpty(), "chunks are in the bucket");
            assertFalse(Files.exists(tmp.resolve("vd/store")), "no local store for -btype s3");
        }
    }

    @Test
    void memoryStoreStoresAndVerifiesInOneRun() throws Exception {
        Path dir = tree(Files.createDirectories(tmp.resolve("in")), random("memoryStoreStoresAndVerifiesInOneRun"));
        Launcher.Result r = new Launcher(tmp).run("-btype", "memory", "-vol", "m1", "-size", "8M", "-dir", dir.toString()).ok();
        assertTrue(r.out().contains("stored 7 files") && r.out().contains("verified 7 files by SHA-256"), r.describe());
        assertFalse(Files.exists(tmp.resolve(Target.DEFAULT_DATA)), "a memory run leaves no data directory behind");
    }

    @Test
    void tooSmallVolumeIsRefusedAndStoredFilesSurvive() throws Exception {
        SplittableRandom r = random("tooSmallVolumeIsRefusedAndStoredFilesSurvive");
        Launcher sfs = new Launcher(tmp);
        Path first = Files.createDirectories(tmp.resolve("first"));
        Files.write(first.resolve("keep.bin"), bytes(r, 100_000));
        Files.write(first.resolve("replace.txt"), bytes(r, 3000));
        String vb = tmp.resolve("vb.json").toString();
        // the original's default size: 512 KiB
        sfs.run("-vol", "small", "-createvol", "-dir", first.toString(), "-vbstate", vb, "-voldata", tmp.resolve("vd").toString()).ok();
        Map<String, String> before = expected(first);
        assertEquals(before, listing(sfs.run("ls", "-vbstate", vb).ok().out()));

        Path big = Files.createDirectories(tmp.resolve("big"));
        Files.write(big.resolve("huge.bin"), bytes(r, 600_000));
        Files.write(big.resolve("replace.txt"), bytes(r, 10));
        Launcher.Result refused = sfs.run("-vbstate", vb, "-dir", big.toString()).exit(1);
        assertEquals(1, refused.err().strip().lines().count(), refused.describe());
        assertTrue(refused.err().contains("is too small") && refused.err().contains("nothing was written"), refused.describe());
        assertEquals(before, listing(sfs.run("ls", "-vbstate", vb).ok().out()), "the table is unchanged");

        // a later upload replaces a file copy-on-write and appends a new one; the rest stay
        Path second = Files.createDirectories(tmp.resolve("second"));
        Files.write(second.resolve("replace.txt"), bytes(r, 7000));
        Files.write(second.resolve("new.dat"), bytes(r, 1234));
        sfs.run("-vbstate", vb, "-dir", second.toString()).ok();
        Map<String, String> after = new TreeMap<>(before);
        after.putAll(expected(second));
        assertEquals(after, listing(sfs.run("ls", "-vbstate", vb).ok().out()));
        Path out = tmp.resolve("keep.out");
        sfs.run("get", "keep.bin", out.toString(), "-vbstate", vb).ok();
        assertArrayEquals(Files.readAllBytes(first.resolve("keep.bin")), Files.readAllBytes(out));
    }

    @Test
    void badFlagsAreUsageErrors() throws Exception {
        Launcher sfs = new Launcher(tmp);
        Path dir = Files.createDirectories(tmp.resolve("in"));
        Map<List<String>, String> cases = Map.of(
                List.of("-vol", "v", "-dir", dir.toString(), "-bogus"), "Unknown option: '-bogus'",
                List.of("-vol", "v", "-dir", dir.toString(), "-btype", "tape"), "unknown -btype \"tape\"",
                List.of("-vol", "v"), "give -dir DIR",
                List.of("-vol", "v", "-dir", dir.toString(), "-createvol", "-size", "1000"), "multiple of 4096",
                List.of("-vol", "v", "-dir", tmp.resolve("missing").toString()), "is not a directory",
                List.of("get", "-vol", "v", "only-one-arg"), "Missing required parameter: 'OUT'");
        for (var c : cases.entrySet()) {
            Launcher.Result r = sfs.run(c.getKey().toArray(String[]::new)).exit(2);
            assertEquals(1, r.err().strip().lines().count(), r.describe());
            assertTrue(r.err().startsWith("sfs: ") && r.err().contains(c.getValue()), r.describe());
            assertFalse(r.err().contains("\tat "), "no stack trace without --debug");
        }
    }
}
