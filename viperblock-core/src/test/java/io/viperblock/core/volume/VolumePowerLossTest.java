package io.viperblock.core.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.core.io.CrashFs;
import io.viperblock.core.store.FileStore;
import io.viperblock.core.store.ObjectStore;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.zip.CRC32;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Campaign 2, power loss: the WAL directories of two nodes and a file store all live on one
 * {@link CrashFs}, which cuts the power at a chosen file operation (that and every later one
 * fail) and then keeps only what was fsynced (STRICT) or that plus a random subset of unsynced
 * pages (TORN). Each crash point puts the cut at a random operation of one phase:
 *
 * <ul>
 *   <li><b>workload</b>: random writes (aligned and not), FUA writes, trims, zeroes, flushes and
 *       drains, with the background consolidator running: the cut may fall in a WAL batch, a
 *       segment roll, a chunk or delta upload, a checkpoint or a segment deletion;
 *   <li><b>recovery</b>: inside {@code VolumeManager.open} after such a crash (lease, map load,
 *       WAL replay, the sealing checkpoint an open writes after an unreleased lease), sometimes
 *       again during the recovery of that recovery;
 *   <li><b>close</b>: inside {@code Volume.close} (drain, WAL close, lease release);
 *   <li><b>takeover</b>: the writing node drains and is abandoned with its lease held, and the
 *       other node (another data directory) opens with {@code open(name, true)}.
 * </ul>
 *
 * After each crash the writing node (a fresh manager) opens the volume again and reads all of it:
 * every block must hold its value as of the last successful flush, FUA write, drain or close, or
 * a value written to it after that, and never anything else. A close or drain that returned, and
 * a takeover, count as flushes: everything before them is in the store.
 *
 * <p>{@code -Dcampaign.powerloss.points=N} crash points over both modes (default 400 in
 * {@code make test}), {@code -Dcampaign.seed=S}; {@code make campaign-powerloss POINTS=N}. The
 * result line goes to target/campaign-powerloss-MODE.json. The consolidator runs on its own
 * thread, so a seed fixes the workload but not exactly where a cut falls.
 */
public class VolumePowerLossTest {
    static final Path STORE = Path.of("/store");
    static final Path[] NODES = {Path.of("/node-a"), Path.of("/node-b")};
    static final String VOLUME = "pl";
    static final int SIZE = VolumeModelTest.SIZE;
    static final int BLOCKS = SIZE / 4096;
    /** Then a fresh file system and volume: the store keeps every chunk ever written (no GC yet). */
    static final int POINTS_PER_WORLD = 50;
    /** A workload's cut falls within this many file operations (about as many requests). */
    static final int WORKLOAD_CUT = 300;

    enum Phase { WORKLOAD, RECOVERY, CLOSE, TAKEOVER }

    /** The store of each world (a fresh file system and volume every {@link #POINTS_PER_WORLD} points). */
    public interface StoreFactory {
        ObjectStore store(CrashFs fs, long world) throws IOException;
    }

    @ParameterizedTest
    @EnumSource(CrashFs.Mode.class)
    void flushedWritesSurvivePowerLoss(CrashFs.Mode mode) throws Exception {
        int points = Math.max(1, Integer.getInteger("campaign.powerloss.points", 400) / CrashFs.Mode.values().length);
        long seed = Long.getLong("campaign.seed", System.nanoTime());
        String summary = campaign(mode, seed, points, "file", (fs, world) -> new FileStore(STORE, fs));
        Files.createDirectories(Path.of("target"));
        Files.writeString(Path.of("target", "campaign-powerloss-" + mode + ".json"), summary, StandardCharsets.UTF_8);
    }

