package io.viperblock.core.volume;

import java.io.IOException;
import java.time.Duration;
import java.util.BitSet;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Puts scattered blocks back together while the volume is quiet. The WAL and the chunks hold
 * blocks in the order they were written, so after small random writes the blocks of a range lie
 * all over them, and one large read of the range (a copy out, a backup, a boot) becomes a small
 * read for each block: 1 GiB rewritten by 4 KiB random writes copied out at 144-198 MB/s from
 * the disk, where the peers, which write in place, read it back in order (docs/PERFORMANCE.md).
 *
 * <p>A large read that finds its blocks in many pieces ({@link #scattered}) notes the range's
 * regions of {@link #REGION_BLOCKS} blocks here. Once no client request has come for the
 * configured quiet time ({@link VolumeConfig#defragQuiet}) and the WAL is mostly consolidated,
 * this thread has the volume write each noted region again, unchanged ({@link Volume#rewrite}),
 * so that its blocks come to lie together in the WAL and then in one chunk. A client request
 * stops it until the volume is quiet again; the rewrite holds the region's block locks, so no
 * client write can come between its read and its write; it checks what it reads from the WAL
 * against the CRCs the writes came with. It is best effort: a region that fails, or that no
 * longer looks scattered when its turn comes, is dropped.
 *
 * <p>The same quiet time then fills the WAL's spare files, one at a time, for the segments that
 * had to start in new files since the last fills ({@link Volume#fillSpare},
 * {@code WalWriter.fillSpare}): the volume's other quiet-time work. A client request stops that
 * too, and the file being filled is deleted unfinished.
 *
 * <p>Thread-safety: {@link #note} from any reader; the rest on this thread.
 */
final class Defragmenter implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Defragmenter.class);
    /** A region: 1 MiB of blocks, the unit noted and rewritten. */
    static final int REGION_BLOCKS = 256;
    /** Reads of fewer blocks are not looked at: a small read costs a few pieces at most. */
    static final int MIN_READ_BLOCKS = 32;

    private final Volume volume;
    private final long quietNanos;
    /** The volume's count of client requests so far. */
    private final LongSupplier requests;
    /** Bit r: region r (blocks from r * REGION_BLOCKS) is noted; one bit per MiB of the volume at most. Guarded by itself. */
    private final BitSet noted = new BitSet();
    private final Thread thread;
    private volatile boolean closed;
    /** Blocks rewritten. */
    final LongAdder blocks = new LongAdder();

    /** Whether {@code pieces} separate reads for {@code count} blocks are scattered: runs below 4 blocks (16 KiB) on average. */
    static boolean scattered(int pieces, int count) {
        return count >= MIN_READ_BLOCKS && pieces * 4L > count;
    }

    Defragmenter(Volume volume, Duration quiet, LongSupplier requests) {
        this.volume = volume;
        this.quietNanos = quiet.toNanos();
        this.requests = requests;
        this.thread = Thread.ofPlatform().daemon().name("vb-defrag-" + volume.name()).unstarted(this::loop);
        if (quietNanos > 0) {
            thread.start();
        }
    }

    /** Regions noted and not yet rewritten. */
    int regionsNoted() {
        synchronized (noted) {
            return noted.cardinality();
        }
    }

    /** Notes the regions of blocks [first, first + count), which a read found scattered. */
    void note(long first, int count) {
        if (quietNanos == 0 || closed) {
            return;
        }
        long last = (first + count - 1) / REGION_BLOCKS;
        if (last >= Integer.MAX_VALUE) {
            return; // beyond 2 PiB: left as it is
        }
        synchronized (noted) {
            noted.set((int) (first / REGION_BLOCKS), (int) last + 1);
        }
    }

    private void loop() {
        long seen = requests.getAsLong();
        while (!closed) {
            // parked, not asleep: close must never interrupt this thread, as that would close any file it reads
            long until = System.nanoTime() + quietNanos;
            for (long left; !closed && (left = until - System.nanoTime()) > 0; ) {
                LockSupport.parkNanos(this, left);
            }
            if (closed) {
                return;
            }
            long now = requests.getAsLong();
            boolean quiet = now == seen;
            seen = now;
            while (quiet && !closed && volume.walQuiet()) {
                int region;
                synchronized (noted) {
                    region = noted.nextSetBit(0);
                    if (region < 0) {
                        break;
                    }
                    noted.clear(region);
                }
                try {
                    blocks.add(volume.rewrite((long) region * REGION_BLOCKS, REGION_BLOCKS));
                } catch (VolumeClosedException | VolumeFencedException e) {
                    return;
                } catch (IOException | RuntimeException e) {
                    synchronized (noted) {
                        log.warn("volume {}: rewriting scattered blocks failed; the {} regions noted are dropped: {}", volume.name(),
                                noted.cardinality(), e.toString());
                        noted.clear();
                    }
                }
                now = requests.getAsLong();
                quiet = now == seen; // a client is back: wait until it has been quiet again
                seen = now;
            }
            long since = seen;
            while (quiet && !closed && volume.walQuiet() && volume.fillSpare(() -> closed || requests.getAsLong() != since)) {
                // one file at a time, until the WAL wants no more or a client is back
            }
        }
    }

    /** Stops the thread, after the region it may be rewriting. */
    @Override
    public void close() {
        closed = true;
        LockSupport.unpark(thread);
        if (thread.isAlive() && thread != Thread.currentThread()) {
            try {
                thread.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
