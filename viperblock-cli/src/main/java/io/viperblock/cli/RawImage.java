package io.viperblock.cli;

import io.viperblock.core.format.Formats;
import io.viperblock.core.volume.StatusExtent;
import io.viperblock.core.volume.Volume;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

/**
 * Copies between a raw image file and a volume, sparsely: all-zero 4 KiB blocks are neither
 * written to the volume nor to the file, and runs of data go as one large write. Stateless.
 */
final class RawImage {
    private static final int BLOCK = Formats.BLOCK_SIZE;
    private static final int BUFFER = 4 << 20;
    /** blockStatus is asked a window at a time, so its answer stays small on a huge volume. */
    private static final long STATUS_WINDOW = 1L << 30;
    private static final byte[] ZEROS = new byte[BLOCK];

    private RawImage() {}

    /** What a copy did. */
    record Copied(long bytes, long holes) {}

    /** Bytes of [0, length) of the volume that are holes, asked a window at a time. */
    static long holes(Volume v, long length) throws IOException {
        long holes = 0;
        for (long w = 0; w < length; w += STATUS_WINDOW) {
            for (StatusExtent e : v.blockStatus(w, Math.min(STATUS_WINDOW, length - w))) {
                holes += e.allocated() ? 0 : e.length();
            }
        }
        return holes;
    }

    /**
     * Writes the image into the volume from offset 0. {@code volumeIsEmpty}: zero blocks are
     * skipped, since they read as zeros already; otherwise they become zeroing requests (metadata
     * only), so old contents do not show through.
     */
    static Copied importInto(Path image, Volume v, boolean volumeIsEmpty, Progress progress) throws IOException {
        long holes = 0;
        try (FileChannel in = FileChannel.open(image, StandardOpenOption.READ)) {
            long size = in.size();
            progress.start(size);
            ByteBuffer buf = ByteBuffer.allocate(BUFFER);
            byte[] a = buf.array();
            for (long off = 0; off < size; ) {
                buf.clear().limit((int) Math.min(BUFFER, size - off));
                while (buf.hasRemaining()) {
                    if (in.read(buf, off + buf.position()) < 0) {
                        throw new IOException(image + " ended at " + (off + buf.position()) + " bytes while it was being read (is it being written?)");
                    }
                }
                int n = buf.position();
                int runStart = 0;
                boolean runIsData = !isZero(a, 0, Math.min(BLOCK, n));
                for (int p = 0; ; p = Math.min(p + BLOCK, n)) {
                    boolean atEnd = p == n;
                    boolean data = !atEnd && !isZero(a, p, Math.min(p + BLOCK, n));
                    if (atEnd || data != runIsData) {
                        if (runIsData) {
                            v.write(off + runStart, ByteBuffer.wrap(a, runStart, p - runStart), false);
                        } else {
                            holes += p - runStart;
                            if (!volumeIsEmpty) {
                                v.writeZeroes(off + runStart, p - runStart, false);
                            }
                        }
                        runStart = p;
                        runIsData = data;
                    }
                    if (atEnd) {
                        break;
                    }
                }
                off += n;
                progress.advance(n);
            }
            v.flush();
            return new Copied(size, holes);
        }
    }

    /**
     * Writes the whole volume to a sparse raw file: holes the volume reports and all-zero blocks
     * are not written, and the file is cut to the volume's size. The file is synced at the end.
     */
    static Copied exportTo(Volume v, Path file, Progress progress) throws IOException {
        long size = v.size();
        long holes = 0;
        progress.start(size);
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(0); // start empty, so the parts not written are holes
            FileChannel out = raf.getChannel();
            ByteBuffer buf = ByteBuffer.allocate(BUFFER);
            byte[] a = buf.array();
            for (long w = 0; w < size; w += STATUS_WINDOW) {
                for (StatusExtent e : v.blockStatus(w, Math.min(STATUS_WINDOW, size - w))) {
                    if (!e.allocated()) {
                        holes += e.length();
                        progress.advance(e.length());
                        continue;
                    }
                    for (long off = e.offset(); off < e.offset() + e.length(); ) {
                        int n = (int) Math.min(BUFFER, e.offset() + e.length() - off);
                        buf.clear().limit(n);
                        v.read(off, buf);
                        holes += writeNonZero(out, a, n, off);
                        off += n;
                        progress.advance(n);
                    }
                }
            }
            raf.setLength(size);
            out.force(true);
        }
        return new Copied(size, holes);
    }

    /** Writes the runs of non-zero blocks of {@code a[0, n)} at {@code fileOffset}; returns the zero bytes skipped. */
    private static long writeNonZero(FileChannel out, byte[] a, int n, long fileOffset) throws IOException {
        long skipped = 0;
        int p = 0;
        while (p < n) {
            int end = Math.min(p + BLOCK, n);
            if (isZero(a, p, end)) {
                skipped += end - p;
                p = end;
                continue;
            }
            int runEnd = end;
            while (runEnd < n && !isZero(a, runEnd, Math.min(runEnd + BLOCK, n))) {
                runEnd = Math.min(runEnd + BLOCK, n);
            }
            ByteBuffer run = ByteBuffer.wrap(a, p, runEnd - p);
            while (run.hasRemaining()) {
                out.write(run, fileOffset + run.position());
            }
            p = runEnd;
        }
        return skipped;
    }

    private static boolean isZero(byte[] a, int from, int to) {
        return Arrays.mismatch(a, from, to, ZEROS, 0, to - from) < 0;
    }
}
