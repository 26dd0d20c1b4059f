package io.viperblock.core.volume;

import java.time.Duration;

/**
 * Tunables of the engine. Immutable; {@link #defaults()} then the {@code with...} methods.
 *
 * @param segmentBytes          a WAL segment is sealed (and consolidated) once it passes this size
 * @param sealAfter             ... or once it has held unconsolidated data this long
 * @param maxPendingWalBytes    writers wait when unconsolidated WAL passes this (backpressure)
 * @param keptWalBytes          consolidated WAL segments kept to serve reads of what they hold, at most (Volume, durability rule 3 of DESIGN.md)
 * @param backpressureTimeout   how long a writer waits before failing with an error
 * @param uploadParallelism     chunks uploaded at once (each holds a 4 MiB buffer)
 * @param cacheBytes            bounded cache of chunk blocks read from a remote store (a local store has none: the page cache serves)
 * @param checkpointEvery       map deltas between two compacted checkpoints
 * @param sweepEvery            the collector looks for chunks the map no longer names after each checkpoint, and after any other consolidation once this has passed since its last look (ChunkCollector)
 * @param defragQuiet           the volume's quiet-time work begins once no client request has come for this long: scattered ranges that large reads found are written again, and spare WAL files filled (Defragmenter); zero: never
 */
public record VolumeConfig(
        long segmentBytes,
        Duration sealAfter,
        long maxPendingWalBytes,
        long keptWalBytes,
        Duration backpressureTimeout,
        int uploadParallelism,
        long cacheBytes,
        int checkpointEvery,
        Duration sweepEvery,
        Duration defragQuiet) {

    public VolumeConfig {
        if (segmentBytes < 1 << 20 || maxPendingWalBytes < 2 * segmentBytes || keptWalBytes < 0 || uploadParallelism < 1
                || cacheBytes < 0 || checkpointEvery < 1 || sweepEvery.isNegative() || defragQuiet.isNegative()) {
            throw new IllegalArgumentException("invalid volume configuration: segmentBytes >= 1 MiB, maxPendingWalBytes >= 2 segments, "
                    + "keptWalBytes >= 0, uploadParallelism >= 1, cacheBytes >= 0, checkpointEvery >= 1, sweepEvery >= 0, defragQuiet >= 0: " + this);
        }
    }

    public static VolumeConfig defaults() {
        return new VolumeConfig(64L << 20, Duration.ofSeconds(5), 1L << 30, 4L << 30, Duration.ofSeconds(60), 4, 256L << 20, 64, Duration.ofSeconds(10), Duration.ofSeconds(1));
    }

    public VolumeConfig withSegmentBytes(long v) {
        return new VolumeConfig(v, sealAfter, Math.max(maxPendingWalBytes, 2 * v), keptWalBytes, backpressureTimeout, uploadParallelism, cacheBytes, checkpointEvery, sweepEvery, defragQuiet);
    }

    public VolumeConfig withSealAfter(Duration v) {
        return new VolumeConfig(segmentBytes, v, maxPendingWalBytes, keptWalBytes, backpressureTimeout, uploadParallelism, cacheBytes, checkpointEvery, sweepEvery, defragQuiet);
    }

    public VolumeConfig withMaxPendingWalBytes(long v) {
        return new VolumeConfig(segmentBytes, sealAfter, v, keptWalBytes, backpressureTimeout, uploadParallelism, cacheBytes, checkpointEvery, sweepEvery, defragQuiet);
    }

    public VolumeConfig withKeptWalBytes(long v) {
        return new VolumeConfig(segmentBytes, sealAfter, maxPendingWalBytes, v, backpressureTimeout, uploadParallelism, cacheBytes, checkpointEvery, sweepEvery, defragQuiet);
    }

    public VolumeConfig withBackpressureTimeout(Duration v) {
        return new VolumeConfig(segmentBytes, sealAfter, maxPendingWalBytes, keptWalBytes, v, uploadParallelism, cacheBytes, checkpointEvery, sweepEvery, defragQuiet);
    }

    public VolumeConfig withUploadParallelism(int v) {
        return new VolumeConfig(segmentBytes, sealAfter, maxPendingWalBytes, keptWalBytes, backpressureTimeout, v, cacheBytes, checkpointEvery, sweepEvery, defragQuiet);
    }

    public VolumeConfig withCacheBytes(long v) {
        return new VolumeConfig(segmentBytes, sealAfter, maxPendingWalBytes, keptWalBytes, backpressureTimeout, uploadParallelism, v, checkpointEvery, sweepEvery, defragQuiet);
    }

    public VolumeConfig withSweepEvery(Duration v) {
        return new VolumeConfig(segmentBytes, sealAfter, maxPendingWalBytes, keptWalBytes, backpressureTimeout, uploadParallelism, cacheBytes, checkpointEvery, v, defragQuiet);
    }

    public VolumeConfig withCheckpointEvery(int v) {
        return new VolumeConfig(segmentBytes, sealAfter, maxPendingWalBytes, keptWalBytes, backpressureTimeout, uploadParallelism, cacheBytes, v, sweepEvery, defragQuiet);
    }

    public VolumeConfig withDefragQuiet(Duration v) {
        return new VolumeConfig(segmentBytes, sealAfter, maxPendingWalBytes, keptWalBytes, backpressureTimeout, uploadParallelism, cacheBytes, checkpointEvery, sweepEvery, v);
    }
}
