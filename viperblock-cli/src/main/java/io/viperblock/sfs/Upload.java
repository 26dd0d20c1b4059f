package io.viperblock.sfs;

import io.viperblock.core.volume.Volume;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Stores a directory's files in a volume: plan every allocation from the sizes (refusing before
 * anything is written if the volume is too small), write the data, flush, drain it to the store,
 * read every new file back and check its SHA-256, and only then write the next table generation
 * and flush again. Until that last write the previous table, and every file it names, is intact.
 * Not thread-safe; one per upload.
 */
final class Upload {
    /** A local file to store: where it is, its path in the table, its size when planned. */
    record Source(Path file, String path, long length) {}

    /** What an upload did, for the summary. */
    record Result(SfsTable table, int files, long bytes, long storeNanos, long verifyNanos) {}

    private Upload() {}

    /** Every regular file under {@code dir} (symbolic links are not followed), sorted by path. */
    static List<Source> scan(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException("-dir " + dir + " is not a directory: give the directory to upload");
        }
        List<Source> out = new ArrayList<>();
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                if (a.isRegularFile()) {
                    String rel = dir.relativize(p).toString().replace(p.getFileSystem().getSeparator(), "/");
                    String bad = SfsEntry.pathProblem(rel);
                    if (bad != null) {
                        throw new SfsException("cannot store " + p + ": its path " + bad);
                    }
                    out.add(new Source(p, rel, a.size()));
                }
            }
        }
        out.sort(Comparator.comparing(Source::path));
        return out;
    }

    /** Plans, writes, verifies and commits; see the class comment for the order. */
    static Result run(Volume v, List<Source> files) throws IOException {
        SfsTable current = SfsTable.load(v);
        long[] offsets = plan(v, current, files);
        long started = System.nanoTime();
        List<SfsEntry> written = new ArrayList<>();
        long bytes = 0;
        for (int i = 0; i < files.size(); i++) {
            Source s = files.get(i);
            written.add(SfsFiles.store(v, s.file(), s.path(), offsets[i], s.length()));
            bytes += s.length();
        }
        v.flush();
        v.drain(); // the data goes to the store now, and the read-back below comes from there
        v.dropCache();
        long stored = System.nanoTime();
        for (SfsEntry e : written) {
            SfsFiles.verify(v, e);
        }
        long verified = System.nanoTime();
        SfsTable next = current.next(merge(current, written));
        next.store(v);
        SfsTable back = SfsTable.load(v);
        if (!back.equals(next)) {
            throw new SfsException("the table read back from volume \"" + v.name() + "\" differs from the one written (generation "
                    + next.generation() + ")");
        }
        return new Result(next, written.size(), bytes, stored - started, verified - stored);
    }

    /** The offset of each file; fails, naming what does not fit, before anything is written. */
    static long[] plan(Volume v, SfsTable current, List<Source> files) throws SfsException {
        Allocator alloc = new Allocator(current, v.size());
        long free = alloc.freeBytes();
        long largest = alloc.largestFreeRun();
        long need = 0;
        long[] offsets = new long[files.size()];
        String misfit = null;
        for (int i = 0; i < files.size(); i++) {
            Source s = files.get(i);
            long blocks = (s.length() + SfsTable.BLOCK - 1) / SfsTable.BLOCK * SfsTable.BLOCK;
            need += blocks;
            offsets[i] = blocks == 0 ? 0 : alloc.allocate(blocks);
            if (offsets[i] < 0 && misfit == null) {
                misfit = "\"" + s.path() + "\" (" + s.length() + " bytes)";
            }
        }
        if (misfit != null) {
            throw new SfsException("volume \"" + v.name() + "\" (" + v.size() + " bytes) is too small for these " + files.size()
                    + " file(s): they need " + need + " bytes in 4 KiB blocks, " + free + " bytes are free (largest free run " + largest
                    + "), and " + misfit + " does not fit; nothing was written. Use a new, larger volume (-createvol -size)");
        }
        List<SfsEntry> placeholder = new ArrayList<>();
        for (Source s : files) {
            placeholder.add(new SfsEntry(s.path(), 0, 0, "0".repeat(64)));
        }
        List<SfsEntry> merged = merge(current, placeholder);
        long tableBytes = SfsTable.encodedSize(merged);
        if (tableBytes > current.slotBytes()) {
            throw new SfsException("volume \"" + v.name() + "\" cannot list " + merged.size() + " files: their table takes "
                    + tableBytes + " bytes and its slot holds " + current.slotBytes() + " (1/64 of the volume, at most 1 MiB);"
                    + " nothing was written. Use a larger volume or fewer files");
        }
        return offsets;
    }

    /** The current entries, with those of the same path replaced by the new ones. */
    private static List<SfsEntry> merge(SfsTable current, List<SfsEntry> added) {
        Set<String> paths = new HashSet<>();
        for (SfsEntry e : added) {
            paths.add(e.path());
        }
        List<SfsEntry> out = new ArrayList<>(added);
        for (SfsEntry e : current.entries()) {
            if (!paths.contains(e.path())) {
                out.add(e);
            }
        }
        return out;
    }
}
