package io.viperblock.core.format;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * CRC32C of 4 KiB blocks, and the CRC32C of a concatenation computed from the CRCs of its parts,
 * so a payload is read once for both the CRCs of its blocks (chunk footers) and the CRC of the
 * whole (WAL record headers).
 *
 * <p>Arithmetic: a CRC here is a polynomial over GF(2) modulo the Castagnoli polynomial, in the
 * bit-reflected order {@link CRC32C} uses (bit 31 is the coefficient of x^0). For the standard
 * CRC (initial value and final xor all ones), {@code crc(A || B) = crc(A) * x^(8 |B|) + crc(B)}
 * modulo the polynomial: the ones of the initial value and of the final xor cancel out.
 */
public final class Crc32c {
    /** The Castagnoli polynomial, bit-reflected. */
    private static final int POLY = 0x82F63B78;
    /** x^(8 * 4096 * 2^k) mod POLY: shifts past 2^k whole blocks. */
    private static final int[] BLOCKS_POW2 = new int[32];
    /** {@code crc * x^(8 * 4096)}, by byte of {@code crc}: four lookups shift a CRC past one block. */
    private static final int[][] SHIFT_ONE_BLOCK = new int[4][256];

    static {
        int p = xPow8n(Formats.BLOCK_SIZE);
        for (int k = 0; k < BLOCKS_POW2.length; k++) {
            BLOCKS_POW2[k] = p;
            p = multiply(p, p);
        }
        for (int j = 0; j < 4; j++) {
            for (int b = 0; b < 256; b++) {
                SHIFT_ONE_BLOCK[j][b] = multiply(BLOCKS_POW2[0], b << (8 * j));
            }
        }
    }

    private Crc32c() {}

    /** CRC32C of the remaining bytes of {@code buf} (its position is not changed). */
    public static int of(ByteBuffer buf) {
        CRC32C crc = new CRC32C();
        crc.update(buf.duplicate());
        return (int) crc.getValue();
    }

    /**
     * The CRC32C of each 4096-byte block of {@code payload}'s remaining bytes (a multiple of
     * 4096) into {@code blockCrcs}, and the CRC32C of all of them, returned: one pass over the
     * bytes. The payload's position is not changed.
     */
    public static int ofBlocks(ByteBuffer payload, int[] blockCrcs) {
        int blocks = payload.remaining() / Formats.BLOCK_SIZE;
        if (payload.remaining() % Formats.BLOCK_SIZE != 0 || blockCrcs.length < blocks) {
            throw new IllegalArgumentException(payload.remaining() + " bytes are not " + blockCrcs.length + " blocks or fewer");
        }
        CRC32C crc = new CRC32C();
        ByteBuffer b = payload.duplicate();
        int whole = 0;
        for (int i = 0; i < blocks; i++) {
            int at = payload.position() + i * Formats.BLOCK_SIZE;
            crc.reset();
            crc.update(b.limit(at + Formats.BLOCK_SIZE).position(at));
            blockCrcs[i] = (int) crc.getValue();
            whole = i == 0 ? blockCrcs[0] : shiftOneBlock(whole) ^ blockCrcs[i];
        }
        return whole;
    }

    /** The CRC32C of {@code A || B} from {@code crcA}, {@code crcB} and the length of B. */
    public static int combine(int crcA, int crcB, long lengthB) {
        if (lengthB < 0) {
            throw new IllegalArgumentException("negative length " + lengthB);
        }
        if (lengthB % Formats.BLOCK_SIZE == 0) {
            long blocks = lengthB / Formats.BLOCK_SIZE;
            int a = crcA;
            for (int k = 0; blocks != 0; k++, blocks >>>= 1) {
                if ((blocks & 1) != 0) {
                    a = multiply(a, BLOCKS_POW2[k]);
                }
            }
            return a ^ crcB;
        }
        return multiply(crcA, xPow8n(lengthB)) ^ crcB;
    }

    private static int shiftOneBlock(int crc) {
        return SHIFT_ONE_BLOCK[0][crc & 0xff] ^ SHIFT_ONE_BLOCK[1][(crc >>> 8) & 0xff]
                ^ SHIFT_ONE_BLOCK[2][(crc >>> 16) & 0xff] ^ SHIFT_ONE_BLOCK[3][crc >>> 24];
    }

    /** x^(8n) mod POLY, by squaring. */
    private static int xPow8n(long n) {
        int result = 1 << 31; // x^0
        int square = 1 << 30; // x^1, then x^2, x^4, ...
        for (long e = 8 * n; e != 0; e >>>= 1) {
            if ((e & 1) != 0) {
                result = multiply(result, square);
            }
            square = multiply(square, square);
        }
        return result;
    }

    /** a * b mod POLY, both bit-reflected. */
    private static int multiply(int a, int b) {
        int product = 0;
        for (int bit = 31; bit >= 0 && a != 0; bit--) {
            if ((a >>> bit & 1) != 0) { // the coefficient of x^(31 - bit) in a
                product ^= b;
                a &= ~(1 << bit);
            }
            b = (b & 1) != 0 ? (b >>> 1) ^ POLY : b >>> 1; // b * x
        }
        return product;
    }
}
