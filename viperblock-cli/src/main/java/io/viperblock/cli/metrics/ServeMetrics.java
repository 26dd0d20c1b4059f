package io.viperblock.cli.metrics;

import io.viperblock.cli.metrics.PromWriter.Type;
import io.viperblock.core.metrics.LatencyHistogram;
import io.viperblock.core.store.MeteredStore;
import io.viperblock.core.volume.Volume;
import io.viperblock.core.volume.VolumeStats;
import io.viperblock.nbd.server.NbdServer;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.ToDoubleFunction;

/**
 * What {@code vblock serve --metrics} exposes: every open volume's counters (label
 * {@code volume}), the store's requests (through {@link MeteredStore}), the NBD server's
 * connections and requests, and the process's memory and uptime. Each scrape reads the counters
 * afresh; nothing is kept between scrapes. Thread-safe: it only reads thread-safe counters.
 */
public final class ServeMetrics {
    private static final double[] BOUNDS = LatencyHistogram.boundsSeconds();
    private static final Path STATUS = Path.of("/proc/self/status");

    /** One per-volume family: its name, type, help and how to read it from the stats. */
    private record VolumeFamily(String name, Type type, String help, ToDoubleFunction<VolumeStats> value) {}

    /** One per-volume latency histogram. */
    private record VolumeHistogram(String name, String help, Function<VolumeStats, LatencyHistogram.Snapshot> value) {}

    private static final List<VolumeFamily> VOLUME = List.of(
            new VolumeFamily("viperblock_volume_reads_total", Type.COUNTER, "Reads served.", VolumeStats::reads),
            new VolumeFamily("viperblock_volume_read_bytes_total", Type.COUNTER, "Bytes read.", VolumeStats::bytesRead),
            new VolumeFamily("viperblock_volume_writes_total", Type.COUNTER, "Writes acknowledged.", VolumeStats::writes),
            new VolumeFamily("viperblock_volume_write_bytes_total", Type.COUNTER, "Bytes written.", VolumeStats::bytesWritten),
            new VolumeFamily("viperblock_volume_partial_writes_total", Type.COUNTER,
                    "Writes not aligned to 4 KiB blocks (read-modify-write).", VolumeStats::partialWrites),
            new VolumeFamily("viperblock_volume_zeroes_total", Type.COUNTER, "WRITE_ZEROES requests.", VolumeStats::zeroes),
            new VolumeFamily("viperblock_volume_trims_total", Type.COUNTER, "TRIM requests.", VolumeStats::trims),
            new VolumeFamily("viperblock_volume_flushes_total", Type.COUNTER, "Flushes, FUA writes included.", VolumeStats::flushes),
            new VolumeFamily("viperblock_wal_fsyncs_total", Type.COUNTER,
                    "fdatasync calls of the WAL for flushes (group commit: many flushes may share one).", VolumeStats::walSyncs),
            new VolumeFamily("viperblock_wal_records_total", Type.COUNTER,
                    "WAL records written (records per fsync = this / fsyncs).", VolumeStats::walRecords),
            new VolumeFamily("viperblock_wal_write_calls_total", Type.COUNTER,
                    "Gathering write calls to the WAL (each carries a batch of records).", VolumeStats::walWriteCalls),
            new VolumeFamily("viperblock_wal_bytes_total", Type.COUNTER, "Bytes appended to the WAL.", VolumeStats::walBytes),
            new VolumeFamily("viperblock_wal_pending_bytes", Type.GAUGE, "WAL bytes not yet consolidated into the store.",
                    VolumeStats::pendingWalBytes),
            new VolumeFamily("viperblock_wal_segments", Type.GAUGE, "WAL segments not yet consolidated (the active one included).",
                    VolumeStats::walSegments),
            new VolumeFamily("viperblock_wal_block_reads_total", Type.COUNTER,
                    "Blocks read from the WAL (not yet in the store, or consolidated recently and still kept).", VolumeStats::walBlockReads),
            new VolumeFamily("viperblock_wal_kept_bytes", Type.GAUGE,
                    "Bytes of consolidated WAL segments kept on local disk to serve reads of recent writes.", VolumeStats::keptWalBytes),
            new VolumeFamily("viperblock_consolidations_total", Type.COUNTER, "Consolidation runs (WAL segments packed into chunks).",
                    VolumeStats::consolidations),
            new VolumeFamily("viperblock_consolidation_failures_total", Type.COUNTER, "Consolidation runs that failed (retried later).",
                    VolumeStats::consolidationFailures),
            new VolumeFamily("viperblock_chunks_uploaded_total", Type.COUNTER, "Chunks stored.", VolumeStats::chunksWritten),
            new VolumeFamily("viperblock_chunks_linked_total", Type.COUNTER,
                    "Chunks stored as WAL segment files linked into a file store, no bytes copied (among those stored).", VolumeStats::chunksLinked),
            new VolumeFamily("viperblock_chunk_uploaded_bytes_total", Type.COUNTER, "Bytes of chunks stored.", VolumeStats::chunkBytesWritten),
            new VolumeFamily("viperblock_checkpoints_total", Type.COUNTER, "Block map checkpoints stored.", VolumeStats::checkpoints),
            new VolumeFamily("viperblock_chunks_deleted_total", Type.COUNTER, "Chunks no block map named any more, deleted from the store.",
                    VolumeStats::chunksDeleted),
            new VolumeFamily("viperblock_chunks_recycled_total", Type.COUNTER,
                    "Of the chunks deleted, linked WAL segment files the WAL took back as spares instead.", VolumeStats::chunksRecycled),
            new VolumeFamily("viperblock_defragmented_blocks_total", Type.COUNTER,
                    "Blocks written again, unchanged, so that scattered ranges lie together (Defragmenter).", VolumeStats::blocksDefragmented),
            new VolumeFamily("viperblock_wal_spares_filled_total", Type.COUNTER,
                    "Spare WAL files filled with zeros while the volume was quiet, for segments that would have started in new files.",
                    VolumeStats::walSparesFilled),
            new VolumeFamily("viperblock_idle_work_pending", Type.GAUGE,
                    "Work the volume does once it has been idle for a second: scattered MiB regions to write again plus spare WAL files to fill.",
                    s -> s.defragRegionsNoted() + s.walSparesLacked()),
            new VolumeFamily("viperblock_cache_hits_total", Type.COUNTER, "Chunk blocks served from the cache.", VolumeStats::cacheHits),
            new VolumeFamily("viperblock_cache_misses_total", Type.COUNTER, "Chunk blocks fetched from the store.", VolumeStats::cacheMisses),
            new VolumeFamily("viperblock_backpressure_waits_total", Type.COUNTER,
                    "Writes that waited because the unconsolidated WAL was over its bound.", VolumeStats::backpressureWaits),
            new VolumeFamily("viperblock_map_extents", Type.GAUGE, "Extents in the block map.", VolumeStats::mapExtents),
            new VolumeFamily("viperblock_map_chunks", Type.GAUGE, "Chunks the block map references.", VolumeStats::chunks),
            new VolumeFamily("viperblock_dirty_extents", Type.GAUGE, "Extents in the dirty index (in the WAL, not yet in the store).",
                    VolumeStats::dirtyExtents));

