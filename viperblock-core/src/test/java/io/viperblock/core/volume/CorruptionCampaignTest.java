package io.viperblock.core.volume;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.core.format.Formats;
import io.viperblock.core.format.WalHeader;
import io.viperblock.core.format.WalScan;
import io.viperblock.core.io.FsFile;
import io.viperblock.core.io.NioFs;
import io.viperblock.core.store.FaultyStore;
import io.viperblock.core.store.FileStore;
import io.viperblock.core.store.MemoryStore;
import io.viperblock.core.store.ObjectInfo;
import io.viperblock.core.testing.Seeds;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The corruption campaign: a volume is written with seeded data, partly drained to the store
 * (chunks, map deltas, a checkpoint) and partly left in the WAL, flushed and abandoned; then
 * random bytes of one object are flipped: a WAL segment (the last one or an older one), the WAL's
 * sync mark, a chunk, a map delta or a map checkpoint. The volume is opened again and read whole. Every outcome must
 * be one of:
 * <ul>
 *   <li>open refuses with an error naming the damaged file or object and the offset;</li>
 *   <li>open succeeds and every block reads its correct data, or fails with an error naming the
 *       damaged chunk: never other bytes returned as data.</li>
 * </ul>
 * The volume was flushed before the damage, so damage to the records of the last WAL segment is
 * no torn write either: the WAL's sync mark says they were fsynced, and open must refuse
 * rather than cut them. Only a last segment that holds no record may be dropped (its header
 * damaged looks like an interrupted creation, and nothing is lost with it). A damaged sync mark
 * loses nothing and must not make open refuse: it is ignored.
 *
 * <p>{@code -Dcampaign.cases=N} (default 60, the short run in {@code make test}),
 * {@code -Dcampaign.seed=S} replays a run; the summary goes to {@code target/campaign-corrupt.json}.
 */
class CorruptionCampaignTest {
    private static final int BLOCK = Formats.BLOCK_SIZE;
    private static final int BLOCKS = 2048; // an 8 MiB volume
    private static final String VOL = "cc";
    private static final int PARALLEL = 3;
    private static final List<String> KINDS = List.of("wal-last", "wal-older", "wal-mark", "chunk", "delta", "checkpoint");

    /** One volume operation, which is one WAL record: data != null for a write, else a zero or trim of whole blocks. */
    private record Op(int type, int block, int count, byte[] data) {}

    /**
     * Per kind: cases, refused at open, detected at read, harmless (the damaged bytes are not in
     * use), WAL tail cuts. Guarded by its own monitor.
     */
    private static final class Tally {
        long cases;
        long refusedAtOpen;
        long detectedAtRead;
        long blocksRefused;
        long harmless;
    }

    /** Shared by the cases running at once: the map is filled before they start, each tally and list is locked. */
    private final Map<String, Tally> tallies = new LinkedHashMap<>();
    private final List<String> silent = java.util.Collections.synchronizedList(new ArrayList<>());
    private final List<String> unclear = java.util.Collections.synchronizedList(new ArrayList<>());
    private final List<String> needless = java.util.Collections.synchronizedList(new ArrayList<>());

