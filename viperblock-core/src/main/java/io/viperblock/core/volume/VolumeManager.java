package io.viperblock.core.volume;

import io.viperblock.core.format.Formats;
import io.viperblock.core.format.WalHeader;
import io.viperblock.core.format.WalRecord;
import io.viperblock.core.io.Fs;
import io.viperblock.core.io.FsFile;
import io.viperblock.core.io.NioFs;
import io.viperblock.core.map.BlockMap;
import io.viperblock.core.map.ExtentMap;
import io.viperblock.core.store.NoSuchObjectException;
import io.viperblock.core.store.ObjectInfo;
import io.viperblock.core.store.ObjectKeys;
import io.viperblock.core.store.ObjectStore;
import io.viperblock.core.wal.WalReplay;
import io.viperblock.core.wal.WalWriter;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The entry point of the engine: creates, opens, lists and deletes the volumes of one store,
 * keeping their WAL under one local data directory ({@code <data>/volumes/<vol>/wal}).
 *
 * <p>Thread-safety: stateless apart from its immutable settings; safe from any thread.
 */
public final class VolumeManager {
    private static final Logger log = LoggerFactory.getLogger(VolumeManager.class);

    private final ObjectStore store;
    private final Path dataDir;
    private final Fs fs;
    private final VolumeConfig config;
    private final String nodeId;

    public VolumeManager(ObjectStore store, Path dataDir) throws IOException {
        this(store, dataDir, NioFs.INSTANCE, VolumeConfig.defaults());
    }

    public VolumeManager(ObjectStore store, Path dataDir, Fs fs, VolumeConfig config) throws IOException {
        this.store = store;
        this.dataDir = dataDir.toAbsolutePath().normalize();
        this.fs = fs;
        this.config = config;
        fs.createDirectories(this.dataDir);
        this.nodeId = loadNodeId();
    }

    /** This node's name in leases: host name plus a random part, fixed per data directory. */
    public String nodeId() { return nodeId; }
    public ObjectStore store() { return store; }
    public Path dataDir() { return dataDir; }

    private String loadNodeId() throws IOException {
        Path file = dataDir.resolve("node.id");
        for (int attempt = 0; attempt < 2; attempt++) {
            if (fs.exists(file)) {
                try (FsFile f = fs.open(file)) {
                    ByteBuffer b = ByteBuffer.allocate((int) Math.min(f.size(), 256));
                    f.read(b, 0);
                    String id = new String(b.array(), 0, b.position(), StandardCharsets.UTF_8).trim();
                    if (!id.isEmpty()) {
                        return id;
                    }
                }
            }
            String host;
            try {
                host = InetAddress.getLocalHost().getHostName();
            } catch (IOException e) {
                host = "node";
            }
            String id = host.replaceAll("[^A-Za-z0-9._-]", "_") + "-" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
            Path tmp = dataDir.resolve("node.id.tmp-" + UUID.randomUUID());
            try (FsFile f = fs.createNew(tmp)) {
                f.write(ByteBuffer.wrap((id + "\n").getBytes(StandardCharsets.UTF_8)), 0);
                f.force();
            }
            if (!fs.exists(file)) {
                fs.rename(tmp, file);
                fs.syncDir(dataDir);
            } else {
                fs.delete(tmp);
            }
        }
        throw new IOException("could not create " + file);
    }

    /** Creates a volume of {@code size} bytes (a positive multiple of 4096). */
    public VolumeMeta create(String name, long size) throws IOException {
        VolumeKeys keys = new VolumeKeys(name);
        if (size <= 0 || size % Formats.BLOCK_SIZE != 0) {
            throw new IllegalArgumentException("volume size must be a positive multiple of " + Formats.BLOCK_SIZE + " bytes, not " + size);
        }
        if (size / Formats.BLOCK_SIZE > (1L << 40)) {
            throw new IllegalArgumentException("volume size " + size + " is above the limit of 4 PiB");
        }
        List<ObjectInfo> existing = store.list(keys.prefix());
        if (!existing.isEmpty()) {
            throw existsError(keys, existing);
        }
        VolumeMeta meta = new VolumeMeta(name, UUID.randomUUID(), size, Formats.BLOCK_SIZE, Instant.now(), "available", null);
        if (!store.putIfAbsent(keys.meta(), meta.encode())) {
            throw new VolumeExistsException("volume \"" + name + "\" already exists in " + store.describe());
        }
        log.info("created volume {} ({} bytes) in {}", name, size, store.describe());
        return meta;
    }

