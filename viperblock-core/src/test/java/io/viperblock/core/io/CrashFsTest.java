package io.viperblock.core.io;

import io.viperblock.core.io.CrashFs.Mode;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The Fs contract for CrashFs, and what survives its crashes. */
class CrashFsTest extends FsContractTest {
    private CrashFs crashFs;

    @Override
    protected Fs newFs() {
        crashFs = new CrashFs();
        return crashFs;
    }

    @Override
    protected Path newBase(Fs fs) throws IOException {
        Path dir = Path.of("/crash/test");
        fs.createDirectories(dir);
        return dir;
    }

    private void writeForced(Path p, byte[] content) throws IOException {
        try (FsFile f = fs.createNew(p)) {
            f.write(ByteBuffer.wrap(content), 0);
            f.force();
        }
    }

    @Test
    void strictCrashLosesUnforcedBytes() throws IOException {
        Path p = base.resolve("f");
        try (FsFile f = fs.createNew(p)) {
            f.write(utf8("kept"), 0);
            f.force();
            f.write(utf8("LOST and more"), 0);
        }
        fs.syncDir(base);
        crashFs.crash();
        assertEquals("kept", readString(p));
    }

    @Test
    void aFileWhoseDirectoryWasNotSyncedDisappears() throws IOException {
        Path p = base.resolve("f");
        writeForced(p, new byte[] {1, 2, 3});
        crashFs.crash();
        assertFalse(fs.exists(p));
        assertEquals(List.of(), fs.list(base));
    }

    @Test
    void aSyncedEntryWithoutForcedBytesComesBackEmpty() throws IOException {
        Path p = base.resolve("f");
        writeFile(p, "never forced");
        fs.syncDir(base);
        crashFs.crash();
        assertEquals(0, fs.size(p));
    }

    @Test
    void createDirectoriesIsDurableByItself() throws IOException {
        fs.createDirectories(base.resolve("a/b"));
        crashFs.crash();
        assertTrue(fs.isDirectory(base.resolve("a/b")));
    }

    @Test
    void anUnsyncedRenameReverts() throws IOException {
        Path a = base.resolve("a");
        Path b = base.resolve("b");
        writeForced(a, "new".getBytes());
        writeForced(b, "old".getBytes());
        fs.syncDir(base);
        fs.rename(a, b);
        crashFs.crash();
        assertEquals("new", readString(a));
        assertEquals("old", readString(b));

        fs.rename(a, b);
        fs.syncDir(base);
        crashFs.crash();
        assertFalse(fs.exists(a));
        assertEquals("new", readString(b));
    }

    @Test
    void anUnsyncedDeleteIsUndone() throws IOException {
        Path p = base.resolve("f");
        writeForced(p, "here".getBytes());
        fs.syncDir(base);
        assertTrue(fs.delete(p));
        crashFs.crash();
        assertEquals("here", readString(p));

        assertTrue(fs.delete(p));
        fs.syncDir(base);
        crashFs.crash();
        assertFalse(fs.exists(p));
    }

    @Test
    void filesOpenBeforeACrashFail() throws IOException {
        Path p = base.resolve("f");
        writeForced(p, "x".getBytes());
        fs.syncDir(base);
        FsFile f = fs.open(p);
        crashFs.crash();
        IOException e = assertThrows(IOException.class, () -> f.read(ByteBuffer.allocate(1), 0));
        assertTrue(e.getMessage().contains("crashed"), e.getMessage());
        assertThrows(IOException.class, () -> f.write(utf8("y"), 0));
        try (FsFile again = fs.open(p)) {
            assertEquals(1, again.size());
        }
    }

    /** Appends after a force: the durable prefix survives whole; each later page is new bytes or a hole. */
    @Test
    void tornCrashKeepsTheDurablePrefix() throws IOException {
        long seed = Long.getLong("viperblock.seed", System.nanoTime());
        System.out.println("CrashFsTest.tornCrashKeepsTheDurablePrefix seed=" + seed);
        SplittableRandom rnd = new SplittableRandom(seed);
        int partialLengths = 0;
        for (int round = 0; round < 200; round++) {
            Path p = base.resolve("f" + round);
            byte[] durable = new byte[rnd.nextInt(0, 20_000)];
            rnd.nextBytes(durable);
            byte[] appended = new byte[rnd.nextInt(1, 30_000)];
            rnd.nextBytes(appended);
            writeForced(p, durable);
            fs.syncDir(base);
            try (FsFile f = fs.open(p)) {
                f.write(ByteBuffer.wrap(appended), durable.length);
            }
            crashFs.crash(Mode.TORN, rnd);

            String where = "seed=" + seed + " round=" + round;
            byte[] after = readAll(p);
            assertTrue(after.length >= durable.length && after.length <= durable.length + appended.length, where);
            assertArrayEquals(durable, Arrays.copyOf(after, durable.length), where);
            byte[] written = Arrays.copyOf(durable, durable.length + appended.length);
            System.arraycopy(appended, 0, written, durable.length, appended.length);
            for (int page = durable.length / CrashFs.PAGE; (long) page * CrashFs.PAGE < after.length; page++) {
                int from = Math.max(durable.length, page * CrashFs.PAGE);
                int to = Math.min(after.length, (page + 1) * CrashFs.PAGE);
                byte[] got = Arrays.copyOfRange(after, from, to);
                boolean isNew = Arrays.equals(got, Arrays.copyOfRange(written, from, to));
                boolean isHole = Arrays.equals(got, new byte[to - from]);
                assertTrue(isNew || isHole, where + " page=" + page);
            }
            if (after.length > durable.length && after.length < written.length) {
                partialLengths++;
            }
        }
        assertTrue(partialLengths > 0, "some appends survive in part");
    }

