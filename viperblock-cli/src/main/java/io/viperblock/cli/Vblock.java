package io.viperblock.cli;

import io.viperblock.core.store.ObjectStore;
import io.viperblock.core.volume.Lease;
import io.viperblock.core.volume.VolumeManager;
import io.viperblock.core.volume.VolumeMeta;
import java.nio.file.Path;
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
        subcommands = {Vblock.Create.class, Vblock.ListVolumes.class, Vblock.Info.class, Vblock.Delete.class, Serve.class})
public final class Vblock implements Callable<Integer> {

    /** Options every command takes. */
    static class Common {
        @Option(names = "--data", paramLabel = "DIR", description = "local data directory: WAL and node id (default: ${DEFAULT-VALUE})",
                defaultValue = "${env:VB_DATA:-data/node}")
        Path data;

        @Option(names = "--store", paramLabel = "URI", description = "object store: file:/path, s3://bucket/prefix (AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) or mem: (default: ${DEFAULT-VALUE})",
                defaultValue = "${env:VB_STORE:-file:data/store}")
        String store;

        @Option(names = "--debug", description = "print stack traces of errors")
        boolean debug;

        VolumeManager manager() throws Exception {
            ObjectStore s = StoreUri.open(store);
            return new VolumeManager(s, data);
        }
    }

    @Override
    public Integer call() {
        CommandLine.usage(this, System.out);
        return 2;
    }

    @Command(name = "create", mixinStandardHelpOptions = true, description = "Create a volume.")
    static final class Create implements Callable<Integer> {
        @CommandLine.Mixin
        Common common = new Common();
        @Parameters(paramLabel = "VOLUME", description = "volume name: 1-128 of A-Z a-z 0-9 . _ -")
        String name;
        @Option(names = "--size", required = true, paramLabel = "SIZE", description = "bytes, or with K, M, G, T (e.g. 10G)")
        String size;

        @Override
        public Integer call() throws Exception {
            long bytes = Sizes.parse(size);
            VolumeMeta m = common.manager().create(name, bytes);
            System.out.println("created volume " + m.name() + " (" + m.size() + " bytes) in " + common.store);
            return 0;
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List the volumes of a store.")
    static final class ListVolumes implements Callable<Integer> {
        @CommandLine.Mixin
        Common common = new Common();

        @Override
        public Integer call() throws Exception {
            VolumeManager m = common.manager();
            for (String n : m.list()) {
                VolumeMeta meta = m.describe(n);
                System.out.printf("%-32s %16d%n", n, meta.size());
            }
            return 0;
        }
    }

    @Command(name = "info", mixinStandardHelpOptions = true, description = "Show a volume's settings and lease.")
    static final class Info implements Callable<Integer> {
        @CommandLine.Mixin
        Common common = new Common();
        @Parameters(paramLabel = "VOLUME")
        String name;

        @Override
        public Integer call() throws Exception {
            VolumeManager m = common.manager();
            VolumeMeta meta = m.describe(name);
            Lease.Info lease = m.lease(name);
            System.out.println("name:       " + meta.name());
            System.out.println("id:         " + meta.id());
            System.out.println("size:       " + meta.size());
            System.out.println("block size: " + meta.blockSize());
            System.out.println("created:    " + meta.created());
            System.out.println("state:      " + meta.state());
            System.out.println("parent:     " + (meta.parent() == null ? "-" : meta.parent()));
            System.out.println("lease:      " + (lease == null ? "never opened"
                    : (lease.released() ? "free" : "held by " + lease.holder() + " (pid " + lease.pid() + ")") + ", epoch " + lease.epoch()
                            + ", since " + lease.since()));
            return 0;
        }
    }

    @Command(name = "delete", mixinStandardHelpOptions = true, description = "Delete a volume and its data (refused while it is open).")
    static final class Delete implements Callable<Integer> {
        @CommandLine.Mixin
        Common common = new Common();
        @Parameters(paramLabel = "VOLUME")
        String name;

        @Override
        public Integer call() throws Exception {
            common.manager().delete(name);
            System.out.println("deleted volume " + name);
            return 0;
        }
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs a command line and returns the exit code. */
    public static int run(String... args) {
        CommandLine cl = new CommandLine(new Vblock());
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