    /**
     * Runs {@code points} crash points with the WAL on a {@link CrashFs} and the store from
     * {@code stores} (on that CrashFs, so it loses power too, or remote, like S3, so it does not),
     * and returns the summary line; fails on the first data error.
     */
    public static String campaign(CrashFs.Mode mode, long seed, int points, String storeName, StoreFactory stores) throws Exception {
        long started = System.nanoTime();
        Campaign c = new Campaign(mode, seed, stores);
        try {
            c.run(points);
        } finally {
            c.stop();
        }
        double secs = (System.nanoTime() - started) / 1e9;
        String summary = String.format(Locale.ROOT,
                "{\"campaign\":\"power-loss\",\"store\":\"%s\",\"mode\":\"%s\",\"crashPoints\":%d,\"insidePhase\":%s,\"justAfterPhase\":%s,"
                        + "\"cycles\":%d,\"rewrites\":%d,\"fills\":%d,\"worlds\":%d,\"blocksVerified\":%d,\"dataErrors\":0,\"seed\":%d,\"seconds\":%.1f,"
                        + "\"pointsPerSecond\":%.1f,\"cutSites\":%s,\"finished\":\"%s\"}%n",
                storeName, mode, c.crashPoints(), json(c.inside), json(c.after), c.cycles, c.rewrites, c.fills, c.worlds, c.blocksVerified, seed, secs,
                c.crashPoints() / secs, json(c.sites), Instant.now());
        System.out.print(summary);
        if (points >= 100) {
            for (Phase p : Phase.values()) {
                assertTrue(c.inside[p.ordinal()] > 0, "seed " + seed + ": no cut fell inside phase " + p);
            }
        }
        return summary;
    }

    /**
     * Regression: a node takes a volume back after another node took it over from it, and the
     * power goes during that open. Its WAL still holds a write the takeover threw away (flushed,
     * never stored); the new lease must not make that stale WAL look like the node's own after
     * the crash, or the retry replays the lost write over what the other node left. Every
     * operation of the open is tried as the crash point.
     */
    @Test
    void aStaleWalStaysDiscardedWhenATakeoverIsCutShort() throws Exception {
        byte[] stored = new byte[4096];
        Arrays.fill(stored, (byte) 1);
        byte[] lost = new byte[4096];
        Arrays.fill(lost, (byte) 2);
        // no timed sealing: the consolidator must not store the "lost" write before node a dies
        VolumeConfig quiet = VolumeModelTest.smallConfig().withSealAfter(Duration.ofHours(1));
        for (int cut = 0; ; cut++) {
            CrashFs fs = new CrashFs();
            VolumeManager a = new VolumeManager(new FileStore(STORE, fs), NODES[0], fs, quiet);
            a.create(VOLUME, SIZE);
            Volume va = a.open(VOLUME);
            va.write(0, stored, false);
            va.drain();
            va.write(0, lost, true); // acknowledged and flushed on node a, never stored
            va.abandon();
            VolumeManager b = new VolumeManager(new FileStore(STORE, fs), NODES[1], fs, quiet);
            Volume vb = b.open(VOLUME, true); // node a is gone: its write is lost, by design
            assertArrayEquals(stored, vb.read(0, 4096));
            vb.abandon(); // and node b dies too, having written nothing
            fs.powerCutAfter(cut);
            try {
                a.open(VOLUME, true).abandon();
                fs.crash();
                return; // the open ran to its end: every operation of it has been a crash point
            } catch (IOException e) {
                assertTrue(fs.powerCutSite() != null, "failed while the power was on: " + e);
            }
            fs.crash();
            Volume again = new VolumeManager(new FileStore(STORE, fs), NODES[0], fs, quiet).open(VOLUME, true);
            try {
                assertArrayEquals(stored, again.read(0, 4096), "power cut at operation " + cut + " (" + fs.powerCutSite()
                        + ") of node a's takeover: the write node b's takeover discarded came back");
            } finally {
                again.abandon();
            }
        }
    }

    private static String json(long[] perPhase) {
        Map<String, Long> m = new TreeMap<>();
        for (Phase p : Phase.values()) {
            m.put(p.name().toLowerCase(Locale.ROOT), perPhase[p.ordinal()]);
        }
        return json(m);
    }

    private static String json(Map<String, Long> m) {
        return m.entrySet().stream().map(e -> "\"" + e.getKey() + "\":" + e.getValue()).collect(Collectors.joining(",", "{", "}"));
    }

    /** One mode's run: the file system, the writing node, its open volume and what it must hold. */
    private static final class Campaign {
        final CrashFs.Mode mode;
        final long seed;
        final SplittableRandom rnd;
        final VolumeConfig config = VolumeModelTest.smallConfig().withBackpressureTimeout(Duration.ofSeconds(5));