    private VolumeExistsException existsError(VolumeKeys keys, List<ObjectInfo> existing) {
        for (ObjectInfo o : existing) {
            if (o.key().equals(keys.meta())) {
                return new VolumeExistsException("volume \"" + keys.volume() + "\" already exists in " + store.describe());
            }
        }
        return new VolumeExistsException("what is left of a deleted volume \"" + keys.volume() + "\" (" + existing.size() + " objects) is still in "
                + store.describe() + "; delete the volume again to finish removing it");
    }

    /** What volume.json says of a volume. */
    public VolumeMeta describe(String name) throws IOException {
        VolumeKeys keys = new VolumeKeys(name);
        try {
            return VolumeMeta.decode(store.get(keys.meta()), keys.meta());
        } catch (NoSuchObjectException e) {
            throw new VolumeNotFoundException(name, store.describe());
        }
    }

    /** The lease in force on a volume, or null if it has never been opened. */
    public Lease.Info lease(String name) throws IOException {
        return Lease.current(store, new VolumeKeys(name));
    }

    /** The names of every volume in the store, sorted. */
    public List<String> list() throws IOException {
        List<String> names = new ArrayList<>();
        for (ObjectInfo o : store.list(VolumeKeys.ROOT)) {
            String rest = o.key().substring(VolumeKeys.ROOT.length());
            int slash = rest.indexOf('/');
            if (slash > 0 && rest.substring(slash + 1).equals("volume.json")) {
                names.add(rest.substring(0, slash));
            }
        }
        return names;
    }

    /**
     * Opens a volume for reading and writing: takes its lease, loads the map, replays the WAL.
     * A second open anywhere fails with {@link VolumeInUseException} naming the holder.
     */
    public Volume open(String name) throws IOException {
        return open(name, false);
    }

    /**
     * Between the sequence numbers the previous holder of an unreleased lease may have used and
     * the next holder's, a gap it cannot cross: after a takeover the old holder may go on
     * uploading until its next lease check, and its counter can advance by at most its WAL bound
     * (records are at least 32 bytes, so at most 2^25 a GiB) before backpressure stops it.
     */
    static final long TAKEOVER_SEQ_GAP = 1L << 40;

