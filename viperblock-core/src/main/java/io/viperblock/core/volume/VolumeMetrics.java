package io.viperblock.core.volume;

import io.viperblock.core.chunk.ChunkReader;
import io.viperblock.core.metrics.LatencyHistogram;
import io.viperblock.core.wal.WalWriter;
import java.util.concurrent.atomic.LongAdder;

/** Counters of one volume. Thread-safe (LongAdders; the histograms take no lock either). */
final class VolumeMetrics {
    final LongAdder reads = new LongAdder();
    final LongAdder bytesRead = new LongAdder();
    final LatencyHistogram readLatency = new LatencyHistogram();
    final LongAdder writes = new LongAdder();
    final LongAdder bytesWritten = new LongAdder();
    final LatencyHistogram writeLatency = new LatencyHistogram();
    final LongAdder partialWrites = new LongAdder();
    final LongAdder zeroes = new LongAdder();
    final LongAdder trims = new LongAdder();
    final LongAdder flushes = new LongAdder();
    final LatencyHistogram flushLatency = new LatencyHistogram();
    final LongAdder walReads = new LongAdder();
    final LongAdder backpressureWaits = new LongAdder();

    void read(long bytes, long nanos) {
        reads.increment();
        bytesRead.add(bytes);
        readLatency.record(nanos);
    }

    void write(long bytes, long nanos) {
        writes.increment();
        bytesWritten.add(bytes);
        writeLatency.record(nanos);
    }

    void flush(long nanos) {
        flushes.increment();
        flushLatency.record(nanos);
    }

    VolumeStats snapshot(WalWriter wal, ChunkReader chunks, Consolidator c, Defragmenter d, long mapExtents, long mapBytes, int chunkCount,
            long dirtyExtents, String lastError) {
        long syncs = wal.syncCalls();
        long writeCalls = wal.writeCalls();
        long records = wal.recordsWritten();
        LatencyHistogram.Snapshot readHist = readLatency.snapshot();
        LatencyHistogram.Snapshot writeHist = writeLatency.snapshot();
        LatencyHistogram.Snapshot flushHist = flushLatency.snapshot();
        return new VolumeStats(reads.sum(), bytesRead.sum(), writes.sum(), bytesWritten.sum(), partialWrites.sum(), zeroes.sum(),
                trims.sum(), flushes.sum(), syncs, writeCalls, records, wal.bytesWritten(),
                syncs == 0 ? 0 : (double) records / syncs, writeCalls == 0 ? 0 : (double) records / writeCalls,
                wal.pendingBytes(), wal.segmentCount(), walReads.sum(), wal.keptBytes(),
                c.runs.sum(), c.failures.sum(), c.chunksWritten.sum(), c.chunksLinked.sum(), c.bytesWritten.sum(), c.checkpoints.sum(), c.collector.deleted.sum(), c.collector.recycled.sum(),
                chunks.hits(), chunks.misses(), chunks.storeReads(), chunks.storeBytes(),
                mapExtents, mapBytes, mapExtents == 0 ? 0 : (double) mapBytes / mapExtents, chunkCount, dirtyExtents,
                backpressureWaits.sum(), readHist.sumNanos(), writeHist.sumNanos(), flushHist.sumNanos(), lastError,
                readHist, writeHist, flushHist, wal.syncLatency(), d.blocks.sum(), wal.sparesFilled(), d.regionsNoted(), wal.sparesLacked());
    }
}
