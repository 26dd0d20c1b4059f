package io.viperblock.core.volume;

import io.viperblock.core.format.Formats;
import io.viperblock.core.store.ObjectKeys;

/** The object keys of one volume (docs/FORMATS.md lists them). Immutable. */
public record VolumeKeys(String volume) {
    public static final String ROOT = "volumes/";

    public VolumeKeys {
        ObjectKeys.checkName("volume", volume);
    }

    public String prefix() { return ROOT + volume + "/"; }
    public String meta() { return prefix() + "volume.json"; }
    public String leasePrefix() { return prefix() + "lease/"; }
    public String lease(long epoch) { return leasePrefix() + Formats.seqName(epoch); }
    public String chunkPrefix() { return prefix() + "chunks/"; }
    public String chunk(long chunkSeq) { return chunkPrefix() + Formats.seqName(chunkSeq); }
    public String mapPrefix() { return prefix() + "map/"; }
    public String delta(long seq) { return mapPrefix() + Formats.seqName(seq) + ".delta"; }
    public String checkpoint(long seq) { return mapPrefix() + Formats.seqName(seq) + ".ckpt"; }

    /** The sequence number in a chunk, delta, checkpoint or lease key (its last segment up to a dot). */
    public static long seqOf(String key) {
        String last = key.substring(key.lastIndexOf('/') + 1);
        int dot = last.indexOf('.');
        return Formats.parseSeqName(dot < 0 ? last : last.substring(0, dot));
    }
}
