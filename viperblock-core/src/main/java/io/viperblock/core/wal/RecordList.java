package io.viperblock.core.wal;

import io.viperblock.core.format.Formats;
import io.viperblock.core.format.WalRecord;
import java.util.Arrays;

/**
 * The records of one WAL segment in append order, as parallel primitive arrays (no object per
 * record). Appended by the WAL writer; read by the consolidator after the segment is sealed
 * (the seal happens under the writer's lock, which publishes the arrays).
 *
 * <p>Records appended by the writer bring the CRC32C of each block of their payload, computed
 * when the payload was received, so the consolidator need not compute them again for the chunk
 * footers. Records found by replay have none: {@link #blockCrcIndex} then answers -1.
 */
public final class RecordList {
    private long[] seq = new long[64];
    private long[] firstBlock = new long[64];
    private long[] payloadOffset = new long[64];
    private int[] count = new int[64];
    private byte[] type = new byte[64];
    /** Index in {@link #blockCrcs} of each record's first block CRC. */
    private int[] crcStart = new int[64];
    /** Block CRCs of every WRITE record, in order; null once a WRITE record came without them. */
    private int[] blockCrcs = new int[256];
    private int crcCount;
    private int size;

    void add(int recordType, long recordSeq, long block, int blocks, long offset) {
        add(recordType, recordSeq, block, blocks, offset, null);
    }

    /** {@code crcsOrNull}: the CRC32C of each of the {@code blocks} blocks of a WRITE record's payload. */
    void add(int recordType, long recordSeq, long block, int blocks, long offset, int[] crcsOrNull) {
        if (size == seq.length) {
            int n = size * 2;
            seq = Arrays.copyOf(seq, n);
            firstBlock = Arrays.copyOf(firstBlock, n);
            payloadOffset = Arrays.copyOf(payloadOffset, n);
            count = Arrays.copyOf(count, n);
            type = Arrays.copyOf(type, n);
            crcStart = Arrays.copyOf(crcStart, n);
        }
        seq[size] = recordSeq;
        firstBlock[size] = block;
        payloadOffset[size] = offset;
        count[size] = blocks;
        type[size] = (byte) recordType;
        crcStart[size] = crcCount;
        if (recordType == WalRecord.WRITE && blockCrcs != null) {
            if (crcsOrNull == null || crcsOrNull.length != blocks) {
                blockCrcs = null;
            } else {
                if (crcCount + blocks > blockCrcs.length) {
                    blockCrcs = Arrays.copyOf(blockCrcs, Math.max(blockCrcs.length * 2, crcCount + blocks));
                }
                System.arraycopy(crcsOrNull, 0, blockCrcs, crcCount, blocks);
                crcCount += blocks;
            }
        }
        size++;
    }

    public int size() { return size; }
    public long seq(int i) { return seq[i]; }
    public long firstBlock(int i) { return firstBlock[i]; }
    /** Offset of the record's payload in the segment file (meaningful for WRITE records). */
    public long payloadOffset(int i) { return payloadOffset[i]; }
    public int count(int i) { return count[i]; }
    public int type(int i) { return type[i]; }

    /**
     * Where in {@link #blockCrcs()} the CRC of the block at payload offset {@code offset} is
     * (the offset of a block of a WRITE record's payload), or -1 if this list has no block CRCs.
     */
    public int blockCrcIndex(long offset) {
        if (blockCrcs == null) {
            return -1;
        }
        int lo = 0;
        int hi = size - 1;
        while (lo < hi) { // the last record whose payload starts at or before offset
            int mid = (lo + hi + 1) >>> 1;
            if (payloadOffset[mid] <= offset) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        long within = offset - payloadOffset[lo];
        if (type[lo] != WalRecord.WRITE || within < 0 || within % Formats.BLOCK_SIZE != 0
                || within / Formats.BLOCK_SIZE >= count[lo]) {
            throw new IllegalArgumentException("offset " + offset + " is not a block of a WRITE record's payload");
        }
        return crcStart[lo] + (int) (within / Formats.BLOCK_SIZE);
    }

    /** The block CRCs ({@link #blockCrcIndex}), or null; read it only after the segment is sealed. */
    public int[] blockCrcs() { return blockCrcs; }
}