    /**
     * Opens a volume; with {@code forceTakeover} also while another node holds its lease. That
     * node is fenced: from its next map delta on it finds its lease gone and stops, and whatever
     * it stores after the takeover is below this open's sealing checkpoint, where no reader looks.
     * Writes it had not consolidated are lost: take over only a node that is gone.
     */
    public Volume open(String name, boolean forceTakeover) throws IOException {
        long started = System.nanoTime();
        VolumeKeys keys = new VolumeKeys(name);
        VolumeMeta meta = describe(name);
        Path volDir = volumeDir(name);
        Path walDir = volDir.resolve(Formats.WAL_DIR);
        fs.createDirectories(walDir);
        LocalLock localLock = LocalLock.tryAcquire(volDir, fs instanceof NioFs);
        if (localLock == null) {
            throw new VolumeInUseException("volume \"" + name + "\" is already open on this node (data directory " + dataDir
                    + "); close it there first");
        }
        boolean ok = false;
        try {
            // A stale WAL goes before this node's new lease exists: once that lease is stored, a
            // crash would leave it looking like this node's own unreleased lease, and the next
            // open would replay the stale WAL over what other nodes have stored since.
            Lease.Info inForce = Lease.current(store, keys);
            if (!isOwnUnreleased(inForce)) {
                discardStaleWal(name, walDir, inForce);
            }
            Lease lease = Lease.acquire(store, keys, nodeId, true, forceTakeover);
            Lease.Info prev = lease.previous();
            boolean ownWal = isOwnUnreleased(prev);
            if (!ownWal) {
                discardStaleWal(name, walDir, prev); // another node took the lease in between: usually nothing is left
            }
            if (prev != null && !prev.released() && !prev.holder().equals(nodeId)) {
                log.warn("volume {}: took the lease over from {} (pid {}, epoch {}, since {}); it is fenced, and writes it had not stored are lost",
                        name, prev.holder(), prev.pid(), prev.epoch(), prev.since());
            }
            BlockMap map = BlockMap.load(store, keys.mapPrefix());
            long maxSeq = Math.max(map.maxSeq(), map.walCoveredSeq());
            // Rule 8: chunks uploaded after the last delta (a consolidation cut short) spent sequence numbers too.
            for (ObjectInfo o : store.list(keys.chunkPrefix(), keys.chunk(Math.max(1, maxSeq)))) {
                maxSeq = Math.max(maxSeq, Formats.seqOfKey(o.key()));
            }
            ExtentMap dirty = new ExtentMap(Formats.BLOCK_SIZE);
            WalReplay.Result replay = WalReplay.replay(fs, walDir, meta.id(), map.walCoveredSeq(),
                    (seg, type, seq, firstBlock, count, payloadOffset) -> dirty.put(firstBlock, count, seq,
                            type == WalRecord.WRITE ? seg.position(payloadOffset) : ExtentMap.ZERO));
            maxSeq = Math.max(maxSeq, replay.maxSeq());
            if (prev != null && !prev.released()) {
                // The previous holder may still be running (a takeover, or our own retry after a
                // takeover that failed half-way): jump past any sequence number it can still use,
                // and seal the map there, so its later deltas and checkpoints are ignored.
                maxSeq += TAKEOVER_SEQ_GAP;
                map.writeCheckpoint(store, keys.mapPrefix(), keys::checkpoint, maxSeq, lease.epoch(), maxSeq);
            }
            AtomicLong nextSeq = new AtomicLong(maxSeq + 1);
            WalWriter wal = new WalWriter(fs, walDir, meta.id(), lease.epoch(), config.segmentBytes(), nextSeq, replay.segments());
            Volume.Recovered rec = new Volume.Recovered(replay.records(), replay.bytes(), replay.tornBytes(), map.extents().extentCount(),
                    map.chunkCount(), nextSeq.get());
            Volume v = new Volume(meta, keys, config, store, lease, localLock, nextSeq, wal, map, dirty, rec);
            ok = true;
            log.info("volume {} opened (epoch {}) in {} ms: replayed {} WAL records ({} bytes, {} torn bytes cut), map of {} extents over {} chunks, next seq {}",
                    name, lease.epoch(), (System.nanoTime() - started) / 1_000_000, rec.walRecords(), rec.walBytes(), rec.tornBytes(),
                    rec.mapExtents(), rec.chunks(), rec.nextSeq());
            return v;
        } finally {
            if (!ok) {
                // The lease stays ours (only this node can take it back), so no other node opens
                // the volume without the WAL that is on this node.
                localLock.close();
            }
        }
    }

    /**
     * Releases a lease borrowed by {@link #underLease}, unless this node had crashed holding the
     * volume: then its WAL waits here for the next open, and the lease stays held by this node,
     * as the crash left it. A release that fails after the action failed is added to the
     * action's error rather than replacing it.
     */
    private void releaseUnlessOwnCrash(String name, Lease lease, Exception actionFailure) throws IOException {
        if (isOwnUnreleased(lease.previous())) {
            log.info("volume {}: lease kept by this node, whose WAL the next open here replays", name);
            return;
        }
        try {
            lease.release();
        } catch (IOException e) {
            if (actionFailure == null) {
                throw e;
            }
            actionFailure.addSuppressed(e);
        }
    }

    /** Whether {@code lease} is this node's and was never released: this node crashed holding it, and its WAL is live. */
    private boolean isOwnUnreleased(Lease.Info lease) {
        return lease != null && !lease.released() && lease.holder().equals(nodeId);
    }

