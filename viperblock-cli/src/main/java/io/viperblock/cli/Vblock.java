package io.viperblock.cli;

import io.viperblock.core.store.ObjectStore;
import io.viperblock.core.volume.Lease;
import io.viperblock.core.volume.VolumeInspection;
import io.viperblock.core.volume.VolumeManager;
import io.viperblock.core.volume.VolumeMeta;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code vblock}: volume management. Exit codes: 0 success, 1 failure, 2 usage error. Errors are
 * one line on stderr; {@code --debug} adds the stack trace.
 */
@Command(name = "vblock", mixinStandardHelpOptions = true, version = "vblock 0.1.0",
        description = "Manage Viperblock volumes.",
        subcommands = {Vblock.Create.class, Vblock.ListVolumes.class, Vblock.Info.class, Vblock.Delete.class, Resize.class, Drain.class,
                ImportImage.class, ExportImage.class, Check.class, Serve.class})
public final class Vblock implements Callable<Integer> {

    /** Options every command takes. */
    static class Common {
        @Option(names = "--data", paramLabel = "DIR", description = "local data directory: WAL and node id (default: ${DEFAULT-VALUE})",
                defaultValue = "${env:VB_DATA:-data/node}")
        Path data;

        @Option(names = "--store", paramLabel = "URI", description = "object store: file:/path, s3://bucket/prefix (AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE) or mem: (default: ${DEFAULT-VALUE})",
                defaultValue = "${env:VB_STORE:-file:data/store}")
        String store;

        @Option(names = "--debug", description = "print stack traces of errors")
        boolean debug;

        @Option(names = "--json", description = "machine-readable output: one JSON document on stdout")
        boolean json;

        @Option(names = "--log-format", paramLabel = "FORMAT", defaultValue = "text",
                description = "log lines on stderr as text or json (one object per line; default: ${DEFAULT-VALUE})")
        Logging.Format logFormat;

        VolumeManager manager() throws Exception {
            ObjectStore s = StoreUri.open(store);
            return new VolumeManager(s, data);
        }

        /** Prints the command's result: {@code doc} as JSON with --json, else {@code text}. */
        void print(Map<String, ?> doc, String text) {
            System.out.println(json ? Json.write(doc) : text);
        }
    }

    /** A command with the common options (the logging set-up reads them before it runs). */
    interface HasCommon {
        Common common();
    }

    /** A command with the common options. */
    abstract static class Base implements Callable<Integer>, HasCommon {
        @CommandLine.Mixin
        Common common = new Common();

        @Override
        public Common common() { return common; }
    }

    /** A command on one volume, named by its only parameter. */
    abstract static class OnVolume extends Base {
        @Parameters(paramLabel = "VOLUME", description = "the volume's name")
        String name;
    }

