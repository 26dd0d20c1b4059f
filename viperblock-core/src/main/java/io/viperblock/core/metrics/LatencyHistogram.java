package io.viperblock.core.metrics;

import java.util.concurrent.atomic.LongAdder;

/**
 * Latencies counted in fixed buckets from 50 us to 10 s (the Prometheus histogram shape: an
 * observation goes to the first bucket whose upper bound it does not exceed; the last bucket
 * takes the rest), plus their sum.
 *
 * <p>Thread-safe and cheap on a hot path: {@link #record} walks at most 17 bounds and adds to two
 * {@link LongAdder}s; it allocates nothing and takes no lock. A {@link #snapshot} taken while
 * others record may see a sum a few observations apart from the counts; the count is always the
 * sum of the buckets.
 */
public final class LatencyHistogram {
    private static final long[] BOUNDS_NANOS = {
        50_000L, 100_000L, 250_000L, 500_000L,
        1_000_000L, 2_500_000L, 5_000_000L, 10_000_000L, 25_000_000L, 50_000_000L, 100_000_000L, 250_000_000L, 500_000_000L,
        1_000_000_000L, 2_500_000_000L, 5_000_000_000L, 10_000_000_000L};

    private final LongAdder[] buckets = new LongAdder[BOUNDS_NANOS.length + 1];
    private final LongAdder sumNanos = new LongAdder();

    public LatencyHistogram() {
        for (int i = 0; i < buckets.length; i++) {
            buckets[i] = new LongAdder();
        }
    }

    /** Counts one observation of {@code nanos} (a negative one, from a clock step, counts as 0). */
    public void record(long nanos) {
        long n = Math.max(0, nanos);
        int i = 0;
        while (i < BOUNDS_NANOS.length && n > BOUNDS_NANOS[i]) {
            i++;
        }
        buckets[i].increment();
        sumNanos.add(n);
    }

    /** The upper bounds of the finite buckets, in seconds, ascending. */
    public static double[] boundsSeconds() {
        double[] s = new double[BOUNDS_NANOS.length];
        for (int i = 0; i < s.length; i++) {
            s[i] = BOUNDS_NANOS[i] / 1e9;
        }
        return s;
    }

    public Snapshot snapshot() {
        long[] counts = new long[buckets.length];
        for (int i = 0; i < counts.length; i++) {
            counts[i] = buckets[i].sum();
        }
        return new Snapshot(counts, sumNanos.sum());
    }

    /**
     * The histogram at one moment.
     *
     * @param counts   observations per bucket (not cumulative), one per bound of
     *                 {@link #boundsSeconds()} and a last one for the rest
     * @param sumNanos the sum of every observation
     */
    public record Snapshot(long[] counts, long sumNanos) {
        public long count() {
            long c = 0;
            for (long n : counts) {
                c += n;
            }
            return c;
        }
    }
}
