package io.viperblock.core.volume;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import org.junit.jupiter.api.Test;

/**
 * The read gate: once {@link ReadGate#advance} says the reads below an epoch have ended, no read
 * of such an epoch is still between its enter and its exit; and it says so as soon as they have.
 */
class ReadGateTest {

    @Test
    void aReadInFlightHoldsItsEpochAndOnlyItsOwn() {
        ReadGate gate = new ReadGate();
        long first = gate.enter();
        assertEquals(0, first);
        assertEquals(0, gate.advance(1_000_000), "the read of epoch 0 is in flight");
        long second = gate.enter();
        assertEquals(1, second, "the epoch moved on");
        assertEquals(0, gate.advance(1_000_000), "epoch 1 cannot begin to end before epoch 0 has");
        gate.exit(first);
        assertEquals(1, gate.advance(1_000_000), "epoch 0 has ended; the read of epoch 1 is in flight");
        gate.exit(second);
        assertEquals(3, gate.advance(1_000_000), "no read is in flight");
    }

    /**
     * Reader threads enter, mark themselves inside, work a little and leave, while the test thread
     * advances the epoch over and over; each side checks the other: a reader must never be inside
     * an epoch that the gate has already said ended.
     */
    @Test
    void advanceNeverPassesAReadStillInside() throws Exception {
        long seed = Long.getLong("vb.seed", System.nanoTime());
        System.out.println("advanceNeverPassesAReadStillInside: seed=" + seed + " (rerun with -Dvb.seed=" + seed + ")");
        ReadGate gate = new ReadGate();
        int readers = 4;
        AtomicLongArray inside = new AtomicLongArray(readers);
        AtomicLong ended = new AtomicLong(); // every read of an epoch below this has ended, says the gate
        AtomicLong violations = new AtomicLong();
        AtomicLong reads = new AtomicLong();
        long until = System.nanoTime() + 1_500_000_000L;
        Thread[] threads = new Thread[readers];
        for (int i = 0; i < readers; i++) {
            int me = i;
            SplittableRandom rnd = new SplittableRandom(seed + i);
            inside.set(me, Long.MAX_VALUE);
            threads[i] = Thread.ofPlatform().start(() -> {
                while (System.nanoTime() < until) {
                    long e = gate.enter();
                    inside.set(me, e);
                    if (e < ended.get()) {
                        violations.incrementAndGet();
                    }
                    for (int spin = rnd.nextInt(200); spin > 0; spin--) {
                        Thread.onSpinWait();
                    }
                    inside.set(me, Long.MAX_VALUE);
                    gate.exit(e);
                    reads.incrementAndGet();
                }
            });
        }
        SplittableRandom rnd = new SplittableRandom(seed);
        long advances = 0;
        while (System.nanoTime() < until) {
            long below = gate.advance(rnd.nextInt(3) * 20_000L);
            ended.set(Math.max(ended.get(), below));
            for (int i = 0; i < readers; i++) {
                if (inside.get(i) < below) {
                    violations.incrementAndGet();
                }
            }
            advances++;
        }
        for (Thread t : threads) {
            t.join();
        }
        assertEquals(0, violations.get(), "reads inside an epoch the gate said had ended");
        assertTrue(reads.get() > 10_000 && ended.get() > 100, reads.get() + " reads, " + advances + " advances, epochs ended below "
                + ended.get() + ": too few to have tested anything");
        assertEquals(gate.current() + 1, gate.advance(1_000_000), "with no read in flight, every epoch has ended");
    }
}
