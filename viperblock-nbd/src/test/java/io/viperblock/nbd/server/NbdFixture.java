package io.viperblock.nbd.server;

import io.viperblock.core.store.FaultyStore;
import io.viperblock.core.store.FileStore;
import io.viperblock.core.store.MemoryStore;
import io.viperblock.core.store.ObjectStore;
import io.viperblock.core.volume.Volume;
import io.viperblock.core.volume.VolumeManager;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A running NBD server on volumes of a fresh store, for one test: register it as a non-static
 * {@code @RegisterExtension} field. Before each test it makes a temporary directory, a volume
 * manager on a {@link FileStore} (or a {@link MemoryStore}) there, creates and opens the volumes
 * asked for, and starts an {@link NbdServer} on 127.0.0.1 and a free port. After the test it stops
 * the server, closes the volumes and deletes the directory.
 *
 * <p>{@link #restart} stops the server and closes the volumes, then reopens them and serves them
 * on a new port: what survives it was in the store or the WAL.
 */
final class NbdFixture implements BeforeEachCallback, AfterEachCallback {
    private final Map<String, Long> sizes = new LinkedHashMap<>();
    private boolean memoryStore;
    private boolean remoteStore;
    private NbdServerConfig config = NbdServerConfig.defaults();

    private Path dir;
    private ObjectStore store;
    private VolumeManager manager;
    private final List<Volume> open = new ArrayList<>();
    private NbdServer server;
    private InetSocketAddress address;

    private NbdFixture() {}

    /** A fixture on a file store. */
    static NbdFixture fileStore() {
        return new NbdFixture();
    }

    /** A fixture on an in-memory store (the same store object survives {@link #restart}). */
    static NbdFixture memoryStore() {
        NbdFixture f = new NbdFixture();
        f.memoryStore = true;
        return f;
    }

    /** A fixture on an in-memory store that passes for a remote one ({@link ObjectStore#local()} false). */
    static NbdFixture remoteStore() {
        NbdFixture f = memoryStore();
        f.remoteStore = true;
        return f;
    }

    /** Adds a volume to create and export. */
    NbdFixture volume(String name, long size) {
        sizes.put(name, size);
        return this;
    }

    NbdFixture config(NbdServerConfig c) {
        config = c;
        return this;
    }

    @Override
    public void beforeEach(ExtensionContext context) throws Exception {
        Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
        Files.createDirectories(tmp);
        dir = Files.createTempDirectory(tmp, "nbd-fixture-");
        store = memoryStore ? new MemoryStore() : new FileStore(dir.resolve("store"));
        if (remoteStore) {
            FaultyStore remote = new FaultyStore(store, 1);
            remote.remote(true);
            store = remote;
        }
        manager = new VolumeManager(store, dir.resolve("node"));
        for (Map.Entry<String, Long> e : sizes.entrySet()) {
            manager.create(e.getKey(), e.getValue());
        }
        openAndServe();
    }

    @Override
    public void afterEach(ExtensionContext context) throws Exception {
        try {
            stop();
        } finally {
            deleteTree(dir);
        }
    }

    private void openAndServe() throws IOException {
        for (String name : sizes.keySet()) {
            open.add(manager.open(name));
        }
        server = new NbdServer(new VolumeExports(open), config);
        address = server.listenTcp("127.0.0.1", 0);
    }

    /** Stops the server (requests in flight answered first) and closes every volume. */
    void stop() throws IOException {
        IOException failure = null;
        if (server != null) {
            server.shutdown(Duration.ofSeconds(10));
            server = null;
        }
        for (Volume v : open) {
            try {
                v.close();
            } catch (IOException e) {
                failure = failure == null ? e : failure;
            }
        }
        open.clear();
        if (failure != null) {
            throw failure;
        }
    }

    /** Stops the server, closes the volumes, reopens them and serves them again on a new port. */
    void restart() throws IOException {
        stop();
        openAndServe();
    }

    NbdServer server() {
        return server;
    }

    InetSocketAddress address() {
        return address;
    }

    int port() {
        return address.getPort();
    }

    Path dir() {
        return dir;
    }

    VolumeManager manager() {
        return manager;
    }

    Volume volume(String name) {
        for (Volume v : open) {
            if (v.name().equals(name)) {
                return v;
            }
        }
        throw new IllegalArgumentException("no open volume " + name);
    }

    /** The export's URI as NBD tools take it. */
    String uri(String volume) {
        return "nbd://127.0.0.1:" + port() + "/" + volume;
    }

    /** The server's URI without an export name (for listing). */
    String uri() {
        return "nbd://127.0.0.1:" + port();
    }

    /** A raw test client connected to {@code volume}, with structured replies. */
    TestNbdClient client(String volume) throws IOException {
        return TestNbdClient.connect(address, volume, true);
    }

    /** Deletes a tree without following symbolic links, and never into a mount point. */
    static void deleteTree(Path root) throws IOException {
        if (root == null || !Files.exists(root)) {
            return;
        }
        Object rootDev = Files.readAttributes(root, "unix:dev").get("dev");
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes attrs) throws IOException {
                Object dev = Files.readAttributes(d, "unix:dev").get("dev");
                if (!dev.equals(rootDev)) {
                    throw new IOException(d + " is a mount point; not deleting into it");
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path f, BasicFileAttributes attrs) throws IOException {
                Files.delete(f);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                if (e != null) {
                    throw e;
                }
                Files.delete(d);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
