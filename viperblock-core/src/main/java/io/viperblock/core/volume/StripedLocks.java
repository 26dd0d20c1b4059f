package io.viperblock.core.volume;

import java.util.concurrent.locks.ReentrantLock;

/**
 * Locks that serialise every change to a block (a partial write is a read-modify-write, and a
 * change must take its sequence number and update the dirty index as one step, or a lower
 * sequence number could land last). A stripe covers a 64 KiB group of blocks; a range of groups
 * maps to a run of stripes (wrapping at the end), which is locked in ascending stripe order, so
 * two ranges can never deadlock. Locking allocates nothing. Thread-safe.
 */
final class StripedLocks {
    private static final int STRIPES = 256;
    private static final int GROUP_SHIFT = 4; // 16 blocks of 4 KiB per group

    private final ReentrantLock[] locks = new ReentrantLock[STRIPES];

    StripedLocks() {
        for (int i = 0; i < STRIPES; i++) {
            locks[i] = new ReentrantLock();
        }
    }

    /**
     * Locks every stripe covering blocks [first, end) and returns a token for {@link #unlock}:
     * the first and last stripe of the run, packed.
     */
    long lock(long first, long end) {
        long g0 = first >>> GROUP_SHIFT;
        long g1 = (end - 1) >>> GROUP_SHIFT;
        int a;
        int b;
        if (g1 - g0 + 1 >= STRIPES) {
            a = 0;
            b = STRIPES - 1;
        } else {
            a = (int) (g0 % STRIPES);
            b = (int) (g1 % STRIPES);
        }
        if (a <= b) {
            for (int i = a; i <= b; i++) {
                locks[i].lock();
            }
        } else { // the run wraps: [0, b] and [a, STRIPES) are the stripes, taken in ascending order
            for (int i = 0; i <= b; i++) {
                locks[i].lock();
            }
            for (int i = a; i < STRIPES; i++) {
                locks[i].lock();
            }
        }
        return ((long) a << 32) | b;
    }

    /**
     * Locks every stripe covering any of the ranges [firsts[i], ends[i]) for i below {@code n},
     * in ascending stripe order like {@link #lock}, each stripe once; {@code held} (four longs,
     * a bit per stripe) says which, for {@link #unlockAll}.
     */
    void lockAll(long[] firsts, long[] ends, int n, long[] held) {
        java.util.Arrays.fill(held, 0);
        for (int i = 0; i < n; i++) {
            long g0 = firsts[i] >>> GROUP_SHIFT;
            long g1 = (ends[i] - 1) >>> GROUP_SHIFT;
            for (long g = g0; g <= g1 && g - g0 < STRIPES; g++) {
                int stripe = (int) (g % STRIPES);
                held[stripe >>> 6] |= 1L << stripe;
            }
        }
        for (int stripe = 0; stripe < STRIPES; stripe++) {
            if ((held[stripe >>> 6] & 1L << stripe) != 0) {
                locks[stripe].lock();
            }
        }
    }

    void unlockAll(long[] held) {
        for (int stripe = STRIPES - 1; stripe >= 0; stripe--) {
            if ((held[stripe >>> 6] & 1L << stripe) != 0) {
                locks[stripe].unlock();
            }
        }
    }

    void unlock(long token) {
        int a = (int) (token >>> 32);
        int b = (int) token;
        if (a <= b) {
            for (int i = b; i >= a; i--) {
                locks[i].unlock();
            }
        } else {
            for (int i = STRIPES - 1; i >= a; i--) {
                locks[i].unlock();
            }
            for (int i = b; i >= 0; i--) {
                locks[i].unlock();
            }
        }
    }
}
