package io.viperblock.cli;

import io.viperblock.core.format.Formats;
import io.viperblock.core.volume.Volume;
import io.viperblock.core.volume.VolumeManager;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code vblock import FILE VOLUME}: copies a disk image into a volume. Raw images are read here,
 * sparsely; qcow2 and vmdk go through {@code qemu-img convert -n} into the volume served on a
 * private Unix socket.
 */
@Command(name = "import", mixinStandardHelpOptions = true,
        description = "Copy a disk image (raw, qcow2, vmdk) into a volume; zero blocks stay holes.")
final class ImportImage extends Vblock.Base {
    enum Format { raw, qcow2, vmdk, auto }

    @Parameters(index = "0", paramLabel = "FILE", description = "the image to read")
    Path file;
    @Parameters(index = "1", paramLabel = "VOLUME")
    String name;
    @Option(names = "--format", paramLabel = "FORMAT", defaultValue = "auto",
            description = "raw, qcow2, vmdk, or auto: qcow2/vmdk by their magic bytes, else raw (default: ${DEFAULT-VALUE})")
    Format format;
    @Option(names = "--create", description = "create the volume with the image's virtual size (rounded up to 4 KiB)")
    boolean create;

    @Override
    public Integer call() throws Exception {
        if (!Files.isRegularFile(file) || !Files.isReadable(file)) {
            throw new IOException("cannot read the image " + file + ": " + (Files.exists(file) ? "not a readable file" : "no such file"));
        }
        Format f = format == Format.auto ? detect(file) : format;
        long imageSize = f == Format.raw ? Files.size(file) : QemuImg.virtualSize(file, f.name());
        VolumeManager m = common.manager();
        if (create) {
            long rounded = Math.max(Formats.BLOCK_SIZE, (imageSize + Formats.BLOCK_SIZE - 1) / Formats.BLOCK_SIZE * Formats.BLOCK_SIZE);
            m.create(name, rounded);
        }
        long volumeSize = m.describe(name).size();
        if (imageSize > volumeSize) {
            throw new IOException("the image " + file + " is " + imageSize + " bytes, larger than volume " + name + " (" + volumeSize
                    + " bytes); nothing was written. Grow the volume first: vblock resize " + name + " --size " + imageSize);
        }
        Progress progress = new Progress("import " + file.getFileName());
        long holes;
        try {
            holes = copy(m, f, imageSize, volumeSize, progress);
        } catch (IOException | RuntimeException e) {
            if (create) { // the volume this import made holds part of the image only: do not leave it behind
                try {
                    m.delete(name);
                } catch (IOException d) {
                    e.addSuppressed(d);
                }
            }
            throw e;
        }
        progress.finish();
        double mbps = progress.mbPerSecond();
        common.print(Vblock.doc("file", file.toString(), "volume", name, "format", f.name(), "bytes", imageSize, "holes", holes,
                        "seconds", progress.seconds(), "mbPerSecond", mbps),
                String.format("imported %s (%s) into %s: %d bytes, %d in holes skipped, in %.2f s (%.1f MB/s)", file, f, name, imageSize,
                        holes, progress.seconds(), mbps));
        return 0;
    }

    /** Copies the image into the volume and closes it (everything goes into the store); returns the bytes in holes. */
    private long copy(VolumeManager m, Format f, long imageSize, long volumeSize, Progress progress) throws IOException {
        long holes;
        try (Volume v = m.open(name)) {
            if (f == Format.raw) {
                holes = RawImage.importInto(file, v, create, progress).holes();
            } else {
                List<String> args = new java.util.ArrayList<>(List.of("convert", "-n", "-f", f.name(), "-O", "raw"));
                if (create) {
                    args.add("--target-is-zero");
                }
                args.addAll(List.of(file.toString(), "{NBD}"));
                QemuImg.withVolume(v, args, System.console() != null && !common.json);
                progress.advance(imageSize);
                holes = RawImage.holes(v, Math.min(volumeSize, (imageSize + Formats.BLOCK_SIZE - 1) / Formats.BLOCK_SIZE * Formats.BLOCK_SIZE));
            }
        }
        return holes;
    }

    /** qcow2 ("QFI\xfb"), vmdk (sparse extent "KDMV" or a text descriptor), else raw. */
    static Format detect(Path file) throws IOException {
        byte[] head = new byte[64];
        int n;
        try (InputStream in = Files.newInputStream(file)) {
            n = in.readNBytes(head, 0, head.length);
        }
        if (n >= 4 && head[0] == 'Q' && head[1] == 'F' && head[2] == 'I' && (head[3] & 0xff) == 0xfb) {
            return Format.qcow2;
        }
        if (n >= 4 && head[0] == 'K' && head[1] == 'D' && head[2] == 'M' && head[3] == 'V') {
            return Format.vmdk;
        }
        if (new String(head, 0, n, StandardCharsets.ISO_8859_1).startsWith("# Disk DescriptorFile")) {
            return Format.vmdk;
        }
        return Format.raw;
    }
}