        CrashFs fs;
        int node; // index into NODES of the writer
        Volume v; // the writer's open volume, or null
        String ctx;
        boolean localFlushes = true; // whether a flush (or FUA) makes writes durable for the checks to come
        final StringBuilder trail = new StringBuilder(); // this cycle's crashes, for failure messages

        // the model: contents as acknowledged, and per block what it may hold after a crash
        final byte[] current = new byte[SIZE];
        final long[] currentHash = new long[BLOCKS];
        final long[] flushedHash = new long[BLOCKS];
        final List<Set<Long>> since = new ArrayList<>(); // values written to each block since the last flush
        final BitSet sinceBlocks = new BitSet();

        // what happened
        final long[] inside = new long[Phase.values().length];
        final long[] after = new long[Phase.values().length];
        final long[] estimate = {WORKLOAD_CUT, 400, 400, 400}; // file operations a phase takes (recovery, close, takeover: learned)
        final Map<String, Long> sites = new TreeMap<>();
        long cycles;
        /** Rewrites (of the defragmenter) that wrote something. */
        long rewrites;
        long fills;
        long worlds;
        long blocksVerified;
        long armedAt;

        final StoreFactory stores;

        Campaign(CrashFs.Mode mode, long seed, StoreFactory stores) {
            this.mode = mode;
            this.seed = seed;
            this.stores = stores;
            this.rnd = new SplittableRandom(seed);
            for (int b = 0; b < BLOCKS; b++) {
                since.add(new HashSet<>());
            }
        }

        long crashPoints() {
            return Arrays.stream(inside).sum() + Arrays.stream(after).sum();
        }

        void run(int points) throws Exception {
            long nextWorld = 0;
            while (crashPoints() < points) {
                if (crashPoints() >= nextWorld) {
                    newWorld();
                    nextWorld = crashPoints() + POINTS_PER_WORLD;
                }
                int pick = rnd.nextInt(20);
                Phase phase = pick < 9 ? Phase.WORKLOAD : pick < 13 ? Phase.RECOVERY : pick < 17 ? Phase.CLOSE : Phase.TAKEOVER;
                ctx = "seed " + seed + " (-Dcampaign.seed=" + seed + "), " + mode + ", cycle " + cycles + " (" + phase + ")";
                trail.setLength(0);
                trail.append("node ").append(node);
                switch (phase) {
                    case WORKLOAD -> workloadCrash();
                    case RECOVERY -> {
                        workloadCrash();
                        do {
                            crashInRecovery();
                        } while (rnd.nextInt(3) == 0); // and sometimes in the recovery of that recovery
                    }
                    case CLOSE -> crashInClose();
                    case TAKEOVER -> crashInTakeover();
                }
                reopenAndVerify(phase == Phase.TAKEOVER);
                cycles++;
            }
        }

        /** Abandons the open volume, if any: its threads and its claim on the data directory go. */
        void stop() throws IOException {
            if (v != null) {
                v.abandon();
                v = null;
            }
        }

        void newWorld() throws IOException {
            stop();
            fs = new CrashFs();
            node = 0;
            worlds++; // first: the store of this world is keyed by it
            VolumeManager mgr = manager();
            mgr.create(VOLUME, SIZE);
            v = mgr.open(VOLUME);
            Arrays.fill(current, (byte) 0);
            Arrays.fill(currentHash, hash(current, 0));
            flushedAll();
        }

        VolumeManager manager() throws IOException {
            return new VolumeManager(stores.store(fs, worlds), NODES[node], fs, config);
        }

        // ---- phases --------------------------------------------------------------------------

        void workloadCrash() throws Exception {
            arm(Phase.WORKLOAD);
            boolean cut = !workload(20 * WORKLOAD_CUT);
            record(Phase.WORKLOAD, cut);
            powerLoss();
        }

        void crashInRecovery() throws IOException {
            VolumeManager mgr = manager();
            arm(Phase.RECOVERY);
            try {
                v = mgr.open(VOLUME);
            } catch (IOException e) {
                requireCut(e);
            }
            record(Phase.RECOVERY, v == null);
            powerLoss();
        }