    /** Overwrites after a force: every page holds either its old or its new bytes. */
    @Test
    void tornCrashMixesWholePages() throws IOException {
        long seed = Long.getLong("viperblock.seed", System.nanoTime());
        System.out.println("CrashFsTest.tornCrashMixesWholePages seed=" + seed);
        SplittableRandom rnd = new SplittableRandom(seed);
        Path p = base.resolve("f");
        byte[] oldBytes = new byte[10 * CrashFs.PAGE];
        rnd.nextBytes(oldBytes);
        writeForced(p, oldBytes);
        fs.syncDir(base);
        byte[] newBytes = oldBytes.clone();
        for (int round = 0; round < 50; round++) {
            byte[] before = readAll(p);
            newBytes = before.clone();
            int pos = rnd.nextInt(0, newBytes.length);
            byte[] chunk = new byte[rnd.nextInt(1, newBytes.length - pos + 1)];
            rnd.nextBytes(chunk);
            System.arraycopy(chunk, 0, newBytes, pos, chunk.length);
            try (FsFile f = fs.open(p)) {
                f.write(ByteBuffer.wrap(chunk), pos);
            }
            crashFs.crash(Mode.TORN, rnd);
            byte[] after = readAll(p);
            assertEquals(before.length, after.length);
            for (int page = 0; page < 10; page++) {
                byte[] got = Arrays.copyOfRange(after, page * CrashFs.PAGE, (page + 1) * CrashFs.PAGE);
                assertTrue(Arrays.equals(got, Arrays.copyOfRange(before, page * CrashFs.PAGE, (page + 1) * CrashFs.PAGE))
                        || Arrays.equals(got, Arrays.copyOfRange(newBytes, page * CrashFs.PAGE, (page + 1) * CrashFs.PAGE)),
                        "seed=" + seed + " round=" + round + " page=" + page);
            }
        }
    }

    @Test
    void tornCrashKeepsOrDropsATruncationWhole() throws IOException {
        Path p = base.resolve("f");
        byte[] content = new byte[5 * CrashFs.PAGE + 100];
        new SplittableRandom(1).nextBytes(content);
        boolean sawKept = false;
        boolean sawDropped = false;
        SplittableRandom rnd = new SplittableRandom(2);
        for (int round = 0; round < 40; round++) {
            fs.delete(p);
            writeForced(p, content);
            fs.syncDir(base);
            try (FsFile f = fs.open(p)) {
                f.truncate(CrashFs.PAGE + 10);
            }
            crashFs.crash(Mode.TORN, rnd);
            byte[] after = readAll(p);
            if (after.length == content.length) {
                assertArrayEquals(content, after);
                sawDropped = true;
            } else {
                assertArrayEquals(Arrays.copyOf(content, CrashFs.PAGE + 10), after);
                sawKept = true;
            }
        }
        assertTrue(sawKept && sawDropped);
    }

    @Test
    void aFullDiskFailsWritesAfterFillingIt() throws IOException {
        crashFs.setSpaceLimit(10_000);
        Path p = base.resolve("f");
        try (FsFile f = fs.createNew(p)) {
            f.write(ByteBuffer.allocate(8_000), 0);
            ByteBuffer more = ByteBuffer.allocate(4_000);
            IOException e = assertThrows(IOException.class, () -> f.write(more, 8_000));
            assertTrue(NioFs.isOutOfSpace(e), e.getMessage());
            assertTrue(e.getMessage().contains(p.toString()), e.getMessage());
            assertEquals(10_000, f.size(), "the write filled the disk before it failed");
            assertEquals(2_000, more.remaining(), "the buffer shows what was written");
            f.write(utf8("overwrite"), 0);
            assertEquals(10_000, crashFs.usedBytes());
        }
        assertTrue(fs.delete(p));
        assertEquals(0, crashFs.usedBytes());
        writeForced(base.resolve("g"), new byte[10_000]);
        crashFs.failWritesAfter(5);
        try (FsFile f = fs.open(base.resolve("g"))) {
            assertThrows(IOException.class, () -> f.write(ByteBuffer.allocate(6), 10_000));
        }
    }

    @Test
    void countersShowForcesSyncsAndWrites() throws IOException {
        crashFs.resetCounters();
        try (FsFile f = fs.createNew(base.resolve("f"))) {
            f.write(new ByteBuffer[] {utf8("a"), utf8("b")}, 0);
            f.write(utf8("c"), 2);
            f.force();
        }
        fs.syncDir(base);
        assertEquals(2, crashFs.writes());
        assertEquals(1, crashFs.forces());
        assertEquals(1, crashFs.syncDirs());
    }

    @Test
    void aPowerCutStopsEveryOperationUntilTheCrash() throws IOException {
        Path p = base.resolve("f");
        crashFs.powerCutAfter(2);
        FsFile f = fs.createNew(p);
        f.write(utf8("abc"), 0);
        assertThrows(IOException.class, f::force);
        assertThrows(IOException.class, () -> fs.syncDir(base));
        crashFs.crash();
        assertFalse(fs.exists(p));
        writeFile(p, "works again");
    }

    @Test
    void relativePathsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> fs.exists(Path.of("relative")));
    }
}