    /**
     * Deletes what WAL this node has of a volume whose lease in force is not this node's
     * unreleased one: either this node closed the volume cleanly (everything went to the store)
     * or another node has opened it since (it took it over from this node), so those writes are
     * superseded. The deletions are durable when it returns.
     */
    private void discardStaleWal(String name, Path walDir, Lease.Info prev) throws IOException {
        long recordBytes = 0;
        int files = 0;
        for (String n : fs.list(walDir)) {
            if (n.endsWith(".wal")) {
                Path f = walDir.resolve(n);
                recordBytes += Math.max(0, fs.size(f) - WalHeader.LENGTH);
                fs.delete(f);
                files++;
            }
        }
        if (files == 0) {
            return;
        }
        fs.syncDir(walDir);
        boolean ownCleanClose = prev != null && prev.released() && prev.holder().equals(nodeId);
        if (recordBytes > 0 && !ownCleanClose) {
            log.warn("volume {}: discarded {} bytes of WAL records in {} segments on this node: {} held the volume after this node (epoch {}), so they are superseded",
                    name, recordBytes, files, prev == null ? "another node" : prev.holder(), prev == null ? "?" : prev.epoch());
        } else {
            log.debug("volume {}: removed {} WAL segments ({} bytes of records) already in the store", name, files, recordBytes);
        }
    }

    /**
     * Deletes a volume: every object in the store and its local WAL. Refused while the volume is
     * open anywhere.
     */
    public void delete(String name) throws IOException {
        VolumeKeys keys = new VolumeKeys(name);
        List<ObjectInfo> objects = store.list(keys.prefix());
        if (objects.isEmpty()) {
            throw new VolumeNotFoundException(name, store.describe());
        }
        Path volDir = volumeDir(name);
        LocalLock localLock = LocalLock.tryAcquire(volDir, fs instanceof NioFs);
        if (localLock == null) {
            throw new VolumeInUseException("volume \"" + name + "\" is open on this node (data directory " + dataDir + "); close it first");
        }
        try {
            Lease.acquire(store, keys, nodeId, true, false); // refuses if another node holds it
            objects = store.list(keys.prefix());
            // data first, volume.json next, leases last: an interrupted delete is finished by
            // deleting again, and create refuses a name whose remnants are still there
            for (ObjectInfo o : objects) {
                if (!o.key().equals(keys.meta()) && !o.key().startsWith(keys.leasePrefix())) {
                    store.delete(o.key());
                }
            }
            store.delete(keys.meta());
            for (ObjectInfo o : store.list(keys.leasePrefix())) {
                store.delete(o.key());
            }
            deleteLocal(volDir);
            log.info("deleted volume {} from {}", name, store.describe());
        } finally {
            localLock.close();
        }
    }

    private void deleteLocal(Path volDir) throws IOException {
        Path walDir = volDir.resolve(Formats.WAL_DIR);
        for (String n : fs.list(walDir)) {
            fs.delete(walDir.resolve(n));
        }
        fs.delete(walDir);
        for (String n : fs.list(volDir)) {
            if (!n.equals("lock")) {
                fs.delete(volDir.resolve(n));
            }
        }
        fs.syncDir(volDir);
    }

    private Path walDir(String name) {
        return volumeDir(name).resolve(Formats.WAL_DIR);
    }

    private Path volumeDir(String name) {
        return dataDir.resolve("volumes").resolve(ObjectKeys.checkName("volume", name));
    }

    // ---------------------------------------------------------------- operator commands

    /**
     * A volume's state read without taking its lease or changing anything: size, what the map
     * holds, what this node's WAL holds that the map does not yet, and the lease in force.
     */
    public VolumeInspection inspect(String name) throws IOException {
        VolumeKeys keys = new VolumeKeys(name);
        return VolumeInspector.inspect(store, keys, describe(name), fs, walDir(name));
    }

    /**
     * Grows a volume to {@code newSize} bytes; the new range reads as zeros. Takes the lease for
     * the change, so it is refused while the volume is open anywhere. Shrinking is refused.
     */
    public VolumeMeta resize(String name, long newSize) throws IOException {
        return underLease(name, lease -> {
            VolumeMeta m = describe(name);
            if (newSize < m.size()) {
                throw new IllegalArgumentException("volume \"" + name + "\" is " + m.size() + " bytes; shrinking to " + newSize
                        + " would cut off data, so it is refused (volumes only grow)");
            }
            if (newSize % Formats.BLOCK_SIZE != 0 || newSize / Formats.BLOCK_SIZE > (1L << 40)) {
                throw new IllegalArgumentException("volume size must be a multiple of " + Formats.BLOCK_SIZE + " bytes up to 4 PiB, not " + newSize);
            }
            VolumeMeta grown = new VolumeMeta(m.name(), m.id(), newSize, m.blockSize(), m.created(), m.state(), m.parent());
            store.put(new VolumeKeys(name).meta(), grown.encode());
            log.info("resized volume {} from {} to {} bytes", name, m.size(), newSize);
            return grown;
        });
    }