        void crashInClose() throws Exception {
            requireDone(workload(rnd.nextInt(60)));
            Volume closing = v;
            v = null; // closed either way: its threads and local lock are gone
            arm(Phase.CLOSE);
            boolean closed = false;
            try {
                closing.close();
                closed = true;
            } catch (IOException e) {
                requireCut(e);
            }
            record(Phase.CLOSE, !closed);
            if (closed) {
                flushedAll(); // everything is in the store
            }
            powerLoss();
        }

        /**
         * The writer drains (sometimes writing a little more after that, which the takeover may
         * lose) and dies holding its lease; the other node takes the volume over while the power
         * goes. Afterwards that node is the writer.
         */
        void crashInTakeover() throws Exception {
            requireDone(workload(rnd.nextInt(4) == 0 ? 0 : rnd.nextInt(40))); // sometimes nothing: the map stays as the last takeover left it
            v.drain();
            flushedAll();
            if (rnd.nextBoolean()) {
                localFlushes = false; // the takeover throws away this node's WAL, flushed or not
                requireDone(workload(rnd.nextInt(20)));
                localFlushes = true;
            }
            stop();
            if (rnd.nextInt(3) == 0) {
                // the other node takes over, sees what the drain stored, and dies at once having
                // written nothing: the map's WAL mark stays where this node left it, and this
                // node's WAL, now stale, must stay dead when it takes the volume back below
                node = 1 - node;
                reopenAndVerify(true);
                stop();
                trail.append(" -> node ").append(node).append(" takes over and dies");
            }
            node = 1 - node;
            trail.append(" -> takeover by node ").append(node);
            VolumeManager mgr = manager();
            arm(Phase.TAKEOVER);
            try {
                v = mgr.open(VOLUME, true);
            } catch (IOException e) {
                requireCut(e);
            }
            record(Phase.TAKEOVER, v == null);
            powerLoss(); // the model stays: what the drain stored, and maybe writes after it
        }

        // ---- the workload --------------------------------------------------------------------

        /** Runs up to {@code steps} random operations; false if the power went first. */
        boolean workload(int steps) throws Exception {
            try {
                for (int i = 0; i < steps; i++) {
                    step();
                }
                return true;
            } catch (IOException e) {
                requireCut(e);
                return false;
            }
        }

        void step() throws IOException, InterruptedException {
            int op = rnd.nextInt(42);
            if (op < 26) {
                long[] r = VolumeModelTest.randomRange(rnd, 128 << 10);
                byte[] d = new byte[(int) r[1]];
                rnd.nextBytes(d);
                System.arraycopy(d, 0, current, (int) r[0], d.length);
                written(r); // before the call: a write that fails may still have reached the disk
                boolean fua = rnd.nextInt(8) == 0;
                v.write(r[0], d, fua);
                if (fua && localFlushes) {
                    flushedAll();
                }
            } else if (op < 32) {
                long[] r = VolumeModelTest.randomRange(rnd, 128 << 10);
                Arrays.fill(current, (int) r[0], (int) (r[0] + r[1]), (byte) 0);
                written(r);
                if (op < 29) {
                    v.trim(r[0], r[1]);
                } else {
                    v.writeZeroes(r[0], r[1], false);
                }
            } else if (op < 37) {
                v.flush();
                if (localFlushes) {
                    flushedAll();
                }
            } else if (op < 39) {
                v.drain();
                flushedAll();
            } else if (op < 40) {
                Thread.sleep(1 + rnd.nextInt(3)); // the background consolidator's turn
            } else if (op < 41) {
                // the quiet-time fill of a spare WAL file, for a segment that started in a new file
                if (v.fillSpare(() -> false)) {
                    fills++;
                }
            } else {
                // the defragmenter's rewrite (data unchanged), if the range is scattered enough
                int count = rnd.nextBoolean() ? Defragmenter.MIN_READ_BLOCKS : Defragmenter.REGION_BLOCKS;
                if (v.rewrite(rnd.nextInt(BLOCKS - count + 1), count) > 0) {
                    rewrites++;
                }
            }
        }