    private static final List<VolumeHistogram> VOLUME_LATENCY = List.of(
            new VolumeHistogram("viperblock_volume_read_latency_seconds", "Time of a read.", VolumeStats::readLatency),
            new VolumeHistogram("viperblock_volume_write_latency_seconds", "Time of a write, until it is in the WAL (or synced, with FUA).",
                    VolumeStats::writeLatency),
            new VolumeHistogram("viperblock_volume_flush_latency_seconds", "Time of a flush.", VolumeStats::flushLatency),
            new VolumeHistogram("viperblock_wal_fsync_latency_seconds", "Time of one WAL fdatasync.", VolumeStats::walSyncLatency));

    private final List<Volume> volumes;
    private final MeteredStore store;
    private final NbdServer nbd;
    private final long startedMillis = ManagementFactory.getRuntimeMXBean().getStartTime();
    private final MemoryMXBean memory = ManagementFactory.getMemoryMXBean();

    public ServeMetrics(List<Volume> volumes, MeteredStore store, NbdServer nbd) {
        this.volumes = List.copyOf(volumes);
        this.store = store;
        this.nbd = nbd;
    }

    /** The whole exposition, read now. */
    public String scrape() {
        PromWriter w = new PromWriter();
        volumes(w);
        store(w);
        nbd(w);
        process(w);
        return w.text();
    }

    private void volumes(PromWriter w) {
        List<VolumeStats> stats = new ArrayList<>(volumes.size());
        for (Volume v : volumes) {
            stats.add(v.stats());
        }
        w.family("viperblock_volume_size_bytes", Type.GAUGE, "Size of the volume.");
        for (Volume v : volumes) {
            w.sample(v.size(), "volume", v.name());
        }
        w.family("viperblock_volume_fenced", Type.GAUGE, "1 once another node has taken the volume over (it refuses every request).");
        for (Volume v : volumes) {
            w.sample(v.isFenced() ? 1 : 0, "volume", v.name());
        }
        for (VolumeFamily f : VOLUME) {
            w.family(f.name(), f.type(), f.help());
            for (int i = 0; i < volumes.size(); i++) {
                w.sample(f.value().applyAsDouble(stats.get(i)), "volume", volumes.get(i).name());
            }
        }
        for (VolumeHistogram h : VOLUME_LATENCY) {
            w.family(h.name(), Type.HISTOGRAM, h.help());
            for (int i = 0; i < volumes.size(); i++) {
                histogram(w, h.value().apply(stats.get(i)), "volume", volumes.get(i).name());
            }
        }
    }