    /**
     * Checks every chunk and map object of a volume (see {@link VolumeCheck}), and this node's WAL
     * segments as the next open would replay them; read-only, no lease.
     */
    public VolumeCheck.Report check(String name, VolumeCheck.Progress progress) throws IOException {
        VolumeMeta meta = describe(name);
        VolumeCheck.Report r = VolumeCheck.check(store, new VolumeKeys(name), progress);
        Path walDir = walDir(name);
        if (!fs.exists(walDir)) {
            return r;
        }
        List<VolumeCheck.Problem> problems = new ArrayList<>(r.problems());
        for (WalReplay.Damage d : WalReplay.check(fs, walDir, meta.id(), r.walCoveredSeq())) {
            problems.add(new VolumeCheck.Problem(d.segment().toString(), d.offset(), d.message()));
        }
        return new VolumeCheck.Report(problems, r.notes(), r.chunks(), r.chunkBlocks(), r.mapObjects(), r.mappedBlocks(), r.bytesRead(),
                r.walCoveredSeq());
    }

    /**
     * The WAL sequence number the stored map covers up to, which the next open's replay starts
     * from; 0 (every segment judged whole) if the map cannot be loaded.
     */
    private long walCoveredSeq(String name) {
        try {
            return VolumeCheck.loadMap(store, new VolumeKeys(name)).walCoveredSeq();
        } catch (IOException e) {
            return 0;
        }
    }

    /**
     * Under the volume's lease, cuts this node's WAL at its first damage (see
     * {@link WalReplay#cutAtDamage}) and rebuilds the block map from the chunk footers (see
     * {@link VolumeCheck#repair}); refused while the volume is open anywhere.
     */
    public VolumeCheck.Repair repair(String name, VolumeCheck.Progress progress) throws IOException {
        VolumeMeta meta = describe(name);
        Path walDir = walDir(name);
        VolumeCheck.Repair r = underLease(name, lease -> {
            long cut = fs.exists(walDir) ? WalReplay.cutAtDamage(fs, walDir, meta.id(), walCoveredSeq(name)) : 0;
            VolumeCheck.Repair m = VolumeCheck.repair(store, new VolumeKeys(name), lease.epoch(), progress);
            return new VolumeCheck.Repair(m.checkpointKey(), m.extents(), m.mappedBlocks(), m.chunksUsed(), m.damagedCopies(),
                    m.lostBlocks(), m.replaced(), cut);
        });
        log.info("repaired volume {}: map of {} blocks in {} extents over {} chunks ({}); {} WAL bytes cut", name, r.mappedBlocks(),
                r.extents(), r.chunksUsed(), r.checkpointKey(), r.walBytesCut());
        return r;
    }

    private interface LeasedAction<T> {
        T run(Lease lease) throws IOException;
    }

    /** Runs {@code action} holding the local lock and the lease, then releases both. */
    private <T> T underLease(String name, LeasedAction<T> action) throws IOException {
        VolumeKeys keys = new VolumeKeys(name);
        describe(name);
        LocalLock localLock = LocalLock.tryAcquire(volumeDir(name), fs instanceof NioFs);
        if (localLock == null) {
            throw new VolumeInUseException("volume \"" + name + "\" is open on this node (data directory " + dataDir + "); close it first");
        }
        try {
            // As in open: a stale WAL goes before this node's lease is stored, or a crash during
            // the action would leave that lease looking like this node's own unreleased one, and
            // the next open would replay the stale WAL over what other nodes stored since.
            Lease.Info inForce = Lease.current(store, keys);
            if (!isOwnUnreleased(inForce)) {
                discardStaleWal(name, walDir(name), inForce);
            }
            Lease lease = Lease.acquire(store, keys, nodeId, true, false);
            T result;
            try {
                result = action.run(lease);
            } catch (IOException | RuntimeException e) {
                releaseUnlessOwnCrash(name, lease, e);
                throw e;
            }
            releaseUnlessOwnCrash(name, lease, null);
            return result;
        } finally {
            localLock.close();
        }
    }
}
