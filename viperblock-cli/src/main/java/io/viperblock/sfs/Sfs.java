package io.viperblock.sfs;

import io.viperblock.cli.Sizes;
import io.viperblock.core.format.FlatJson;
import io.viperblock.core.volume.Volume;
import io.viperblock.core.volume.VolumeExistsException;
import io.viperblock.core.volume.VolumeManager;
import io.viperblock.core.volume.VolumeNotFoundException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/**
 * {@code sfs}: the simple file system demonstration. Stores every regular file of a directory in
 * a volume, under its own allocation table ({@link SfsTable}, in the volume itself and mirrored
 * in the {@code -sfsstate} file), reads each back and checks its SHA-256; {@code ls} lists the
 * files and {@code get} extracts one. Exit codes: 0 success, 1 failure, 2 usage error; errors are
 * one line on stderr, {@code --debug} adds the stack trace.
 */
@Command(name = "sfs", mixinStandardHelpOptions = true, version = "sfs 0.1.0",
        description = {"Store a directory's files in a Viperblock volume and verify them by SHA-256.",
            "S3 settings come from AWS_ENDPOINT_URL (or AWS_HOST), AWS_REGION, AWS_ACCESS_KEY_ID (or AWS_ACCESS_KEY),"
                    + " AWS_SECRET_ACCESS_KEY (or AWS_SECRET_KEY) and AWS_BUCKET."},
        subcommands = {Sfs.Ls.class, Sfs.Get.class})
public final class Sfs implements Callable<Integer> {
    @Mixin
    Target.Options where = new Target.Options();

    @Option(names = {"-dir", "--dir"}, paramLabel = "DIR", description = "directory whose files to store")
    Path dir;

    @Option(names = {"-size", "--size"}, paramLabel = "BYTES", defaultValue = "524288",
            description = "volume size for -createvol (and -btype memory), in bytes or with K, M, G; a multiple of 4096 (default ${DEFAULT-VALUE})")
    String size;

    @Option(names = {"-createvol", "--createvol"}, description = "create the volume first (it must not exist)")
    boolean createvol;

