package io.viperblock.cli;

import io.viperblock.core.volume.VolumeManager;
import io.viperblock.core.volume.VolumeMeta;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code vblock resize VOLUME --size SIZE}: grows a volume (never shrinks); refused while it is open anywhere. */
@Command(name = "resize", mixinStandardHelpOptions = true,
        description = "Grow a volume; the new range reads as zeros. Refused while the volume is open anywhere; shrinking is refused.")
final class Resize extends Vblock.OnVolume {
    @Option(names = "--size", required = true, paramLabel = "SIZE", description = "the new size: bytes, or with K, M, G, T (e.g. 20G)")
    String size;

    @Override
    public Integer call() throws Exception {
        long bytes = Sizes.parse(size);
        VolumeManager m = common.manager();
        long old = m.describe(name).size();
        VolumeMeta grown = m.resize(name, bytes);
        common.print(Vblock.doc("name", name, "oldSize", old, "size", grown.size()),
                old == grown.size() ? "volume " + name + " is already " + old + " bytes"
                        : "resized volume " + name + " from " + old + " to " + grown.size() + " bytes (" + Sizes.human(grown.size()) + ")");
        return 0;
    }
}
