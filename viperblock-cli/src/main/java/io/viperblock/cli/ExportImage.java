package io.viperblock.cli;

import io.viperblock.core.volume.Volume;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code vblock export VOLUME FILE}: writes a volume to a sparse raw file (holes and zero blocks
 * are not written), or to qcow2 through {@code qemu-img convert} from the volume served on a
 * private Unix socket.
 */
@Command(name = "export", mixinStandardHelpOptions = true,
        description = "Write a volume to a sparse raw file or a qcow2 image (replacing FILE).")
final class ExportImage extends Vblock.Base {
    enum Format { raw, qcow2 }

    @Parameters(index = "0", paramLabel = "VOLUME")
    String name;
    @Parameters(index = "1", paramLabel = "FILE", description = "the image to write")
    Path file;
    @Option(names = "--format", paramLabel = "FORMAT", defaultValue = "raw", description = "raw or qcow2 (default: ${DEFAULT-VALUE})")
    Format format;

    @Override
    public Integer call() throws Exception {
        Progress progress = new Progress("export " + name);
        long size;
        long holes;
        try (Volume v = common.manager().open(name)) {
            size = v.size();
            if (format == Format.raw) {
                holes = RawImage.exportTo(v, file, progress).holes();
            } else {
                holes = RawImage.holes(v, size);
                QemuImg.withVolume(v, List.of("convert", "-f", "raw", "-O", "qcow2", "{NBD}", file.toString()),
                        System.console() != null && !common.json);
                progress.advance(size);
            }
        }
        progress.finish();
        double mbps = progress.mbPerSecond();
        common.print(Vblock.doc("volume", name, "file", file.toString(), "format", format.name(), "bytes", size, "holes", holes,
                        "seconds", progress.seconds(), "mbPerSecond", mbps),
                String.format("exported %s to %s (%s): %d bytes, %d in holes skipped, in %.2f s (%.1f MB/s)", name, file, format, size, holes,
                        progress.seconds(), mbps));
        return 0;
    }
}