    private static void histogram(PromWriter w, LatencyHistogram.Snapshot h, String... labels) {
        w.histogram(BOUNDS, h.counts(), h.sumNanos() / 1e9, labels);
    }

    private void store(PromWriter w) {
        w.family("viperblock_store_requests_total", Type.COUNTER, "Object store requests by operation, failed ones included.");
        for (MeteredStore.Op op : MeteredStore.Op.values()) {
            w.sample(store.requests(op), "op", op.label());
        }
        w.family("viperblock_store_errors_total", Type.COUNTER,
                "Object store requests that failed, by operation and kind (not_found, full, io, other).");
        for (MeteredStore.Op op : MeteredStore.Op.values()) {
            for (MeteredStore.ErrorKind kind : MeteredStore.ErrorKind.values()) {
                w.sample(store.errors(op, kind), "op", op.label(), "kind", kind.label());
            }
        }
        w.family("viperblock_store_bytes_total", Type.COUNTER, "Bytes stored (put, put_if_absent) and fetched (get).");
        for (MeteredStore.Op op : List.of(MeteredStore.Op.PUT, MeteredStore.Op.PUT_IF_ABSENT, MeteredStore.Op.GET)) {
            w.sample(store.bytes(op), "op", op.label());
        }
        w.family("viperblock_store_request_latency_seconds", Type.HISTOGRAM, "Time of an object store request, by operation.");
        for (MeteredStore.Op op : MeteredStore.Op.values()) {
            histogram(w, store.latency(op), "op", op.label());
        }
    }

    private void nbd(PromWriter w) {
        w.family("viperblock_nbd_connections", Type.GAUGE, "NBD connections open now.");
        w.sample(nbd.connectionCount());
        w.family("viperblock_nbd_connections_accepted_total", Type.COUNTER, "NBD connections accepted.");
        w.sample(nbd.stats().connectionsAccepted());
        w.family("viperblock_nbd_requests_total", Type.COUNTER, "NBD requests received, by command.");
        for (Map.Entry<String, Long> e : nbd.stats().requestsByCommand().entrySet()) {
            w.sample(e.getValue(), "command", e.getKey());
        }
        w.family("viperblock_nbd_requests_served_by_reader_total", Type.COUNTER,
                "NBD requests that the connection's reader served itself, without a hand-off to a worker.");
        w.sample(nbd.stats().servedByReader());
        w.family("viperblock_nbd_writes_joined_total", Type.COUNTER,
                "NBD writes served together with others that were already read, in one group commit and one reply write.");
        w.sample(nbd.stats().joinedWrites());
        w.family("viperblock_nbd_reads_joined_total", Type.COUNTER,
                "NBD reads served one after the other by one worker, with others that were already read, their replies in one write.");
        w.sample(nbd.stats().joinedReads());
        w.family("viperblock_nbd_errors_total", Type.COUNTER, "NBD error replies, by errno.");
        for (Map.Entry<String, Long> e : nbd.stats().errorsByErrno().entrySet()) {
            w.sample(e.getValue(), "errno", e.getKey());
        }
    }

    private void process(PromWriter w) {
        w.family("jvm_memory_used_bytes", Type.GAUGE, "JVM memory in use, by area.");
        w.sample(memory.getHeapMemoryUsage().getUsed(), "area", "heap");
        w.sample(memory.getNonHeapMemoryUsage().getUsed(), "area", "nonheap");
        w.family("jvm_memory_max_bytes", Type.GAUGE, "The most heap the JVM may use.");
        w.sample(memory.getHeapMemoryUsage().getMax(), "area", "heap");
        long rss = residentBytes();
        if (rss >= 0) {
            w.family("process_resident_memory_bytes", Type.GAUGE, "Resident set size of the process (VmRSS).");
            w.sample(rss);
        }
        w.family("process_start_time_seconds", Type.GAUGE, "When the process started, in seconds since the epoch.");
        w.sample(startedMillis / 1e3);
        w.family("viperblock_uptime_seconds", Type.GAUGE, "Seconds since the process started.");
        w.sample((System.currentTimeMillis() - startedMillis) / 1e3);
    }

    /** VmRSS from /proc/self/status, or -1 where there is none (not Linux). */
    static long residentBytes() {
        try {
            for (String line : Files.readAllLines(STATUS)) {
                if (line.startsWith("VmRSS:")) {
                    String kb = line.substring("VmRSS:".length()).trim();
                    return Long.parseLong(kb.substring(0, kb.indexOf(' '))) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }
}
