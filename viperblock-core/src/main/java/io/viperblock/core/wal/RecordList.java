package io.viperblock.core.wal;

import java.util.Arrays;

/**
 * The records of one WAL segment in append order, as parallel primitive arrays (no object per
 * record). Appended by the WAL writer; read by the consolidator after the segment is sealed
 * (the seal happens under the writer's lock, which publishes the arrays).
 */
public final class RecordList {
    private long[] seq = new long[64];
    private long[] firstBlock = new long[64];
    private long[] payloadOffset = new long[64];
    private int[] count = new int[64];
    private byte[] type = new byte[64];
    private int size;

    void add(int recordType, long recordSeq, long block, int blocks, long offset) {
        if (size == seq.length) {
            int n = size * 2;
            seq = Arrays.copyOf(seq, n);
            firstBlock = Arrays.copyOf(firstBlock, n);
            payloadOffset = Arrays.copyOf(payloadOffset, n);
            count = Arrays.copyOf(count, n);
            type = Arrays.copyOf(type, n);
        }
        seq[size] = recordSeq;
        firstBlock[size] = block;
        payloadOffset[size] = offset;
        count[size] = blocks;
        type[size] = (byte) recordType;
        size++;
    }

    public int size() { return size; }
    public long seq(int i) { return seq[i]; }
    public long firstBlock(int i) { return firstBlock[i]; }
    /** Offset of the record's payload in the segment file (meaningful for WRITE records). */
    public long payloadOffset(int i) { return payloadOffset[i]; }
    public int count(int i) { return count[i]; }
    public int type(int i) { return type[i]; }
}
