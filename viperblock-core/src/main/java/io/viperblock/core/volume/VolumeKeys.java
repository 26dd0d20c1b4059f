package io.viperblock.core.volume;

import io.viperblock.core.format.Formats;
import io.viperblock.core.store.ObjectKeys;

/** The object keys of one volume, bound to its name (the layouts are in {@link Formats}). Immutable. */
public record VolumeKeys(String volume) {
    public static final String ROOT = "volumes/";

    public VolumeKeys {
        ObjectKeys.checkName("volume", volume);
    }

    public String prefix() { return Formats.volumePrefix(volume); }
    public String meta() { return Formats.volumeJsonKey(volume); }
    public String leasePrefix() { return Formats.leasePrefix(volume); }
    public String lease(long epoch) { return Formats.leaseKey(volume, epoch); }
    public String chunkPrefix() { return Formats.chunksPrefix(volume); }
    public String chunk(long chunkSeq) { return Formats.chunkKey(volume, chunkSeq); }
    public String mapPrefix() { return Formats.mapPrefix(volume); }
    public String delta(long seq) { return Formats.deltaKey(volume, seq); }
    public String checkpoint(long seq) { return Formats.checkpointKey(volume, seq); }
}
