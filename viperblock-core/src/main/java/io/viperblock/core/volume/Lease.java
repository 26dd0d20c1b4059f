package io.viperblock.core.volume;

import io.viperblock.core.format.FlatJson;
import io.viperblock.core.format.Formats;
import io.viperblock.core.store.NoSuchObjectException;
import io.viperblock.core.store.ObjectInfo;
import io.viperblock.core.store.ObjectStore;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The single-writer lease of a volume. Leases are objects named by epoch,
 * {@code volumes/<vol>/lease/<epoch>}, each created with a conditional create: of two nodes
 * racing for epoch N+1 exactly one wins. The highest epoch is the lease in force; it is free
 * when marked released (a clean close) or when it names this node and this node holds the local
 * lock (its previous holder here crashed), or when taken over by force. The epoch is written into
 * WAL segments, chunks and map deltas; a writer checks its lease is still in force before each map
 * delta, and stops for good when it is not (fencing).
 *
 * <p>Thread-safety: immutable after acquisition.
 */
public final class Lease {
    private final ObjectStore store;
    private final VolumeKeys keys;
    private final String holder;
    private final long epoch;
    private final Instant since;

    private final Info previous;

    private Lease(ObjectStore store, VolumeKeys keys, String holder, long epoch, Instant since, Info previous) {
        this.store = store;
        this.keys = keys;
        this.holder = holder;
        this.epoch = epoch;
        this.since = since;
        this.previous = previous;
    }

    public long epoch() { return epoch; }
    public String holder() { return holder; }
    /** The lease this one replaced, or null if the volume had none. */
    public Info previous() { return previous; }

    /** What a lease object says. */
    public record Info(String holder, long epoch, Instant since, long pid, boolean released) {}

    /** The lease in force (highest epoch), or null if the volume never had one. */
    public static Info current(ObjectStore store, VolumeKeys keys) throws IOException {
        List<ObjectInfo> leases = store.list(keys.leasePrefix());
        for (int i = leases.size() - 1; i >= 0; i--) {
            String key = leases.get(i).key();
            try {
                return decode(store.get(key), key);
            } catch (NoSuchObjectException gone) {
                // deleted by the holder's clean-up between list and get: look at the next
            }
        }
        return null;
    }

    /**
     * Takes the lease for {@code holder}. {@code ownCrashRecovery} is true when this node holds the
     * local lock, so a lease naming this node is left over from its own crash. {@code force} takes
     * a lease another node holds: that node is fenced from then on (see
     * {@link #checkCurrent()}).
     */
    static Lease acquire(ObjectStore store, VolumeKeys keys, String holder, boolean ownCrashRecovery, boolean force) throws IOException {
        for (int attempt = 0; attempt < 3; attempt++) {
            Info cur = current(store, keys);
            if (!force && cur != null && !cur.released() && !(ownCrashRecovery && cur.holder().equals(holder))) {
                throw inUse(keys.volume(), cur);
            }
            long epoch = cur == null ? 1 : cur.epoch() + 1;
            Instant now = Instant.now();
            if (store.putIfAbsent(keys.lease(epoch), encode(new Info(holder, epoch, now, ProcessHandle.current().pid(), false)))) {
                Lease lease = new Lease(store, keys, holder, epoch, now, cur);
                lease.deleteOlderThan(epoch);
                return lease;
            }
            // another node created that epoch first: look again, it probably holds the lease now
        }
        Info cur = current(store, keys);
        throw cur == null ? new VolumeInUseException("volume \"" + keys.volume() + "\": could not take its lease (contended)") : inUse(keys.volume(), cur);
    }

    static VolumeInUseException inUse(String volume, Info cur) {
        return new VolumeInUseException("volume \"" + volume + "\" is open by " + cur.holder() + " (pid " + cur.pid() + ", epoch " + cur.epoch()
                + ") since " + cur.since() + "; close it there first");
    }

    /**
     * Fails with {@link VolumeFencedException} unless this lease is still the one in force: a
     * writer calls it before each map delta, so a node whose lease was taken over stops writing
     * to the store.
     */
    void checkCurrent() throws IOException {
        Info cur = current(store, keys);
        if (cur == null || cur.epoch() != epoch) {
            throw new VolumeFencedException("volume \"" + keys.volume() + "\" was taken over"
                    + (cur == null ? " (its lease is gone: deleted?)" : " by " + cur.holder() + " (pid " + cur.pid() + ", epoch " + cur.epoch() + ") at " + cur.since())
                    + "; this node (epoch " + epoch + ") no longer writes to it, and its writes not yet in the store are discarded");
        }
    }

    /** Marks the lease released: the next opener takes the following epoch. */
    void release() throws IOException {
        store.put(keys.lease(epoch), encode(new Info(holder, epoch, since, ProcessHandle.current().pid(), true)));
    }

    private void deleteOlderThan(long epoch) throws IOException {
        for (ObjectInfo o : store.list(keys.leasePrefix())) {
            if (Formats.seqOfKey(o.key()) < epoch) {
                store.delete(o.key());
            }
        }
    }

    static ByteBuffer encode(Info info) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("holder", info.holder());
        m.put("epoch", info.epoch());
        m.put("since", info.since().toString());
        m.put("pid", info.pid());
        m.put("released", info.released());
        return ByteBuffer.wrap((FlatJson.write(m) + "\n").getBytes(StandardCharsets.UTF_8));
    }

    static Info decode(ByteBuffer buf, String source) throws IOException {
        byte[] b = new byte[buf.remaining()];
        buf.duplicate().get(b);
        Map<String, Object> m = FlatJson.parse(new String(b, StandardCharsets.UTF_8), source);
        try {
            return new Info((String) m.get("holder"), (Long) m.get("epoch"), Instant.parse((String) m.get("since")),
                    (Long) m.get("pid"), (Boolean) m.get("released"));
        } catch (RuntimeException e) {
            throw new io.viperblock.core.format.CorruptFormatException(source + ": missing or malformed lease field (" + e + ")", source, 0);
        }
    }
}
