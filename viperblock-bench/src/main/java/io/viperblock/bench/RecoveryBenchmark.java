package io.viperblock.bench;

import io.viperblock.core.format.Formats;
import io.viperblock.core.format.WalHeader;
import io.viperblock.core.io.FsFile;
import io.viperblock.core.io.NioFs;
import io.viperblock.core.store.FileStore;
import io.viperblock.core.store.ObjectInfo;
import io.viperblock.core.store.ObjectStore;
import io.viperblock.core.volume.Volume;
import io.viperblock.core.volume.VolumeConfig;
import io.viperblock.core.volume.VolumeManager;
import io.viperblock.core.wal.WalReplay;
import io.viperblock.core.wal.WalSegment;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Recovery time: {@link VolumeManager#open} of a volume whose data directory holds 1 GiB of
 * unconsolidated WAL (replay: scan and checksum every record, rebuild the dirty index), against
 * reading the same files sequentially with a FileChannel, the floor for any replay.
 *
 * <p>The WAL is the state a crash leaves when consolidation could not run: it is written once
 * through a real volume whose store refuses chunk uploads ({@link BenchStores.NoChunks}), flushed,
 * and copied aside before the volume is closed (a copy taken after a flush is exactly what kill -9
 * would leave, up to the zeros after the last record, which are cut from the copy as the first
 * replay would cut them). This master copy is kept under the bench dir for the forks that follow (it is
 * rebuilt when the benchmark jar changes). Each measured open gets a fresh data directory of hard
 * links to it; replay reads the files and never writes to them (a clean tail is not cut), which
 * is checked after every invocation.
 *
 * <p>{@code cache=cold} empties the page cache before each invocation (needs root; without it
 * the run fails with a message saying to use {@code -p cache=warm}), {@code cache=warm} reads the
 * files once beforehand. {@code writeSize} is the size of the writes that produced the WAL: 4 KiB
 * gives 262,144 records, 1 MiB gives 1,024.
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 1)
@Measurement(iterations = 3)
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
        // the store refuses chunks on purpose; the consolidator's retries would only be noise
        "-Dorg.slf4j.simpleLogger.log.io.viperblock.core.volume.Consolidator=off"})
public class RecoveryBenchmark {
    static final String VOLUME = "rec";
    static final long WAL_PAYLOAD = 1L << 30;

    @State(Scope.Benchmark)
    public static class WalState {
        @Param({"4096", "1048576"})
        int writeSize;
        @Param({"cold", "warm"})
        String cache;

        /** The master copy: node.id, wal/*.wal and store/ (the store's objects, as a file store). */
        Path master;
        List<Path> masterWal;
        long[] masterSizes;
        BenchStores.NoChunks store;
        Path run;
        Volume opened;

        @Setup(Level.Trial)
        public void setup() throws IOException {
            if (!cache.equals("cold") && !cache.equals("warm")) {
                throw new IllegalArgumentException("cache must be cold or warm, not " + cache);
            }
            master = BenchDir.root().resolve("recovery-master-" + writeSize);
            String stamp = buildStamp();
            Path stampFile = master.resolve("complete");
            if (!Files.exists(stampFile) || !Files.readString(stampFile).equals(stamp)) {
                BenchDir.deleteTree(master);
                generate(master, writeSize);
                Files.writeString(stampFile, stamp);
            }
            masterWal = new ArrayList<>();
            try (Stream<Path> files = Files.list(master.resolve("wal"))) {
                files.sorted().forEach(masterWal::add);
            }
            masterSizes = new long[masterWal.size()];
            long total = 0;
            for (int i = 0; i < masterSizes.length; i++) {
                masterSizes[i] = Files.size(masterWal.get(i));
                total += masterSizes[i];
            }
            System.out.printf("[vb] recovery WAL: %d bytes in %d segments, written as %d-byte writes (%d records)%n",
                    total, masterWal.stream().filter(f -> f.toString().endsWith(Formats.WAL_SUFFIX)).count(), writeSize, WAL_PAYLOAD / writeSize);

            // The store holds what the generating run left: volume.json and this node's unreleased
            // lease (the map is empty: nothing was ever consolidated), as after a real crash, so
            // every open replays the WAL. It lives for the whole trial; each open's lease stays
            // this node's and unreleased, as its close fails (the store takes no chunks).
            store = new BenchStores.NoChunks();
            copyObjects(new FileStore(master.resolve("store")), store);
        }

        @Setup(Level.Invocation)
        public void restore() throws IOException {
            run = BenchDir.fresh("recovery-run");
            Files.copy(master.resolve(Formats.NODE_ID_FILE), run.resolve(Formats.NODE_ID_FILE));
            Path wal = Files.createDirectories(run.resolve("volumes").resolve(VOLUME).resolve(Formats.WAL_DIR));
            for (Path p : masterWal) {
                Files.createLink(wal.resolve(p.getFileName()), p);
            }
            if (cache.equals("cold")) {
                if (!BenchDir.dropCaches()) {
                    throw new IllegalStateException("cache=cold needs to drop the page cache (root, /proc/sys/vm/drop_caches); run with -p cache=warm");
                }
            } else {
                readAll(masterWal);
            }
        }

