package io.viperblock.core.format;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32C;

/**
 * Constants shared by the on-disk and in-store formats (block size, magics, versions), the
 * names of files and objects, and small helpers the codecs share. See docs/FORMATS.md.
 *
 * <p>Stateless, hence thread-safe.
 *
 * <h2>Names</h2>
 * Sequence numbers (and epochs) appear in names as exactly 16 lowercase hex digits:
 * <pre>
 * object store                                     local data directory
 *   volumes/&lt;vol&gt;/volume.json                       &lt;data&gt;/node.id
 *   volumes/&lt;vol&gt;/lease/&lt;epoch&gt;                     &lt;data&gt;/volumes/&lt;vol&gt;/lock
 *   volumes/&lt;vol&gt;/chunks/&lt;chunkSeq&gt;                &lt;data&gt;/volumes/&lt;vol&gt;/wal/&lt;firstSeq&gt;.wal
 *   volumes/&lt;vol&gt;/map/&lt;deltaSeq&gt;.delta
 *   volumes/&lt;vol&gt;/map/&lt;ckptSeq&gt;.ckpt
 * </pre>
 * where {@code <vol>} is the volume name (see {@code ObjectKeys.checkName}).
 *
 * <p>All integers in every binary format are big-endian; every checksum is CRC32C
 * ({@link CRC32C}).
 */
public final class Formats {

    /** Size of a volume block, of a WAL WRITE payload unit and of a chunk data block. */
    public static final int BLOCK_SIZE = 4096;
    /** log2 of {@link #BLOCK_SIZE}. */
    public static final int BLOCK_SHIFT = 12;

    /** "VBWALSEG": first 8 bytes of a WAL segment file. */
    public static final long WAL_MAGIC = magic("VBWALSEG");
    public static final int WAL_VERSION = 1;
    /** "VBCHUNK1": first 8 bytes of a chunk's 48-byte trailer. */
    public static final long CHUNK_MAGIC = magic("VBCHUNK1");
    public static final int CHUNK_VERSION = 1;
    /** "VBDELTA1": first 8 bytes of a map delta object. */
    public static final long DELTA_MAGIC = magic("VBDELTA1");
    public static final int DELTA_VERSION = 1;
    /** "VBCKPT01": first 8 bytes of a map checkpoint object. */
    public static final long CKPT_MAGIC = magic("VBCKPT01");
    public static final int CKPT_VERSION = 1;
    /** The {@code formatVersion} written to volume.json. */
    public static final int VOLUME_FORMAT_VERSION = 1;

    /** Name of the WAL directory inside a local volume directory. */
    public static final String WAL_DIR = "wal";
    public static final String WAL_SUFFIX = ".wal";
    /**
     * The WAL's sync mark, in the WAL directory: one page whose first 64 bytes are a copy of the
     * active segment's header ({@link WalHeader}) with the length its last fdatasync covered.
     */
    public static final String WAL_SYNC_MARK = "synced.mark";
    public static final String DELTA_SUFFIX = ".delta";
    public static final String CKPT_SUFFIX = ".ckpt";
    /** Local file holding this node's id, at the top of the data directory. */
    public static final String NODE_ID_FILE = "node.id";
    /** Local lock file inside a local volume directory. */
    public static final String LOCK_FILE = "lock";
    public static final String VOLUME_JSON = "volume.json";

    private Formats() {}

    // ---------------------------------------------------------------- names

    /** {@code seq} as exactly 16 lowercase hex digits (unsigned), e.g. 2591 -> "0000000000000a1f". */
    public static String seqName(long seq) {
        String h = Long.toHexString(seq);
        return "0000000000000000".substring(h.length()) + h;
    }

