package io.viperblock.cli;

import io.viperblock.core.volume.Volume;
import io.viperblock.core.volume.VolumeStats;
import picocli.CommandLine.Command;

/**
 * {@code vblock drain VOLUME}: opens the volume (replaying this node's WAL), consolidates
 * everything pending into the store, reports what moved, and closes it.
 */
@Command(name = "drain", mixinStandardHelpOptions = true,
        description = "Move everything pending in this node's WAL for a volume into the store, then close it.")
final class Drain extends Vblock.OnVolume {

    @Override
    public Integer call() throws Exception {
        long started = System.nanoTime();
        long records;
        long walBytes;
        VolumeStats after;
        try (Volume v = common.manager().open(name)) {
            records = v.recovered().walRecords();
            walBytes = v.recovered().walBytes();
            v.drain();
            after = v.stats(); // counts from open: the background consolidator may have started first
        }
        double seconds = (System.nanoTime() - started) / 1e9;
        common.print(Vblock.doc("name", name, "walRecords", records, "walBytes", walBytes, "chunks", after.chunksWritten(),
                        "chunkBytes", after.chunkBytesWritten(), "seconds", seconds),
                String.format("drained %s: %d WAL records (%d bytes) moved into %d chunks (%d bytes) in %.2f s", name, records, walBytes,
                        after.chunksWritten(), after.chunkBytesWritten(), seconds));
        return 0;
    }
}