    @Test
    void everyCorruptionIsRefusedOrReportedNeverReturnedAsData() throws Exception {
        int cases = Integer.getInteger("campaign.cases", 60);
        long seed = Long.getLong("campaign.seed", System.nanoTime());
        SplittableRandom root = new SplittableRandom(seed);
        System.out.println("campaign-corrupt: " + cases + " cases, seed=" + seed + " (rerun with -Dcampaign.seed=" + seed + ")");
        for (String k : KINDS) {
            tallies.put(k, new Tally());
        }
        long started = System.nanoTime();
        Path base = Files.createDirectories(Path.of(System.getProperty("java.io.tmpdir")));
        // cases are independent (each has its own directory, store and random source): a few at once
        // keep both cores busy while others wait for fsync
        ExecutorService pool = Executors.newFixedThreadPool(PARALLEL);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int i = 0; i < cases; i++) {
                int index = i;
                SplittableRandom r = root.split();
                done.add(pool.submit(() -> {
                    Path dir = Files.createTempDirectory(base, "corrupt-");
                    try {
                        runCase(index, r, dir);
                    } finally {
                        deleteTree(dir);
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get(10, TimeUnit.MINUTES);
            }
        } finally {
            pool.shutdownNow();
        }
        double seconds = (System.nanoTime() - started) / 1e9;
        StringBuilder json = new StringBuilder("{\n  \"cases\": " + cases + ",\n  \"kinds\": {\n");
        int n = 0;
        for (Map.Entry<String, Tally> e : tallies.entrySet()) {
            Tally t = e.getValue();
            json.append("    \"").append(e.getKey()).append("\": {\"cases\": ").append(t.cases).append(", \"refusedAtOpen\": ").append(t.refusedAtOpen)
                    .append(", \"detectedAtRead\": ").append(t.detectedAtRead).append(", \"blocksRefusedAtRead\": ").append(t.blocksRefused)
                    .append(", \"harmless\": ").append(t.harmless).append("}")
                    .append(++n < tallies.size() ? ",\n" : "\n");
        }
        json.append("  },\n  \"silentCorruptions\": ").append(silent.size()).append(",\n  \"unclearErrors\": ").append(unclear.size())
                .append(",\n  \"seed\": ").append(seed).append(",\n  \"seconds\": ").append(String.format("%.1f", seconds)).append("\n}\n");
        Path out = Path.of("target", "campaign-corrupt.json");
        Files.createDirectories(out.getParent());
        Files.writeString(out, json);
        System.out.print("campaign-corrupt: " + json);
        assertEquals(List.of(), silent, "damaged data returned as data, or flushed data lost without an error");
        assertEquals(List.of(), unclear, "errors that do not name the damaged object and offset");
        assertEquals(List.of(), needless, "a damaged WAL sync mark made open refuse, though every record was intact");
        assertTrue(tallies.values().stream().filter(t -> t.cases > 0).count() >= Math.min(cases, KINDS.size()) || cases < 50,
                "every kind of object was damaged at least once: " + json);
    }

    private void runCase(int index, SplittableRandom r, Path dir) throws IOException {
        String planned = KINDS.get(index % KINDS.size()); // round robin, so that a short run covers every kind
        FaultyStore store = new FaultyStore(r.nextBoolean() ? new MemoryStore() : new FileStore(dir.resolve("store")), r.nextLong());
        Path data = dir.resolve("node");
        // every second delta is folded into a checkpoint, which replaces the deltas before it; in
        // the cases planned for a delta, none is
        VolumeConfig config = VolumeConfig.defaults().withSegmentBytes(1 << 20).withMaxPendingWalBytes(16 << 20).withKeptWalBytes(16 << 20)
                .withSealAfter(Duration.ofHours(1)).withCheckpointEvery(planned.equals("delta") ? 1000 : 2).withCacheBytes(1 << 20).withUploadParallelism(2);
        VolumeManager mgr = new VolumeManager(store, data, NioFs.INSTANCE, config);
        mgr.create(VOL, (long) BLOCKS * BLOCK);
        List<Op> ops = new ArrayList<>();
        Volume v = mgr.open(VOL);
        for (int round = 1 + r.nextInt(3); round > 0; round--) {
            for (int i = 5 + r.nextInt(30); i > 0; i--) {
                ops.add(apply(v, randomOp(r)));
            }
            v.drain(); // chunks and a map delta; every few deltas a checkpoint
        }
        // Segments sealed from here on are consolidated in the background at once, so older segments
        // would rarely be left to damage: in the cases planned for them, and in half the others,
        // chunk uploads fail until the damage is done (a pass that fails leaves its segment in place).
        boolean holdConsolidation = planned.equals("wal-older") || r.nextBoolean();
        if (holdConsolidation) {
            store.beforePut(key -> {
                if (key.contains("/chunks/")) {
                    throw new IOException("injected: consolidation held until the damage is done (" + key + ")");
                }
            });
        }
        // up to 2.5 MiB: up to three 1 MiB segments; at least two where an older one is wanted
        long walBytes = planned.equals("wal-older") ? (1L << 20) + r.nextLong(3L << 19) : r.nextLong(5L << 19);
        for (long written = 0; written < walBytes || ops.isEmpty(); ) {
            Op op = apply(v, randomOp(r));
            ops.add(op);
            written += 32 + (op.data() == null ? 0 : op.data().length);
        }
        v.flush(); // everything is durable: nothing may be lost silently
        v.abandon();

        Path walDir = data.resolve("volumes").resolve(VOL).resolve("wal");
        TreeSet<String> segments = new TreeSet<>();
        try (Stream<Path> files = Files.list(walDir)) {
            files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".wal")).forEach(segments::add);
        }
        Map<String, List<String>> targets = new LinkedHashMap<>();
        targets.put("wal-last", segments.isEmpty() ? List.of() : List.of(segments.last()));
        targets.put("wal-older", segments.isEmpty() ? List.of() : List.copyOf(segments.headSet(segments.last())));
        Path markFile = walDir.resolve(Formats.WAL_SYNC_MARK);
        targets.put("wal-mark", Files.exists(markFile) && Files.size(markFile) > 0 ? List.of(Formats.WAL_SYNC_MARK) : List.of());
        List<String> chunks = new ArrayList<>();
        List<String> deltas = new ArrayList<>();
        List<String> ckpts = new ArrayList<>();
        for (ObjectInfo o : store.list("volumes/" + VOL + "/")) {
            if (o.key().contains("/chunks/")) {
                chunks.add(o.key());
            } else if (o.key().endsWith(".delta")) {
                deltas.add(o.key());
            } else if (o.key().endsWith(".ckpt")) {
                ckpts.add(o.key());
            }
        }
        targets.put("chunk", chunks);
        targets.put("delta", deltas);
        targets.put("checkpoint", ckpts);
        store.beforePut(null);
        String kind = planned;
        while (targets.get(kind).isEmpty()) {
            kind = KINDS.get(r.nextInt(KINDS.size()));
        }
        List<String> candidates = targets.get(kind);
        String target = candidates.get(r.nextInt(candidates.size()));
        Tally tally = tallies.get(kind);
        synchronized (tally) {
            tally.cases++;
        }

        byte[] expected = model(ops, ops.size());
        List<long[]> records = new ArrayList<>(); // of the last segment, before the damage: {start, length}
        byte[] object;
        Path walFile = null;
        if (kind.startsWith("wal")) {
            walFile = walDir.resolve(target);
            object = Files.readAllBytes(walFile);
            if (kind.equals("wal-last")) {
                try (FsFile f = NioFs.INSTANCE.open(walFile)) {
                    WalScan.scan(f, target, WalHeader.LENGTH, (type, seq, firstBlock, count, payloadPosition, recordLength) ->
                            records.add(new long[] {payloadPosition - 32, recordLength}));
                }
            }
        } else {
            ByteBuffer b = store.get(target);
            object = new byte[b.remaining()];
            b.get(object);
        }
        long[] positions = damage(r, object, kind, records);
        String what = "case " + index + " (" + kind + " " + target + ", " + object.length + " bytes, damaged at " + Arrays.toString(positions) + ")";
        if (walFile != null) {
            Files.write(walFile, object, StandardOpenOption.TRUNCATE_EXISTING);
            try (FileChannel ch = FileChannel.open(walFile, StandardOpenOption.WRITE)) {
                ch.force(true);
            }
        } else {
            store.put(target, ByteBuffer.wrap(object));
        }

        // Every record was flushed: damage to the last segment's records, or to its header with
        // anything behind it, is not a torn write, and open must refuse. (Behind the records a
        // reused segment file may hold old, consolidated records; damage there loses nothing.)
        long recordsEnd = records.isEmpty() ? WalHeader.LENGTH : records.get(records.size() - 1)[0] + records.get(records.size() - 1)[1];
        boolean inHeader = Arrays.stream(positions).anyMatch(p -> p < WalHeader.LENGTH);
        boolean inRecords = Arrays.stream(positions).anyMatch(p -> p >= WalHeader.LENGTH && p < recordsEnd);
        boolean mustRefuse = kind.equals("wal-last") && ((inHeader && object.length > WalHeader.LENGTH) || inRecords);

        Volume reopened;
        try {
            reopened = new VolumeManager(store, data, NioFs.INSTANCE, config).open(VOL);
        } catch (IOException e) {
            synchronized (tally) {
                tally.refusedAtOpen++;
            }
            if (kind.equals("wal-mark")) { // it only tells replay what was flushed: every record is intact
                needless.add(what + ": open refused although no record was damaged: " + e);
            }
            if (e.getMessage() == null || !e.getMessage().contains(target) || !e.getMessage().contains("offset")) {
                unclear.add(what + ": open refused with " + e);
            }
            return;
        }
        try {
            if (mustRefuse) {
                silent.add(what + ": the last segment's " + records.size() + " flushed records (ending at " + recordsEnd
                        + ") or its header were damaged, and open went on without an error");
            }
            int refused = verify(reopened, expected, kind, target, what);
            synchronized (tally) {
                if (refused > 0) {
                    tally.detectedAtRead++;
                    tally.blocksRefused += refused;
                } else {
                    tally.harmless++;
                }
            }
        } finally {
            reopened.abandon();
        }
    }