    @Option(names = {"-sfsstate", "--sfsstate"}, paramLabel = "FILE", description = "JSON file to write the table to after the upload")
    Path sfsstate;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        if (dir == null) {
            throw new CommandLine.ParameterException(spec.commandLine(), "give -dir DIR to store a directory, or a command: ls, get");
        }
        long bytes = Sizes.parse(size);
        List<Upload.Source> files = Upload.scan(dir);
        Target t = where.resolve(System.getenv());
        try (Target.Session s = t.open()) {
            VolumeManager m = s.manager();
            if (createvol || t.btype().equals("memory")) {
                try {
                    m.create(t.volume(), bytes);
                } catch (VolumeExistsException e) {
                    throw new SfsException(e.getMessage() + "; leave out -createvol to add files to it");
                }
            }
            try (Volume v = open(m, t)) {
                if (where.vbstate != null) {
                    t.record(where.vbstate, v.size());
                }
                Upload.Result r = Upload.run(v, files);
                if (sfsstate != null) {
                    Target.writeAtomically(sfsstate, stateJson(t, r.table()));
                }
                summary(v, r);
            }
        }
        return 0;
    }

    private static void summary(Volume v, Upload.Result r) {
        System.out.printf(Locale.ROOT, "stored %d files (%d bytes) in volume \"%s\" in %.3f s: %.1f MB/s (written, flushed and drained to the store)%n",
                r.files(), r.bytes(), v.name(), r.storeNanos() / 1e9, rate(r.bytes(), r.storeNanos()));
        System.out.printf(Locale.ROOT, "verified %d files by SHA-256, read back from the store, in %.3f s: %.1f MB/s%n",
                r.files(), r.verifyNanos() / 1e9, rate(r.bytes(), r.verifyNanos()));
        SfsTable t = r.table();
        System.out.printf(Locale.ROOT, "volume \"%s\" now holds %d files (%d bytes) of %d bytes; table generation %d%n",
                v.name(), t.entries().size(), t.bytesStored(), v.size(), t.generation());
    }

    private static double rate(long bytes, long nanos) {
        return nanos <= 0 ? 0 : bytes / 1e6 / (nanos / 1e9);
    }

    /** The -sfsstate file: the table in force, one file per line. */
    static String stateJson(Target t, SfsTable table) {
        StringBuilder b = new StringBuilder("{\n  \"volume\": ");
        FlatJson.quote(b, t.volume());
        b.append(",\n  \"store\": ");
        FlatJson.quote(b, t.store());
        b.append(",\n  \"generation\": ").append(table.generation()).append(",\n  \"files\": [");
        String sep = "\n";
        for (SfsEntry e : table.entries()) {
            b.append(sep).append("    {\"path\": ");
            FlatJson.quote(b, e.path());
            b.append(", \"offset\": ").append(e.offset()).append(", \"length\": ").append(e.length())
                    .append(", \"sha256\": \"").append(e.sha256()).append("\"}");
            sep = ",\n";
        }
        return b.append(table.entries().isEmpty() ? "]\n}\n" : "\n  ]\n}\n").toString();
    }

    /** Opens the target's volume; a missing one gets a hint. */
    static Volume open(VolumeManager m, Target t) throws IOException {
        try {
            return m.open(t.volume());
        } catch (VolumeNotFoundException e) {
            throw new SfsException(e.getMessage() + "; add -createvol (and -size BYTES) to create it");
        }
    }

    /** ls and get: open the volume (memory volumes do not outlive a run) and use its table. */
    abstract static class TableCommand implements Callable<Integer> {
        @Mixin
        Target.Options where = new Target.Options();
        @ParentCommand
        Sfs parent;

        abstract void use(Volume v, SfsTable table) throws IOException;

        @Override
        public Integer call() throws IOException {
            Target t = where.or(parent.where).resolve(System.getenv());
            if (t.btype().equals("memory")) {
                throw new IllegalArgumentException("a -btype memory volume lasts only while sfs stores it; ls and get need -btype file or s3");
            }
            try (Target.Session s = t.open(); Volume v = open(s.manager(), t)) {
                use(v, SfsTable.load(v));
            }
            return 0;
        }
    }

    @Command(name = "ls", mixinStandardHelpOptions = true, description = "List the stored files: size in bytes, SHA-256, path.")
    static final class Ls extends TableCommand {
        @Override
        void use(Volume v, SfsTable table) {
            for (SfsEntry e : table.entries()) {
                System.out.printf("%12d  %s  %s%n", e.length(), e.sha256(), e.path());
            }
        }
    }

    @Command(name = "get", mixinStandardHelpOptions = true, description = "Extract one stored file, checking its SHA-256.")
    static final class Get extends TableCommand {
        @Parameters(index = "0", paramLabel = "NAME", description = "the file's path as ls shows it")
        String name;
        @Parameters(index = "1", paramLabel = "OUT", description = "where to write it (a directory: the file keeps its name)")
        Path out;

        @Override
        void use(Volume v, SfsTable table) throws IOException {
            SfsEntry e = table.find(name);
            if (e == null) {
                throw new SfsException("volume \"" + v.name() + "\" holds no file \"" + name + "\"; sfs ls lists its files");
            }
            Path target = Files.isDirectory(out) ? out.resolve(Path.of(e.path()).getFileName().toString()) : out;
            Path abs = target.toAbsolutePath();
            if (!Files.isDirectory(abs.getParent())) {
                throw new IllegalArgumentException("cannot write " + target + ": the directory " + abs.getParent() + " does not exist");
            }
            Path tmp = Files.createTempFile(abs.getParent(), abs.getFileName() + ".", ".tmp");
            try {
                String got;
                try (OutputStream os = Files.newOutputStream(tmp)) {
                    got = SfsFiles.copyOut(v, e, os);
                }
                if (!got.equals(e.sha256())) {
                    throw SfsFiles.mismatch(v, e, got);
                }
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } finally {
                Files.deleteIfExists(tmp);
            }
            System.out.println("extracted " + e.path() + " (" + e.length() + " bytes, SHA-256 " + e.sha256() + " verified) to " + target);
        }
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs a command line and returns the exit code. */
    public static int run(String... args) {
        CommandLine cl = new CommandLine(new Sfs());
        boolean debug = Arrays.asList(args).contains("--debug") || Arrays.asList(args).contains("-debug");
        cl.setParameterExceptionHandler((e, a) -> {
            e.getCommandLine().getErr().println("sfs: " + e.getMessage() + " (sfs --help lists the options)");
            return 2;
        });
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println("sfs: " + (e.getMessage() == null ? e.toString() : e.getMessage()));
            if (debug) {
                e.printStackTrace(cmd.getErr());
            }
            return e instanceof IllegalArgumentException ? 2 : 1;
        });
        return cl.execute(args);
    }
}