        @TearDown(Level.Invocation)
        public void cleanUp() throws IOException {
            if (opened != null && opened.recovered().walRecords() != WAL_PAYLOAD / writeSize) {
                throw new IllegalStateException("the open replayed " + opened.recovered().walRecords() + " WAL records, not the "
                        + WAL_PAYLOAD / writeSize + " written; results are void");
            }
            if (opened != null) {
                try {
                    opened.close(); // fails by design: the store takes no chunks, so the WAL and the lease stay
                } catch (IOException expected) {
                    // what a crashed node also leaves behind
                }
                opened = null;
            }
            BenchDir.deleteTree(run);
            for (int i = 0; i < masterSizes.length; i++) {
                if (Files.size(masterWal.get(i)) != masterSizes[i]) {
                    throw new IllegalStateException("replay changed the master WAL copy " + masterWal.get(i) + "; results are void");
                }
            }
        }
    }

    /** Copies the benchmark volume's objects from one store into another. */
    private static void copyObjects(ObjectStore from, ObjectStore to) throws IOException {
        for (ObjectInfo o : from.list("volumes/" + VOLUME + "/")) {
            to.put(o.key(), from.get(o.key()));
        }
    }

    /** Writes 1 GiB through a volume that cannot consolidate, and keeps a copy of its WAL in {@code dest}. */
    static void generate(Path dest, int writeSize) throws IOException {
        long started = System.nanoTime();
        Path gen = BenchDir.fresh("recovery-gen");
        BenchStores.NoChunks store = new BenchStores.NoChunks();
        VolumeManager mgr = new VolumeManager(store, gen, NioFs.INSTANCE, config());
        mgr.create(VOLUME, WAL_PAYLOAD);
        Volume v = mgr.open(VOLUME);
        try {
            ByteBuffer data = WalAppendBenchmark.payload(writeSize, 1);
            for (long off = 0; off < WAL_PAYLOAD; off += writeSize) {
                v.write(off, data, false);
            }
            v.flush();
            Path walDir = gen.resolve("volumes").resolve(VOLUME).resolve(Formats.WAL_DIR);
            Path tmp = dest.resolveSibling(dest.getFileName() + ".tmp");
            BenchDir.deleteTree(tmp);
            Files.createDirectories(tmp.resolve("wal"));
            try (Stream<Path> files = Files.list(walDir)) {
                for (Path p : files.toList()) {
                    Files.copy(p, tmp.resolve("wal").resolve(p.getFileName()));
                }
            }
            cutToRecords(tmp.resolve("wal"));
            Files.copy(gen.resolve(Formats.NODE_ID_FILE), tmp.resolve(Formats.NODE_ID_FILE));
            // the store's objects too (volume.json, and the volume's lease held by this node): an
            // open that finds no lease of its own discards the WAL as stale instead of replaying it
            copyObjects(store, new FileStore(tmp.resolve("store")));
            Files.move(tmp, dest, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            try {
                v.close();
            } catch (IOException expected) {
                // the store refuses chunks: close keeps the WAL, which is deleted next anyway
            }
            BenchDir.deleteTree(gen);
        }
        System.out.printf("[vb] generated the recovery WAL (%d-byte writes) in %.1f s%n", writeSize, (System.nanoTime() - started) / 1e9);
    }

    /**
     * Cuts the zeros after the last record of the copy's last segment (the writer ends every
     * write at a page boundary: FORMATS.md), as the first replay after a kill -9 would: then no
     * replay of the master's hard links writes to them.
     */
    private static void cutToRecords(Path walDir) throws IOException {
        Path first;
        try (Stream<Path> files = Files.list(walDir)) {
            first = files.sorted().findFirst().orElseThrow();
        }
        UUID volumeId;
        try (FsFile f = NioFs.INSTANCE.open(first)) {
            volumeId = WalHeader.read(f, first.toString()).volumeId();
        }
        for (WalSegment s : WalReplay.replay(NioFs.INSTANCE, walDir, volumeId, 0, (seg, type, seq, firstBlock, count, at) -> { }).segments()) {
            s.close();
        }
    }

    /** Room for the whole WAL without backpressure, and no time-based sealing. */
    static VolumeConfig config() {
        return VolumeConfig.defaults()
                .withSealAfter(Duration.ofHours(1))
                .withMaxPendingWalBytes(4L << 30)
                .withBackpressureTimeout(Duration.ofMinutes(10));
    }

    /** Identifies the benchmark build, so a master written by another build of the engine is not reused. */
    static String buildStamp() throws IOException {
        try {
            Path jar = Path.of(RecoveryBenchmark.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            return jar + " " + Files.getLastModifiedTime(jar).toMillis() + " " + Files.size(jar) + "\n";
        } catch (java.net.URISyntaxException | RuntimeException e) {
            return "unknown build " + System.nanoTime() + "\n"; // never matches: always rebuild
        }
    }

    /** Reads every file front to back through one direct buffer; returns the bytes read. */
    static long readAll(List<Path> files) throws IOException {
        ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
        long total = 0;
        for (Path p : files) {
            try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
                int n;
                while ((n = ch.read(buf.clear())) >= 0) {
                    total += n;
                }
            }
        }
        return total;
    }

    /**
     * Opening the volume: lease, empty map, replay of the whole WAL, new active segment (and the
     * manager's construction, which reads node.id: part of any open after a restart).
     */
    @Benchmark
    public long replay(WalState s) throws IOException {
        s.opened = new VolumeManager(s.store, s.run, NioFs.INSTANCE, config()).open(VOLUME);
        return s.opened.recovered().walRecords();
    }

    /** The same files read sequentially: the floor for replay on this disk. */
    @Benchmark
    public long sequentialRead(WalState s) throws IOException {
        List<Path> files = new ArrayList<>();
        try (Stream<Path> list = Files.list(s.run.resolve("volumes").resolve(VOLUME).resolve(Formats.WAL_DIR))) {
            list.sorted().forEach(files::add);
        }
        return readAll(files);
    }
}
