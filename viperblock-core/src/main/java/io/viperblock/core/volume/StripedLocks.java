package io.viperblock.core.volume;

import java.util.concurrent.locks.ReentrantLock;

/**
 * Locks that serialise every change to a block (a partial write is a read-modify-write, and a
 * change must take its sequence number and update the dirty index as one step, or a lower
 * sequence number could land last). A stripe covers a 64 KiB group of blocks; a range locks its
 * stripes in ascending order, so two ranges can never deadlock. Thread-safe.
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

    /** Locks every stripe covering blocks [first, end); returns a token for {@link #unlock}. */
    boolean[] lock(long first, long end) {
        boolean[] taken = new boolean[STRIPES];
        long groups = ((end - 1) >>> GROUP_SHIFT) - (first >>> GROUP_SHIFT) + 1;
        if (groups >= STRIPES) {
            java.util.Arrays.fill(taken, true);
        } else {
            for (long g = first >>> GROUP_SHIFT; g <= (end - 1) >>> GROUP_SHIFT; g++) {
                taken[(int) (g % STRIPES)] = true;
            }
        }
        for (int i = 0; i < STRIPES; i++) {
            if (taken[i]) {
                locks[i].lock();
            }
        }
        return taken;
    }

    void unlock(boolean[] taken) {
        for (int i = STRIPES - 1; i >= 0; i--) {
            if (taken[i]) {
                locks[i].unlock();
            }
        }
    }
}