    /** A JSON object in the order its members are given: key, value, key, value, ... */
    static Map<String, Object> doc(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    @Override
    public Integer call() {
        CommandLine.usage(this, System.out);
        return 2;
    }

    @Command(name = "create", mixinStandardHelpOptions = true, description = "Create a volume.")
    static final class Create extends Base {
        @Parameters(paramLabel = "VOLUME", description = "volume name: 1-128 of A-Z a-z 0-9 . _ -")
        String name;
        @Option(names = "--size", required = true, paramLabel = "SIZE", description = "bytes, or with K, M, G, T (e.g. 10G)")
        String size;

        @Override
        public Integer call() throws Exception {
            long bytes = Sizes.parse(size);
            VolumeMeta m = common.manager().create(name, bytes);
            common.print(doc("name", m.name(), "id", m.id().toString(), "size", m.size(), "created", m.created().toString()),
                    "created volume " + m.name() + " (" + m.size() + " bytes) in " + common.store);
            return 0;
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List the volumes of a store.")
    static final class ListVolumes extends Base {
        @Override
        public Integer call() throws Exception {
            VolumeManager m = common.manager();
            List<Object> volumes = new ArrayList<>();
            StringBuilder text = new StringBuilder();
            for (String n : m.list()) {
                VolumeMeta meta = m.describe(n);
                volumes.add(doc("name", n, "size", meta.size(), "created", meta.created().toString()));
                text.append(String.format("%-32s %16d%n", n, meta.size()));
            }
            if (common.json) {
                common.print(doc("volumes", volumes), null);
            } else {
                System.out.print(text);
            }
            return 0;
        }
    }

    @Command(name = "info", mixinStandardHelpOptions = true,
            description = "Show a volume's size, allocation, chunks, pending WAL and lease (read-only: works while it is served elsewhere).")
    static final class Info extends OnVolume {
        @Override
        public Integer call() throws Exception {
            VolumeInspection in = common.manager().inspect(name);
            VolumeMeta meta = in.meta();
            Lease.Info lease = in.lease();
            Map<String, Object> leaseDoc = lease == null ? null : doc("holder", lease.holder(), "pid", lease.pid(), "epoch", lease.epoch(),
                    "since", lease.since().toString(), "released", lease.released());
            common.print(doc("name", meta.name(), "id", meta.id().toString(), "size", meta.size(), "blockSize", meta.blockSize(),
                    "allocatedBytes", in.allocatedBytes(), "storedBytes", in.storedBytes(), "pendingWriteBytes", in.pendingWriteBytes(),
                    "chunks", in.chunkObjects(), "mapChunks", in.mapChunks(), "mapExtents", in.mapExtents(),
                    "pendingWalBytes", in.pendingWalBytes(), "pendingWalRecords", in.pendingWalRecords(), "open", in.open(),
                    "lease", leaseDoc, "created", meta.created().toString(), "state", meta.state(), "parent", meta.parent(),
                    "mapProblem", in.mapProblem()),
                    "name:        " + meta.name()
                    + "\nid:          " + meta.id()
                    + "\nsize:        " + meta.size() + " (" + Sizes.human(meta.size()) + ")"
                    + "\nallocated:   " + in.allocatedBytes() + " (" + in.storedBytes() + " in the store, " + in.pendingWriteBytes()
                            + " written to this node's WAL and not consolidated yet)"
                    + "\nchunks:      " + in.chunkObjects() + " (the map uses " + in.mapChunks() + ", in " + in.mapExtents() + " extents)"
                    + (in.mapProblem() == null ? "" : "\nmap:         unreadable: " + in.mapProblem())
                    + "\npending WAL: " + in.pendingWalBytes() + " bytes in " + in.pendingWalRecords() + " records on this node"
                    + "\nlease:       " + (lease == null ? "not open (never opened)"
                            : lease.released() ? "not open (last epoch " + lease.epoch() + ", released)"
                            : "held by " + lease.holder() + " (pid " + lease.pid() + "), epoch " + lease.epoch() + ", since " + lease.since())
                    + "\ncreated:     " + meta.created()
                    + "\nparent:      " + (meta.parent() == null ? "none" : meta.parent()));
            return 0;
        }
    }

    @Command(name = "delete", mixinStandardHelpOptions = true, description = "Delete a volume and its data (refused while it is open).")
    static final class Delete extends OnVolume {
        @Override
        public Integer call() throws Exception {
            common.manager().delete(name);
            common.print(doc("deleted", name), "deleted volume " + name);
            return 0;
        }
    }

    public static void main(String[] args) {
        carriersForFileIo();
        System.exit(run(args));
    }

    /** Carrier threads of the virtual-thread scheduler, unless {@code -D} sets their number. */
    static final int CARRIERS = 16;

    /**
     * Sets the number of carrier threads for the virtual threads that serve requests. A virtual
     * thread that reads a file (without O_DIRECT) keeps its carrier for the whole system call: the
     * JDK takes such reads for page-cache hits and adds no carrier while they block. With the
     * default of one carrier a core, no more chunk reads than cores were in flight, and cold reads
     * ran at half the speed of qemu-nbd's thread pool. 16 measured best on 2 cores (cold 4k reads
     * 0.52x of qemu-nbd with 2, 0.86x with 16, 0.75x with 32, where 4k writes also lost a quarter:
     * docs/PERFORMANCE.md). Must run before the first virtual thread starts.
     */
    static void carriersForFileIo() {
        String property = "jdk.virtualThreadScheduler.parallelism";
        if (System.getProperty(property) == null) {
            System.setProperty(property, Integer.toString(Math.max(CARRIERS, Runtime.getRuntime().availableProcessors())));
        }
    }

    /** Runs a command line and returns the exit code. */
    public static int run(String... args) {
        CommandLine cl = new CommandLine(new Vblock()).setCaseInsensitiveEnumValuesAllowed(true);
        cl.setExecutionStrategy(parsed -> {
            CommandLine.ParseResult last = parsed;
            while (last.hasSubcommand()) {
                last = last.subcommand();
            }
            if (last.commandSpec().userObject() instanceof HasCommon c) {
                Logging.configure(c.common().logFormat);
            }
            return new CommandLine.RunLast().execute(parsed);
        });
        boolean debug = java.util.Arrays.asList(args).contains("--debug");
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
            if (e instanceof IllegalArgumentException) {
                cmd.getErr().println("vblock: " + e.getMessage());
                if (debug) {
                    e.printStackTrace(cmd.getErr());
                }
                return 2;
            }
            cmd.getErr().println("vblock: " + (e.getMessage() == null ? e.toString() : e.getMessage()));
            if (debug) {
                e.printStackTrace(cmd.getErr());
            }
            return 1;
        });
        return cl.execute(args);
    }
}