    private static Op randomOp(SplittableRandom r) {
        int count = 1 + r.nextInt(r.nextInt(4) == 0 ? 64 : 8);
        int block = r.nextInt(BLOCKS - count + 1);
        int kind = r.nextInt(8);
        if (kind == 0) {
            return new Op(2, block, count, null);
        }
        if (kind == 1) {
            return new Op(3, block, count, null);
        }
        return new Op(1, block, count, Seeds.bytes(r, count * BLOCK));
    }

    private static Op apply(Volume v, Op op) throws IOException {
        long off = (long) op.block() * BLOCK;
        long len = (long) op.count() * BLOCK;
        switch (op.type()) {
            case 1 -> v.write(off, op.data(), false);
            case 2 -> v.writeZeroes(off, len, false);
            default -> v.trim(off, len);
        }
        return op;
    }

    /** The volume's bytes after the first {@code n} operations. */
    private static byte[] model(List<Op> ops, int n) {
        byte[] m = new byte[BLOCKS * BLOCK];
        for (Op op : ops.subList(0, n)) {
            if (op.data() != null) {
                System.arraycopy(op.data(), 0, m, op.block() * BLOCK, op.data().length);
            } else {
                Arrays.fill(m, op.block() * BLOCK, (op.block() + op.count()) * BLOCK, (byte) 0);
            }
        }
        return m;
    }

