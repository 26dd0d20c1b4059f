package io.viperblock.sfs;

import io.viperblock.cli.StoreUri;
import io.viperblock.core.format.FlatJson;
import io.viperblock.core.volume.VolumeManager;
import io.viperblock.s3.S3Config;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Stream;
import picocli.CommandLine.Option;

/**
 * Which volume an sfs command works on, and where it lives: its name, the store ({@code -btype}:
 * a directory under {@code -voldata}, memory, or S3) and the local data directory (WAL, node id).
 * A {@code -vbstate} file records these after a run, so later runs need only that file.
 * Immutable once resolved.
 */
record Target(String volume, String btype, String store, Path data) {
    static final String DEFAULT_DATA = "sfs-data";

    /** The options that say where the volume is; every sfs command takes them. */
    static final class Options {
        @Option(names = {"-vol", "--vol"}, paramLabel = "NAME", description = "volume name: 1-128 of A-Z a-z 0-9 . _ -")
        String vol;

        @Option(names = {"-btype", "--btype"}, paramLabel = "TYPE", description = "where the volume's chunks go: file (under -voldata), memory, s3 (default file)")
        String btype;

        @Option(names = {"-voldata", "--voldata"}, paramLabel = "DIR", description = "local data directory: WAL and node id, and the store for -btype file (default "
                + DEFAULT_DATA + ")")
        Path voldata;

        @Option(names = {"-vbstate", "--vbstate"}, paramLabel = "FILE", description = "JSON file recording the volume, store and data directory; read if it exists, written after a run")
        Path vbstate;

        @Option(names = {"-bucket", "--bucket"}, paramLabel = "BUCKET", description = "S3 bucket for -btype s3 (default: $AWS_BUCKET)")
        String bucket;

        @Option(names = {"-prefix", "--prefix"}, paramLabel = "PREFIX", description = "S3 key prefix for -btype s3 (default: none)")
        String prefix;

        @Option(names = {"-debug", "--debug"}, description = "print stack traces of errors")
        boolean debug;

        /** These options, with those the user left out taken from {@code outer} (given before the subcommand). */
        Options or(Options outer) {
            Options o = new Options();
            o.vol = vol != null ? vol : outer.vol;
            o.btype = btype != null ? btype : outer.btype;
            o.voldata = voldata != null ? voldata : outer.voldata;
            o.vbstate = vbstate != null ? vbstate : outer.vbstate;
            o.bucket = bucket != null ? bucket : outer.bucket;
            o.prefix = prefix != null ? prefix : outer.prefix;
            o.debug = debug || outer.debug;
            return o;
        }

        /** The target: the flags, and what the -vbstate file records for those left out (a flag that contradicts it is refused). */
        Target resolve(Map<String, String> env) throws IOException {
            Map<String, Object> state = vbstate != null && Files.exists(vbstate) ? read(vbstate) : Map.of();
            String b = pick("-btype", btype, state.get("btype"), "file");
            if (!b.equals("file") && !b.equals("memory") && !b.equals("s3")) {
                throw new IllegalArgumentException("unknown -btype \"" + b + "\": use file, memory or s3");
            }
            if (b.equals("memory") && vbstate != null) {
                throw new IllegalArgumentException("-btype memory keeps the volume only while sfs runs, so there is nothing for -vbstate to record; leave -vbstate out");
            }
            String name = pick("-vol", vol, state.get("volume"), null);
            if (name == null) {
                throw new IllegalArgumentException("no volume given: use -vol NAME (or -vbstate FILE written by an earlier run)");
            }
            String dataText = pick("-voldata", voldata == null ? null : voldata.toAbsolutePath().normalize().toString(),
                    state.get("data"), Path.of(DEFAULT_DATA).toAbsolutePath().toString());
            Path data = Path.of(dataText);
            String store = switch (b) {
                case "file" -> "file:" + data.resolve("store");
                case "memory" -> "mem:";
                default -> {
                    boolean fromState = bucket == null && prefix == null && state.get("store") instanceof String s && s.startsWith("s3://");
                    S3Config c = S3Config.fromUri(fromState ? (String) state.get("store")
                            : "s3://" + (bucket == null ? "" : bucket) + "/" + (prefix == null ? "" : prefix), env);
                    yield "s3://" + c.bucket() + "/" + c.prefix();
                }
            };
            if (state.get("store") != null && !store.equals(state.get("store"))) {
                throw new IllegalArgumentException("these options name the store " + store + ", but " + vbstate + " records the volume in "
                        + state.get("store") + ": leave -btype, -voldata, -bucket and -prefix out, or give another -vbstate file");
            }
            return new Target(name, b, store, data);
        }

        private String pick(String flag, String given, Object recorded, String fallback) {
            if (given != null && recorded != null && !given.equals(recorded)) {
                throw new IllegalArgumentException(flag + " " + given + " differs from " + recorded + " recorded in " + vbstate
                        + ": leave " + flag + " out, or give another -vbstate file");
            }
            return given != null ? given : recorded != null ? recorded.toString() : fallback;
        }
    }

    private static Map<String, Object> read(Path file) throws IOException {
        Map<String, Object> m = FlatJson.parse(Files.readString(file, StandardCharsets.UTF_8), file.toString());
        if (!Objects.equals(m.get("formatVersion"), 1L) || !(m.get("volume") instanceof String) || !(m.get("btype") instanceof String)
                || !(m.get("store") instanceof String) || !(m.get("data") instanceof String)) {
            throw new SfsException(file + " is not an sfs -vbstate file (it needs formatVersion 1, volume, btype, store and data)");
        }
        return m;
    }

    /** Writes the -vbstate file (atomically: a temporary file renamed over it). */
    void record(Path file, long size) throws IOException {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("formatVersion", 1);
        m.put("volume", volume);
        m.put("size", size);
        m.put("btype", btype);
        m.put("store", store);
        m.put("data", data.toString());
        writeAtomically(file, FlatJson.write(m));
    }

    static void writeAtomically(Path file, String text) throws IOException {
        Path abs = file.toAbsolutePath();
        Files.createDirectories(abs.getParent());
        Path tmp = Files.createTempFile(abs.getParent(), abs.getFileName() + ".", ".tmp");
        try {
            Files.writeString(tmp, text, StandardCharsets.UTF_8);
            Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** The volume manager of this target; a memory target gets a temporary data directory, deleted on close. */
    Session open() throws IOException {
        if (btype.equals("memory")) {
            Path tmp = Files.createTempDirectory("sfs-memory-");
            return new Session(new VolumeManager(StoreUri.open(store), tmp), tmp);
        }
        return new Session(new VolumeManager(StoreUri.open(store), data), null);
    }

    /** A volume manager, and the temporary directory to remove with it (or null). */
    record Session(VolumeManager manager, Path temporary) implements AutoCloseable {
        @Override
        public void close() throws IOException {
            if (temporary == null) {
                return;
            }
            try (Stream<Path> walk = Files.walk(temporary)) {
                for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }
}
