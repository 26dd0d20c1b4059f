package io.viperblock.bench;

import io.viperblock.core.io.NioFs;
import io.viperblock.core.volume.Volume;
import io.viperblock.core.volume.VolumeConfig;
import io.viperblock.core.volume.VolumeManager;
import io.viperblock.core.volume.VolumeStats;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * WAL write throughput through the real engine path against the physical limit of the same
 * disk, measured in the same run:
 *
 * <ul>
 *   <li>{@code volume}: {@link Volume#write} of {@code size} bytes at sequential offsets
 *       (wrapping within 1 GiB) and {@link Volume#flush} every {@code flushEvery} writes;</li>
 *   <li>{@code filechannel}: the same bytes appended to one file with a plain FileChannel and
 *       {@code force(false)} (fdatasync, what the engine's flush does) every {@code flushEvery}
 *       writes: what the disk can do at best;</li>
 *   <li>{@code paired}: both of the above in alternation inside one benchmark, one round of
 *       {@code flushEvery} writes plus a flush each, timing each side. A virtual disk's speed can
 *       swing by 2-3x within seconds, which makes the ratio of two separate runs mostly noise;
 *       interleaved, both sides see the same disk, so their ratio holds even when the absolute
 *       numbers do not. Its secondary results are each side's nanoseconds and bytes;</li>
 *   <li>{@code volumeGroupCommit4k}: 8 threads writing 4 KiB each with a flush after every
 *       write; group commit should share one fdatasync among many writes, reported as
 *       {@link VolumeStats#walWritesPerSync} at the end of the trial.</li>
 * </ul>
 *
 * Scores are writes per second; {@code scripts/bench} turns them into MB/s and ratios. Both sides
 * write from direct buffers, so neither pays a heap-to-native copy the other does not.
 *
 * <p>Consolidation: the consolidator thread runs as in production (into a store that drops the
 * chunk bodies, see {@link BenchStores.ChunkSink}), but the configuration keeps it from
 * dominating: a long {@code sealAfter} and a backlog bound of 4 GiB. As the consolidator looks for
 * sealed segments only every {@code sealAfter / 4}, it effectively stays idle during the
 * measurement; the backlog is drained after each iteration, untimed, so disk use stays bounded and
 * writers never hit backpressure. The trial's teardown prints what was consolidated, and when.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"})
public class WalAppendBenchmark {
    /** Offsets wrap within this span, so the volume (and the disk it lives on) stays small. */
    static final long SPAN = 1L << 30;
    /** The WAL backlog writers may leave behind before backpressure holds them. */
    static final long MAX_PENDING = 4L << 30;

    static VolumeConfig config() {
        return VolumeConfig.defaults()
                .withSealAfter(Duration.ofHours(1))
                .withMaxPendingWalBytes(MAX_PENDING)
                .withBackpressureTimeout(Duration.ofMinutes(10));
    }

    /** {@code size} bytes of random data in a direct buffer. */
    static ByteBuffer payload(int size, long seed) {
        byte[] bytes = new byte[size];
        new SplittableRandom(seed).nextBytes(bytes);
        return ByteBuffer.allocateDirect(size).put(bytes).flip();
    }

    /** One volume in its own data directory on the bench disk, with a store that drops chunk bodies. */
    static final class Rig {
        final Path dir;
        final BenchStores.ChunkSink store = new BenchStores.ChunkSink();
        final Volume volume;
        long drainedNanos;
        long drainPasses;
        long drainedBytes;
        /** Writes so far; single-threaded use only. */
        long n;

        Rig(String name) throws IOException {
            dir = BenchDir.fresh("wal-" + name);
            VolumeManager mgr = new VolumeManager(store, dir, NioFs.INSTANCE, config());
            mgr.create(name, SPAN);
            volume = mgr.open(name);
        }

        /** One write at the next sequential offset, and a flush every flushEvery writes. */
        void write(ByteBuffer data, int flushEvery) throws IOException {
            long off = (n * data.remaining()) % SPAN;
            volume.write(off, data, false);
            if (++n % flushEvery == 0) {
                volume.flush();
            }
        }

        /** Consolidates the backlog, outside the measurement. */
        void drain() throws IOException {
            long passes = volume.stats().consolidations();
            long bytes = store.chunkBytes.sum();
            long t = System.nanoTime();
            volume.drain();
            drainedNanos += System.nanoTime() - t;
            drainPasses += volume.stats().consolidations() - passes;
            drainedBytes += store.chunkBytes.sum() - bytes;
            // The drain deleted segments; commit the freed blocks now rather than in the next
            // iteration's first fdatasync (the FileChannel side does the same after its truncate).
            BenchDir.syncFs(dir);
        }

        void close(String label) throws IOException {
            VolumeStats st = volume.stats();
            System.out.printf("[vb] %s: %d writes, %d flushes, %d fdatasyncs, %.2f WAL records per fdatasync, %.2f per write call, "
                            + "%d backpressure waits%n",
                    label, st.writes(), st.flushes(), st.walSyncs(), st.walWritesPerSync(), st.walRecordsPerWrite(), st.backpressureWaits());
            System.out.printf("[vb] %s: consolidation in the background during the run: %d segments; drained between iterations "
                            + "(untimed): %d segments, %.0f MB of chunks in %.1f s (%.0f MB/s)%n",
                    label, st.consolidations() - drainPasses, drainPasses, drainedBytes / 1e6, drainedNanos / 1e9,
                    drainedNanos == 0 ? 0 : drainedBytes / 1e6 / (drainedNanos / 1e9));
            try {
                volume.close(); // drains what is left into the store: untimed
            } finally {
                BenchDir.deleteTree(dir);
            }
        }
    }

    /**
     * Appends to one file on the bench disk with a plain FileChannel: the physical limit. Like
     * the WAL, it only ever appends (so each fdatasync also commits the file's growth), and like
     * the WAL's consolidated segments, the bytes are given back between iterations, untimed.
     */
    static final class Channel {
        final Path dir;
        final FileChannel ch;
        long n;

        Channel() throws IOException {
            dir = BenchDir.fresh("fc");
            ch = FileChannel.open(dir.resolve("append.log"), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        }

        void write(ByteBuffer data, int flushEvery) throws IOException {
            if (ch.position() >= MAX_PENDING) {
                ch.truncate(0); // only with iterations far longer than scripts/bench runs; the volume would be in backpressure by now
            }
            ByteBuffer b = data.duplicate();
            while (b.hasRemaining()) {
                ch.write(b);
            }
            if (++n % flushEvery == 0) {
                ch.force(false);
            }
        }

        /** Frees the file's blocks (truncate moves the position back to 0); untimed. */
        void reset() throws IOException {
            ch.truncate(0);
            BenchDir.syncFs(dir);
        }

        void close() throws IOException {
            ch.close();
            BenchDir.deleteTree(dir);
        }
    }

    @State(Scope.Benchmark)
    public static class VolumeState {
        @Param({"4096", "1048576"})
        int size;
        @Param({"1", "64"})
        int flushEvery;

        Rig rig;
        ByteBuffer data;

        @Setup(Level.Trial)
        public void setup() throws IOException {
            rig = new Rig("append");
            data = payload(size, 42);
        }

        @TearDown(Level.Iteration)
        public void drain() throws IOException {
            rig.drain();
        }

        @TearDown(Level.Trial)
        public void tearDown() throws IOException {
            rig.close("volume size=" + size + " flushEvery=" + flushEvery);
        }
    }

    @State(Scope.Benchmark)
    public static class ChannelState {
        @Param({"4096", "1048576"})
        int size;
        @Param({"1", "64"})
        int flushEvery;

        Channel channel;
        ByteBuffer data;

        @Setup(Level.Trial)
        public void setup() throws IOException {
            channel = new Channel();
            data = payload(size, 42);
        }

        @TearDown(Level.Iteration)
        public void reset() throws IOException {
            channel.reset();
        }

        @TearDown(Level.Trial)
        public void tearDown() throws IOException {
            channel.close();
        }
    }

    /**
     * Both sides in one state. The public fields are JMH auxiliary counters (summed per
     * iteration): each side's time and bytes, from which scripts/bench derives each side's MB/s
     * and their ratio.
     */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class PairState {
        @Param({"4096", "1048576"})
        int size;
        @Param({"1", "64"})
        int flushEvery;

        public long volumeNanos;
        public long channelNanos;
        public long bytesEach;

        Rig rig;
        Channel channel;
        ByteBuffer data;
        /** Which side goes first in the next round; alternated so neither always follows the other's fsync. */
        boolean volumeFirst = true;

        @Setup(Level.Trial)
        public void setup() throws IOException {
            rig = new Rig("paired");
            channel = new Channel();
            data = payload(size, 42);
        }

        @Setup(Level.Iteration)
        public void resetCounters() {
            volumeNanos = 0;
            channelNanos = 0;
            bytesEach = 0;
        }

        @TearDown(Level.Iteration)
        public void drain() throws IOException {
            rig.drain();
            channel.reset();
        }

        @TearDown(Level.Trial)
        public void tearDown() throws IOException {
            try {
                rig.close("paired size=" + size + " flushEvery=" + flushEvery);
            } finally {
                channel.close();
            }
        }

        void volumeRound() throws IOException {
            long t = System.nanoTime();
            for (int i = 0; i < flushEvery; i++) {
                rig.write(data, flushEvery);
            }
            volumeNanos += System.nanoTime() - t;
        }

        void channelRound() throws IOException {
            long t = System.nanoTime();
            for (int i = 0; i < flushEvery; i++) {
                channel.write(data, flushEvery);
            }
            channelNanos += System.nanoTime() - t;
        }
    }

    @State(Scope.Benchmark)
    public static class GroupCommitState {
        Rig rig;
        final AtomicLong next = new AtomicLong();

        @Setup(Level.Trial)
        public void setup() throws IOException {
            rig = new Rig("groupcommit");
        }

        @TearDown(Level.Iteration)
        public void drain() throws IOException {
            rig.drain();
        }

        @TearDown(Level.Trial)
        public void tearDown() throws IOException {
            rig.close("group commit, 8 threads x 4 KiB + flush each");
        }
    }

    /** Each writer thread's own buffer. */
    @State(Scope.Thread)
    public static class ThreadData {
        ByteBuffer data;

        @Setup(Level.Trial)
        public void setup() {
            data = payload(4096, Thread.currentThread().threadId());
        }
    }

    @Benchmark
    public void volume(VolumeState s) throws IOException {
        s.rig.write(s.data, s.flushEvery);
    }

    @Benchmark
    public void filechannel(ChannelState s) throws IOException {
        s.channel.write(s.data, s.flushEvery);
    }

    /** One op = flushEvery writes plus a flush on each side; the score counts rounds, not writes. */
    @Benchmark
    public void paired(PairState s) throws IOException {
        if (s.volumeFirst) {
            s.volumeRound();
            s.channelRound();
        } else {
            s.channelRound();
            s.volumeRound();
        }
        s.volumeFirst = !s.volumeFirst;
        s.bytesEach += (long) s.flushEvery * s.size;
    }

    @Benchmark
    @Threads(8)
    public void volumeGroupCommit4k(GroupCommitState s, ThreadData t) throws IOException {
        long off = (s.next.getAndIncrement() * 4096) % SPAN;
        s.rig.volume.write(off, t.data, false);
        s.rig.volume.flush();
    }
}