    /**
     * The inverse of {@link #seqName(long)}: accepts exactly 16 characters of {@code [0-9a-f]}
     * (so that every sequence number has one name), else throws IllegalArgumentException.
     */
    public static long parseSeqName(String name) {
        if (name == null || name.length() != 16) {
            throw new IllegalArgumentException("not a sequence name (16 lowercase hex digits): " + name);
        }
        for (int i = 0; i < 16; i++) {
            char c = name.charAt(i);
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
                throw new IllegalArgumentException("not a sequence name (16 lowercase hex digits): " + name);
            }
        }
        return Long.parseUnsignedLong(name, 16);
    }

    /**
     * Parses {@code <16 hex digits><suffix>} (e.g. "0000000000000a1f.wal"); returns -1 if
     * {@code name} is not of that form, so that directory listings can skip strangers.
     */
    public static long parseSeqName(String name, String suffix) {
        if (name == null || name.length() != 16 + suffix.length() || !name.endsWith(suffix)) {
            return -1;
        }
        try {
            return parseSeqName(name.substring(0, 16));
        } catch (IllegalArgumentException e) {
            return -1;
        }
    }

    /**
     * The sequence number a chunk, delta, checkpoint, lease or WAL segment is named by: the last
     * path segment of {@code key} up to its first dot.
     */
    public static long seqOfKey(String key) {
        String last = key.substring(key.lastIndexOf('/') + 1);
        int dot = last.indexOf('.');
        return parseSeqName(dot < 0 ? last : last.substring(0, dot));
    }

    /** {@code <firstSeq 16 hex>.wal}. */
    public static String walFileName(long firstSeq) {
        return seqName(firstSeq) + WAL_SUFFIX;
    }

    /** {@code volumes/<vol>/}: the prefix of every object of a volume. */
    public static String volumePrefix(String vol) {
        return "volumes/" + vol + "/";
    }

    /** {@code volumes/<vol>/volume.json}. */
    public static String volumeJsonKey(String vol) {
        return volumePrefix(vol) + VOLUME_JSON;
    }

    /** {@code volumes/<vol>/lease/}. */
    public static String leasePrefix(String vol) {
        return volumePrefix(vol) + "lease/";
    }

    /** {@code volumes/<vol>/lease/<epoch 16 hex>}. */
    public static String leaseKey(String vol, long epoch) {
        return leasePrefix(vol) + seqName(epoch);
    }

    /** {@code volumes/<vol>/chunks/}. */
    public static String chunksPrefix(String vol) {
        return volumePrefix(vol) + "chunks/";
    }

    /** {@code volumes/<vol>/chunks/<chunkSeq 16 hex>}. */
    public static String chunkKey(String vol, long chunkSeq) {
        return chunksPrefix(vol) + seqName(chunkSeq);
    }

    /** {@code volumes/<vol>/map/}: deltas and checkpoints. */
    public static String mapPrefix(String vol) {
        return volumePrefix(vol) + "map/";
    }

    /** {@code volumes/<vol>/map/<deltaSeq 16 hex>.delta}. */
    public static String deltaKey(String vol, long deltaSeq) {
        return mapPrefix(vol) + seqName(deltaSeq) + DELTA_SUFFIX;
    }

    /** {@code volumes/<vol>/map/<ckptSeq 16 hex>.ckpt}. */
    public static String checkpointKey(String vol, long ckptSeq) {
        return mapPrefix(vol) + seqName(ckptSeq) + CKPT_SUFFIX;
    }

    // ---------------------------------------------------------------- helpers for the codecs

    /** The 8 ASCII characters of {@code s} as a big-endian long. */
    static long magic(String s) {
        byte[] b = s.getBytes(StandardCharsets.US_ASCII);
        if (b.length != 8) {
            throw new IllegalArgumentException("magic must be 8 ASCII characters: " + s);
        }
        return ByteBuffer.wrap(b).getLong();
    }

    /** A magic for messages: the 8 bytes as ASCII if printable, else hex. */
    static String describeMagic(long magic) {
        byte[] b = ByteBuffer.allocate(8).putLong(magic).array();
        for (byte x : b) {
            if (x < 0x20 || x > 0x7e) {
                return String.format("0x%016x", magic);
            }
        }
        return "\"" + new String(b, StandardCharsets.US_ASCII) + "\"";
    }

    /** "0x1234abcd". */
    static String hex32(int v) {
        return String.format("0x%08x", v);
    }

    /** CRC32C of {@code buf[from, to)} (absolute indexes), leaving buf's position and limit alone. */
    static int crc32c(ByteBuffer buf, int from, int to) {
        CRC32C crc = new CRC32C();
        crc.update(buf.duplicate().limit(to).position(from));
        return (int) crc.getValue();
    }

    /** True if {@code buf[from, to)} (absolute indexes) are all zero. */
    static boolean allZero(ByteBuffer buf, int from, int to) {
        for (int i = from; i < to; i++) {
            if (buf.get(i) != 0) {
                return false;
            }
        }
        return true;
    }
}
