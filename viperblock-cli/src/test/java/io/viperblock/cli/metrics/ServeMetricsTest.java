package io.viperblock.cli.metrics;

import static io.viperblock.cli.metrics.PromParser.value;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.core.store.MemoryStore;
import io.viperblock.core.store.MeteredStore;
import io.viperblock.core.store.NoSuchObjectException;
import io.viperblock.core.volume.Volume;
import io.viperblock.core.volume.VolumeManager;
import io.viperblock.nbd.server.NbdServer;
import io.viperblock.nbd.server.NbdServerConfig;
import io.viperblock.nbd.server.VolumeExports;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What {@code serve --metrics} renders, read through the strict parser, for two volumes on a metered memory store. */
class ServeMetricsTest {
    @TempDir
    Path tmp;

    @Test
    void countersFollowWhatTheVolumesAndTheStoreDid() throws Exception {
        MeteredStore store = new MeteredStore(new MemoryStore());
        VolumeManager mgr = new VolumeManager(store, tmp);
        mgr.create("a", 16L << 20);
        mgr.create("b", 8L << 20);
        Volume a = mgr.open("a");
        Volume b = mgr.open("b");
        NbdServer nbd = new NbdServer(new VolumeExports(List.of(a, b)), NbdServerConfig.defaults());
        try {
            ServeMetrics metrics = new ServeMetrics(List.of(a, b), store, nbd);
            Map<String, PromParser.Family> before = PromParser.parse(metrics.scrape());
            assertEquals(0, value(before, "viperblock_volume_writes_total", "volume", "a"));
            assertThrows(NoSuchObjectException.class, () -> store.get("no/such/object"));

            for (int i = 0; i < 10; i++) {
                a.write(i * 8192L, new byte[8192], false);
            }
            a.write(10, new byte[100], false); // a partial block: read-modify-write
            a.flush();
            a.read(0, 4096);
            a.read(8192, 8192);
            a.read(5, 10);
            a.trim(1 << 20, 1 << 20);
            a.writeZeroes(2 << 20, 4096, false);
            a.drain();

            Map<String, PromParser.Family> m = PromParser.parse(metrics.scrape());
            assertEquals(11, value(m, "viperblock_volume_writes_total", "volume", "a"));
            assertEquals(0, value(m, "viperblock_volume_writes_total", "volume", "b"));
            assertEquals(10 * 8192 + 100, value(m, "viperblock_volume_write_bytes_total", "volume", "a"));
            assertEquals(1, value(m, "viperblock_volume_partial_writes_total", "volume", "a"));
            assertEquals(11, value(m, "viperblock_volume_write_latency_seconds_count", "volume", "a"));
            assertEquals(11, value(m, "viperblock_volume_write_latency_seconds_bucket", "volume", "a", "le", "+Inf"));
            assertTrue(value(m, "viperblock_volume_write_latency_seconds_sum", "volume", "a") > 0);
            assertEquals(3, value(m, "viperblock_volume_reads_total", "volume", "a"));
            assertEquals(4096 + 8192 + 10, value(m, "viperblock_volume_read_bytes_total", "volume", "a"));
            assertEquals(3, value(m, "viperblock_volume_read_latency_seconds_count", "volume", "a"));
            assertEquals(1, value(m, "viperblock_volume_flushes_total", "volume", "a"));
            assertEquals(1, value(m, "viperblock_volume_flush_latency_seconds_count", "volume", "a"));
            double fsyncs = value(m, "viperblock_wal_fsyncs_total", "volume", "a");
            assertEquals(1, fsyncs, "one flush after writes is one fdatasync");
            assertEquals(fsyncs, value(m, "viperblock_wal_fsync_latency_seconds_count", "volume", "a"));
            assertTrue(value(m, "viperblock_wal_records_total", "volume", "a") >= 13, "11 writes, a trim and a zero are WAL records");
            assertEquals(1, value(m, "viperblock_volume_trims_total", "volume", "a"));
            assertEquals(1, value(m, "viperblock_volume_zeroes_total", "volume", "a"));
            assertEquals(16 << 20, value(m, "viperblock_volume_size_bytes", "volume", "a"));
            assertEquals(0, value(m, "viperblock_volume_fenced", "volume", "a"));

            // the drain consolidated it all: a chunk and a map delta went to the store
            assertTrue(value(m, "viperblock_consolidations_total", "volume", "a") >= 1);
            assertTrue(value(m, "viperblock_chunks_uploaded_total", "volume", "a") >= 1);
            assertTrue(value(m, "viperblock_chunk_uploaded_bytes_total", "volume", "a") >= 10 * 8192);
            assertEquals(0, value(m, "viperblock_dirty_extents", "volume", "a"));
            assertEquals(0, value(m, "viperblock_consolidations_total", "volume", "b"));
            double puts = value(m, "viperblock_store_requests_total", "op", "put");
            assertTrue(puts >= 2, "a chunk and a delta: " + puts);
            assertEquals(puts, value(m, "viperblock_store_request_latency_seconds_count", "op", "put"));
            assertTrue(value(m, "viperblock_store_bytes_total", "op", "put") >= 10 * 8192);
            assertTrue(value(m, "viperblock_store_requests_total", "op", "put_if_absent") >= 2, "a lease per volume");
            assertEquals(1, value(m, "viperblock_store_errors_total", "op", "get", "kind", "not_found")
                    - value(before, "viperblock_store_errors_total", "op", "get", "kind", "not_found"));
            assertEquals(0, value(m, "viperblock_store_errors_total", "op", "put", "kind", "io"));

            assertEquals(0, value(m, "viperblock_nbd_connections"));
            assertEquals(0, value(m, "viperblock_nbd_requests_total", "command", "WRITE"));
            assertTrue(value(m, "jvm_memory_used_bytes", "area", "heap") > 0);
            assertTrue(value(m, "process_resident_memory_bytes") > 0);
            assertTrue(value(m, "viperblock_uptime_seconds") > 0);
        } finally {
            nbd.shutdown(Duration.ZERO);
            a.close();
            b.close();
        }
    }
}
