package io.viperblock.sfs;

import io.viperblock.core.volume.Volume;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** Moves one file's bytes between a local file and its blocks in a volume, hashing them on the way. Stateless. */
final class SfsFiles {
    private static final int PIECE = 1 << 20;

    private SfsFiles() {}

    /**
     * Writes {@code src} (expected to be {@code length} bytes) at {@code offset}; the last block
     * is padded with zeros. Returns its entry. Fails if the file's length changed since it was
     * planned: the table does not point at these blocks yet, so nothing stored is affected.
     */
    static SfsEntry store(Volume v, Path src, String path, long offset, long length) throws IOException {
        MessageDigest sha = sha256();
        byte[] buf = new byte[PIECE];
        long pos = 0;
        try (InputStream in = Files.newInputStream(src)) {
            for (int n; (n = in.readNBytes(buf, 0, buf.length)) > 0; pos += n) {
                if (pos + n > length) {
                    throw changed(src, length);
                }
                sha.update(buf, 0, n);
                int padded = (n + SfsTable.BLOCK - 1) / SfsTable.BLOCK * SfsTable.BLOCK;
                java.util.Arrays.fill(buf, n, padded, (byte) 0);
                v.write(offset + pos, ByteBuffer.wrap(buf, 0, padded), false);
            }
        }
        if (pos != length) {
            throw changed(src, length);
        }
        return new SfsEntry(path, length == 0 ? 0 : offset, length, HexFormat.of().formatHex(sha.digest()));
    }

    private static SfsException changed(Path src, long length) {
        return new SfsException(src + " changed while it was being stored (it was " + length
                + " bytes when the upload was planned); the table was not updated, run sfs again");
    }

    /** Copies the file's bytes to {@code out} (null: only hashes them) and returns their SHA-256 in hex. */
    static String copyOut(Volume v, SfsEntry e, OutputStream out) throws IOException {
        MessageDigest sha = sha256();
        ByteBuffer buf = ByteBuffer.allocate(PIECE);
        for (long pos = 0; pos < e.length(); ) {
            int n = (int) Math.min(PIECE, e.length() - pos);
            buf.clear().limit(n);
            v.read(e.offset() + pos, buf);
            sha.update(buf.array(), 0, n);
            if (out != null) {
                out.write(buf.array(), 0, n);
            }
            pos += n;
        }
        return HexFormat.of().formatHex(sha.digest());
    }

    /** Reads the file back from the volume and checks its SHA-256 against the table's. */
    static void verify(Volume v, SfsEntry e) throws IOException {
        String got = copyOut(v, e, null);
        if (!got.equals(e.sha256())) {
            throw mismatch(v, e, got);
        }
    }

    static SfsException mismatch(Volume v, SfsEntry e, String got) {
        return new SfsException("\"" + e.path() + "\" in volume \"" + v.name() + "\" does not match its SHA-256 (table "
                + e.sha256() + ", read " + got + ")");
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
    }
}