    /**
     * Flips bytes of {@code object} in place: one byte, a few, or a burst; half the time aimed at
     * the structure (headers, footers, record headers), where a flip changes meaning, not data.
     */
    private static long[] damage(SplittableRandom r, byte[] object, String kind, List<long[]> records) {
        int n = switch (r.nextInt(10)) {
            case 0, 1, 2, 3, 4, 5 -> 1;
            case 6, 7, 8 -> 2 + r.nextInt(3);
            default -> -1; // a burst
        };
        long[] at;
        if (n < 0) {
            int len = Math.min(object.length, 2 + r.nextInt(15));
            int start = aim(r, object.length, kind, records);
            start = Math.min(start, object.length - len);
            at = new long[len];
            for (int i = 0; i < len; i++) {
                at[i] = start + i;
            }
        } else {
            at = new long[n];
            for (int i = 0; i < n; i++) {
                at[i] = aim(r, object.length, kind, records);
            }
        }
        byte[] before = object.clone();
        for (long p : at) {
            object[(int) p] ^= (byte) (1 + r.nextInt(255));
        }
        // a position drawn twice may have flipped back; the outcome depends on the bytes that really changed
        long[] changed = Arrays.stream(at).distinct().filter(p -> object[(int) p] != before[(int) p]).sorted().toArray();
        if (changed.length == 0) {
            object[(int) at[0]] ^= 1;
            changed = new long[] {at[0]};
        }
        return changed;
    }

    private static int aim(SplittableRandom r, int size, String kind, List<long[]> records) {
        if (r.nextBoolean()) {
            return r.nextInt(size);
        }
        return switch (kind) {
            case "chunk" -> size - 1 - r.nextInt(Math.min(size, 48 + 24 * 8)); // the trailer and the last footer entries
            case "wal-last", "wal-older" -> {
                if (records.isEmpty() || r.nextInt(4) == 0) {
                    yield r.nextInt(Math.min(size, WalHeader.LENGTH + 32));
                }
                long[] rec = records.get(r.nextInt(records.size()));
                yield (int) (rec[0] + r.nextInt(32)); // a record header
            }
            default -> r.nextInt(Math.min(size, 128)); // the header of a delta or checkpoint
        };
    }

    /**
     * Reads the whole volume: each block must hold its expected bytes or fail with an error naming
     * a chunk (the damaged one, when a chunk was damaged). Returns the number of blocks refused.
     */
    private int verify(Volume v, byte[] expected, String kind, String target, String what) {
        int refused = 0;
        int run = 64;
        for (int b = 0; b < BLOCKS; b += run) {
            try {
                check(v.read((long) b * BLOCK, run * BLOCK), expected, b, run, what);
                continue;
            } catch (IOException e) {
                // find which blocks of the run fail
            }
            for (int k = b; k < b + run; k++) {
                try {
                    check(v.read((long) k * BLOCK, BLOCK), expected, k, 1, what);
                } catch (IOException e) {
                    refused++;
                    String m = String.valueOf(e.getMessage());
                    boolean named = kind.equals("chunk") ? m.contains(target) : m.contains("/chunks/");
                    if (!named || !m.contains("offset")) {
                        unclear.add(what + ": block " + k + " failed with " + e);
                    }
                }
            }
        }
        return refused;
    }

    private void check(byte[] got, byte[] expected, int block, int count, String what) {
        int from = block * BLOCK;
        if (!Arrays.equals(got, 0, got.length, expected, from, from + count * BLOCK)) {
            int i = Arrays.mismatch(got, 0, got.length, expected, from, from + count * BLOCK);
            silent.add(what + ": block " + (block + i / BLOCK) + " read other bytes than were written (byte " + (from + i) + ")");
        }
    }

    private static void deleteTree(Path root) throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
