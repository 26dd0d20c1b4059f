package io.viperblock.core.volume;

import io.viperblock.core.metrics.LatencyHistogram;

/**
 * Counters of an open volume at one moment. Immutable.
 *
 * @param walWritesPerSync     WAL records per fdatasync (group commit at work when above 1)
 * @param walRecordsPerWrite   WAL records per write syscall
 * @param keptWalBytes         bytes of consolidated WAL segments still kept to serve reads (WalWriter.keepConsolidated)
 * @param mapBytesPerExtent    memory the block map costs per extent
 * @param walSyncLatency       time of each fdatasync of {@code WalWriter.sync} (one per flush batch)
 * @param chunksDeleted        chunks the map no longer named, deleted from the store ({@code ChunkCollector})
 * @param blocksDefragmented   blocks written again, unchanged, so that scattered ranges lie together ({@code Defragmenter})
 * @param walSparesFilled      spare WAL files filled with zeros while the volume was quiet ({@code WalWriter.fillSpare})
 * @param defragRegionsNoted   MiB regions a large read found scattered, not yet written again: quiet-time work to come
 * @param walSparesLacked      spare WAL files the next quiet time will fill: quiet-time work to come
 */
public record VolumeStats(
        long reads, long bytesRead, long writes, long bytesWritten, long partialWrites, long zeroes, long trims,
        long flushes, long walSyncs, long walWriteCalls, long walRecords, long walBytes, double walWritesPerSync,
        double walRecordsPerWrite, long pendingWalBytes, int walSegments, long walBlockReads, long keptWalBytes,
        long consolidations, long consolidationFailures, long chunksWritten, long chunksLinked, long chunkBytesWritten, long checkpoints, long chunksDeleted, long chunksRecycled,
        long cacheHits, long cacheMisses, long storeReads, long storeBytesRead,
        long mapExtents, long mapBytes, double mapBytesPerExtent, int chunks, long dirtyExtents,
        long backpressureWaits, long readNanosTotal, long writeNanosTotal, long flushNanosTotal, String lastConsolidationError,
        LatencyHistogram.Snapshot readLatency, LatencyHistogram.Snapshot writeLatency, LatencyHistogram.Snapshot flushLatency,
        LatencyHistogram.Snapshot walSyncLatency, long blocksDefragmented, long walSparesFilled, int defragRegionsNoted,
        int walSparesLacked) {}