        private void written(long[] range) {
            for (int b = (int) (range[0] / 4096); b <= (range[0] + range[1] - 1) / 4096; b++) {
                currentHash[b] = hash(current, b);
                since.get(b).add(currentHash[b]);
                sinceBlocks.set(b);
            }
        }

        private void flushedAll() {
            System.arraycopy(currentHash, 0, flushedHash, 0, BLOCKS);
            for (int b = sinceBlocks.nextSetBit(0); b >= 0; b = sinceBlocks.nextSetBit(b + 1)) {
                since.get(b).clear();
            }
            sinceBlocks.clear();
        }

        // ---- crash points ------------------------------------------------------------------

        /** The power goes at a random file operation from now, within what the phase takes. */
        void arm(Phase p) {
            armedAt = fs.ops();
            fs.powerCutAfter(rnd.nextLong(estimate[p.ordinal()] + 1));
        }

        /**
         * Counts the crash point: inside the phase, or just after it when the phase finished
         * before the cut (the cut is then made right there). Learns how long the phase is, so
         * that most cuts fall inside it and all of it is covered.
         */
        void record(Phase p, boolean cut) {
            int i = p.ordinal();
            if (cut) {
                inside[i]++;
                sites.merge(p.name().toLowerCase(Locale.ROOT) + ": " + fs.powerCutSite(), 1L, Long::sum);
                if (p != Phase.WORKLOAD) {
                    estimate[i] += estimate[i] / 16 + 1; // the phase may have grown: look further
                }
            } else {
                after[i]++;
                if (p != Phase.WORKLOAD) {
                    estimate[i] = (fs.ops() - armedAt) * 5 / 4 + 8;
                }
            }
        }

        void requireCut(IOException e) {
            if (fs.powerCutSite() == null) {
                throw new AssertionError(ctx + ": an operation failed while the power was on: " + e, e);
            }
        }

        void requireDone(boolean done) {
            assertTrue(done, ctx + ": the power went before it was cut");
        }

        /** Cuts the power now if it has not gone yet, kills the node, and reboots the file system. */
        void powerLoss() throws IOException {
            String site = fs.powerCutSite();
            trail.append(" -> power cut ").append(site == null ? "between operations" : "in " + site);
            if (site == null) {
                fs.powerCutAfter(0);
            }
            stop();
            fs.crash(mode, rnd);
        }

        /**
         * The writer opens the volume again (a takeover that crashed is retried by force) and
         * every block must hold its last flushed value or one written after it.
         */
        void reopenAndVerify(boolean force) throws IOException {
            long before = fs.ops();
            try {
                v = manager().open(VOLUME, force);
            } catch (IOException e) {
                throw new AssertionError(ctx + ": the volume does not open after the power loss: " + e, e);
            }
            estimate[Phase.RECOVERY.ordinal()] = Math.max(8, (fs.ops() - before) * 5 / 4 + 8);
            byte[] actual = v.read(0, SIZE);
            int bad = 0;
            StringBuilder first = new StringBuilder();
            for (int b = 0; b < BLOCKS; b++) {
                long h = hash(actual, b);
                currentHash[b] = h;
                if (h != flushedHash[b] && !since.get(b).contains(h)) {
                    if (bad++ == 0) {
                        boolean zeros = Arrays.equals(actual, b * 4096, b * 4096 + 4096, new byte[4096], 0, 4096);
                        first.append("block ").append(b).append(zeros ? " (zeros)" : "").append(", written since the last flush: ")
                                .append(since.get(b).size());
                    }
                }
            }
            assertEquals(0, bad, () -> ctx + " [" + trail + "]: blocks holding a value that was neither flushed nor written after the last flush; first: " + first);
            blocksVerified += BLOCKS;
            System.arraycopy(actual, 0, current, 0, SIZE);
            flushedAll(); // what an open finds after a crash is what the disk and the store hold
        }
    }

    /** 64 bits of two different CRCs of a block: a collision between two versions is not a worry. */
    static long hash(byte[] data, int block) {
        CRC32C c = new CRC32C();
        c.update(data, block * 4096, 4096);
        CRC32 d = new CRC32();
        d.update(data, block * 4096, 4096);
        return c.getValue() << 32 | d.getValue();
    }
}
