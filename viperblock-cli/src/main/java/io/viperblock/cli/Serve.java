package io.viperblock.cli;

import io.viperblock.cli.metrics.MetricsServer;
import io.viperblock.cli.metrics.ServeMetrics;
import io.viperblock.core.io.NioFs;
import io.viperblock.core.store.MeteredStore;
import io.viperblock.core.volume.Volume;
import io.viperblock.core.volume.VolumeConfig;
import io.viperblock.core.volume.VolumeManager;
import io.viperblock.nbd.server.NbdServer;
import io.viperblock.nbd.server.NbdServerConfig;
import io.viperblock.nbd.server.VolumeExports;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code vblock serve}: exports volumes over NBD until SIGTERM/SIGINT, then stops accepting,
 * lets requests in flight answer, and closes the volumes (which drains them to the store and
 * releases their leases).
 */
@Command(name = "serve", mixinStandardHelpOptions = true, description = "Serve volumes over NBD (export name = volume name).")
final class Serve extends Vblock.Base {
    @Option(names = "--listen", paramLabel = "HOST:PORT", defaultValue = "127.0.0.1:10809",
            description = "TCP address to listen on (default: ${DEFAULT-VALUE}); port 0 picks a free one")
    String listen;

    @Option(names = "--socket", paramLabel = "PATH", description = "also listen on this Unix socket")
    Path socket;

    @Option(names = "--no-tcp", description = "listen only on the Unix socket")
    boolean noTcp;

    @Option(names = "--force-takeover", description = "open the volumes even while another node holds them: that node is fenced (it stops writing to the store at its next consolidation) and its writes not yet in the store are lost; only for a node that is gone")
    boolean forceTakeover;

    @Option(names = "--metrics", paramLabel = "HOST:PORT",
            description = "serve Prometheus metrics at http://HOST:PORT/metrics; port 0 picks a free one")
    String metricsAt;

    @Option(names = "--wal-keep", paramLabel = "SIZE",
            description = "consolidated WAL kept on this node's disk per volume, so reads of recent writes find them in the page cache "
                    + "(default 4G; 0 keeps none); it gives way whenever the WAL's disk has less than 1G free")
    String walKeep;

    @Option(names = {"--no-idle-work", "--no-defrag"},
            description = "no work while a volume is idle; by default, once it has been idle for 1 s, ranges that large reads found "
                    + "in many small pieces are written again, unchanged, so that the next reads of them are sequential, and spare WAL "
                    + "files are filled with zeros for the segments that lacked one, so that the next writes find their blocks allocated")
    boolean noDefrag;

    @Parameters(paramLabel = "VOLUME", arity = "0..*", description = "volumes to export (default: every volume in the store)")
    List<String> names = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        HostPort tcp = noTcp ? null : HostPort.parse("--listen", listen);
        HostPort metricsAddr = metricsAt == null ? null : HostPort.parse("--metrics", metricsAt);
        MeteredStore store = new MeteredStore(StoreUri.open(common.store));
        VolumeConfig config = VolumeConfig.defaults();
        if (walKeep != null) {
            config = config.withKeptWalBytes(Sizes.parseAllowingZero(walKeep));
        }
        if (noDefrag) {
            config = config.withDefragQuiet(java.time.Duration.ZERO);
        }
        VolumeManager mgr = new VolumeManager(store, common.data, NioFs.INSTANCE, config);
        List<String> wanted = names.isEmpty() ? mgr.list() : names;
        if (wanted.isEmpty()) {
            throw new IllegalArgumentException("the store " + common.store + " has no volumes; create one first: vblock create NAME --size 1G");
        }
        if (noTcp && socket == null) {
            throw new IllegalArgumentException("--no-tcp needs --socket PATH");
        }
        List<Volume> open = new ArrayList<>();
        try {
            for (String n : wanted) {
                open.add(mgr.open(n, forceTakeover));
            }
        } catch (Exception e) {
            closeAll(open);
            throw e;
        }
        NbdServer server = new NbdServer(new VolumeExports(open), NbdServerConfig.defaults());
        CountDownLatch stopped = new CountDownLatch(1);
        MetricsServer[] metrics = {null};
        Thread hook = new Thread(() -> {
            System.err.println("vblock: stopping: finishing requests in flight, then draining and closing volumes");
            server.shutdown(Duration.ofSeconds(30));
            closeAll(open);
            closeMetrics(metrics[0]); // last: the drain can be watched
            stopped.countDown();
        }, "vblock-shutdown");
        try {
            Runtime.getRuntime().addShutdownHook(hook);
            List<Object> exports = new ArrayList<>();
            StringBuilder text = new StringBuilder();
            String metricsUrl = null;
            if (metricsAddr != null) {
                ServeMetrics scrape = new ServeMetrics(open, store, server);
                metrics[0] = MetricsServer.start(metricsAddr.host(), metricsAddr.port(), scrape::scrape);
                InetSocketAddress at = metrics[0].address();
                metricsUrl = "http://" + shown(at) + ":" + at.getPort() + "/metrics";
                text.append("metrics on ").append(metricsUrl).append('\n');
            }
            if (tcp != null) {
                InetSocketAddress at = server.listenTcp(tcp.host(), tcp.port());
                for (Volume v : open) {
                    String uri = "nbd://" + shown(at) + ":" + at.getPort() + "/" + v.name();
                    exports.add(Vblock.doc("volume", v.name(), "uri", uri, "size", v.size()));
                    text.append("serving ").append(uri).append(" (").append(v.size()).append(" bytes)\n");
                }
            }
            if (socket != null) {
                server.listenUnix(socket);
                for (Volume v : open) {
                    String uri = "nbd+unix:///" + v.name() + "?socket=" + socket.toAbsolutePath();
                    exports.add(Vblock.doc("volume", v.name(), "uri", uri, "size", v.size()));
                    text.append("serving ").append(uri).append('\n');
                }
            }
            common.print(metricsUrl == null ? Vblock.doc("exports", exports) : Vblock.doc("exports", exports, "metrics", metricsUrl),
                    text.toString().stripTrailing());
            System.out.flush();
        } catch (Exception e) {
            Runtime.getRuntime().removeShutdownHook(hook);
            closeMetrics(metrics[0]);
            server.shutdown(Duration.ZERO);
            closeAll(open);
            throw e;
        }
        stopped.await(); // until a signal runs the hook
        return 0;
    }

    /** The address to print: a wildcard address is reachable on loopback. */
    private static String shown(InetSocketAddress at) {
        return at.getAddress().isAnyLocalAddress() ? "127.0.0.1" : at.getAddress().getHostAddress();
    }

    private static void closeMetrics(MetricsServer m) {
        if (m != null) {
            m.close();
        }
    }

    private static void closeAll(List<Volume> open) {
        for (Volume v : open) {
            try {
                v.close();
            } catch (Exception e) {
                System.err.println("vblock: " + e.getMessage());
            }
        }
    }
}
