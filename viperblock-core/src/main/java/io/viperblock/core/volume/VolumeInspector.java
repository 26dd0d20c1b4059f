package io.viperblock.core.volume;

import io.viperblock.core.format.CorruptFormatException;
import io.viperblock.core.format.Formats;
import io.viperblock.core.format.WalRecord;
import io.viperblock.core.io.Fs;
import io.viperblock.core.map.BlockMap;
import io.viperblock.core.map.ExtentMap;
import io.viperblock.core.store.NoSuchObjectException;
import io.viperblock.core.store.ObjectStore;
import io.viperblock.core.wal.WalReplay;
import java.io.IOException;
import java.nio.file.Path;

/**
 * Reads a volume's state without changing anything: no lease, no lock, no WAL truncation. The map
 * is loaded from the store the way open loads it; this node's WAL segments are scanned up to the
 * first bad record (a writer may be appending to the last one right now).
 *
 * <p>Stateless; safe from any thread.
 */
final class VolumeInspector {
    private static final int BLOCK = Formats.BLOCK_SIZE;

    private VolumeInspector() {}

    static VolumeInspection inspect(ObjectStore store, VolumeKeys keys, VolumeMeta meta, Fs fs, Path walDir) throws IOException {
        Lease.Info lease = Lease.current(store, keys);
        long chunkObjects = store.list(keys.chunkPrefix()).size();
        BlockMap map = null;
        String mapProblem = null;
        try {
            map = VolumeCheck.loadMap(store, keys);
        } catch (NoSuchObjectException | CorruptFormatException e) {
            mapProblem = e.getMessage();
        }
        ExtentMap combined = map == null ? new ExtentMap(1) : map.extents().copy();
        long covered = map == null ? 0 : map.walCoveredSeq();
        long[] pending = new long[3]; // records, WAL bytes, written bytes
        // the segments as open would read them; damage is check's to report, not info's
        WalReplay.check(fs, walDir, meta.id(), covered, (type, seq, first, count, payloadPos, length) -> {
            if (seq <= covered) {
                return;
            }
            pending[0]++;
            pending[1] += length;
            if (type == WalRecord.WRITE) {
                combined.put(first, count, 1, 0);
                pending[2] += (long) count * BLOCK;
            } else {
                combined.remove(first, count);
            }
        });
        long stored = map == null ? 0 : map.extents().mappedBlocks() * BLOCK;
        return new VolumeInspection(meta, lease, stored, pending[2], combined.mappedBlocks() * BLOCK, chunkObjects,
                map == null ? 0 : map.chunkCount(), map == null ? 0 : map.extents().extentCount(), pending[0], pending[1],
                map == null ? mapProblem : null);
    }
}
