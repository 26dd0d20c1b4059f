package io.viperblock.core.volume;

/**
 * What {@link VolumeManager#inspect} found, read without taking the lease (so it works while the
 * volume is served elsewhere; a volume being written may have moved on by the time it returns).
 * Immutable.
 *
 * @param lease               the lease in force, or null if the volume was never opened
 * @param storedBytes         bytes of the volume the block map points at (data in chunks)
 * @param pendingWriteBytes   bytes this node's WAL writes that the map does not cover yet
 * @param allocatedBytes      bytes that hold data once the pending WAL on this node is applied
 *                            over the map: stored, plus pending writes, minus pending trims and zeroings
 * @param chunkObjects        chunk objects in the store (including ones no longer referenced)
 * @param mapChunks           chunks the block map refers to
 * @param mapExtents          extents of the block map
 * @param pendingWalRecords   WAL records on this node not yet in the map
 * @param pendingWalBytes     their bytes in the WAL (headers and payloads)
 * @param mapProblem          why the map could not be read (then the map figures are 0), or null
 */
public record VolumeInspection(VolumeMeta meta, Lease.Info lease, long storedBytes, long pendingWriteBytes, long allocatedBytes,
        long chunkObjects, int mapChunks, long mapExtents, long pendingWalRecords, long pendingWalBytes, String mapProblem) {

    /** True if a writer holds the lease now. */
    public boolean open() {
        return lease != null && !lease.released();
    }
}
