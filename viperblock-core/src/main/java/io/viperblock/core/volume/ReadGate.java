package io.viperblock.core.volume;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Tells the chunk collector when every read that began before a given moment has ended. A read
 * plans against the map as it is when it plans, then reads the chunks (and WAL segments) its plan
 * names; a chunk the map lets go meanwhile must stay, with its contents, until that read ends.
 * So the collector deletes a chunk it found unnamed, or lets the WAL take its file back, only once
 * every read that entered before that finding has left ({@link ChunkCollector}).
 *
 * <p>Reads enter an epoch ({@link #enter}) and leave it ({@link #exit}). The collector moves the
 * epoch on ({@link #advance}) and waits a little for the reads of the epochs before to end. Two
 * counters serve alternate epochs: a read counts itself in the counter of the epoch it read, then
 * reads the epoch again, and if it moved on meanwhile it uncounts itself and tries again, so the
 * collector, which moves the epoch on and then reads the counter, never misses a read that goes on
 * to plan in the older epoch. The epoch moves on only once the counter it will reuse is zero.
 *
 * <p>Thread-safety: {@link #enter} and {@link #exit} from any thread; {@link #advance} from one
 * thread at a time (the consolidator's).
 */
final class ReadGate {
    private final AtomicLong[] inFlight = {new AtomicLong(), new AtomicLong()};
    private volatile long epoch;

    /** Counts a read in; returns the epoch to give to {@link #exit} when it ends. */
    long enter() {
        while (true) {
            long e = epoch;
            AtomicLong n = inFlight[(int) (e & 1)];
            n.incrementAndGet();
            if (epoch == e) {
                return e;
            }
            n.decrementAndGet(); // the collector moved the epoch on meanwhile: count in the new one
        }
    }

    void exit(long entered) {
        inFlight[(int) (entered & 1)].decrementAndGet();
    }

    /** The current epoch: every read that entered so far entered this one or an earlier one. */
    long current() {
        return epoch;
    }

    /**
     * Moves the epoch on, if the reads of the epoch before the current one have ended (waiting for
     * them up to {@code waitNanos} in all), and waits for those of the current one to end as well.
     * Returns the oldest epoch that may still have a read in flight: every read that entered an
     * epoch below it has ended.
     */
    long advance(long waitNanos) {
        long deadline = System.nanoTime() + waitNanos;
        long e = epoch;
        if (!ended(e - 1, deadline)) {
            return e - 1;
        }
        epoch = e + 1;
        return ended(e, deadline) ? e + 1 : e;
    }

    private boolean ended(long e, long deadline) {
        if (e < 0) {
            return true;
        }
        AtomicLong n = inFlight[(int) (e & 1)];
        while (n.get() != 0) {
            if (System.nanoTime() - deadline >= 0) {
                return false;
            }
            LockSupport.parkNanos(50_000);
        }
        return true;
    }
}
