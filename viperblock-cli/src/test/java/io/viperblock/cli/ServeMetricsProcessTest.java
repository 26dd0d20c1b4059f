package io.viperblock.cli;

import static io.viperblock.cli.metrics.PromParser.value;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import io.viperblock.cli.metrics.PromParser;
import io.viperblock.nbd.server.Tools;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bin/vblock serve --metrics} in a child process (on the classes just compiled, through
 * VB_CLASSPATH), loaded by fio over NBD and scraped over HTTP during and after the run.
 */
class ServeMetricsProcessTest {
    private static final Path VBLOCK = Path.of(System.getProperty("user.dir")).getParent().resolve("bin/vblock");
    private static final Pattern SERVING = Pattern.compile("serving nbd://127\\.0\\.0\\.1:(\\d+)/vol ");
    private static final Pattern METRICS = Pattern.compile("metrics on (http://127\\.0\\.0\\.1:\\d+/metrics)");
    private static final long SIZE = 64L << 20;

    @TempDir
    Path tmp;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private Tools.Cmd vblock(String... args) {
        return Tools.exec(VBLOCK, args)
                .env("JAVA_HOME", System.getProperty("java.home"))
                .env("VB_CLASSPATH", System.getProperty("java.class.path"))
                .env("VB_JAVA_OPTS", "-Xmx512m")
                .env("VB_STORE", "file:" + tmp.resolve("store"))
                .env("VB_DATA", tmp.resolve("node").toString())
                .timeout(Duration.ofMinutes(2));
    }

    private HttpResponse<String> get(URI uri) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private Map<String, PromParser.Family> scrape(URI uri) throws IOException, InterruptedException {
        HttpResponse<String> r = get(uri);
        assertEquals(200, r.statusCode(), r.body());
        return PromParser.parse(r.body());
    }

    /** Scrapes until {@code done} holds (or fails after {@code within}); returns that scrape. */
    private Map<String, PromParser.Family> scrapeUntil(URI uri, Duration within, String what, Predicate<Map<String, PromParser.Family>> done)
            throws IOException, InterruptedException {
        long deadline = System.nanoTime() + within.toNanos();
        Map<String, PromParser.Family> m = scrape(uri);
        while (!done.test(m)) {
            if (System.nanoTime() > deadline) {
                fail("not within " + within + ": " + what);
            }
            Thread.sleep(100);
            m = scrape(uri);
        }
        return m;
    }

    @Test
    void countersMoveUnderFioAndTheEndpointFollowsTheServer() throws Exception {
        Path fio = Tools.require("fio");
        Tools.require("nbdsh");
        vblock("create", "vol", "--size", "64M").run().ok();
        Path log = tmp.resolve("serve.log");
        boolean[] forced = {false};
        Process serve = vblock("serve", "--metrics", "127.0.0.1:0", "--listen", "127.0.0.1:0", "vol").start(log);
        try {
            Matcher nbdLine = await(serve, log, SERVING);
            URI metrics = URI.create(await(serve, log, METRICS).group(1));
            String nbd = "nbd://127.0.0.1:" + nbdLine.group(1) + "/vol";

            Map<String, PromParser.Family> before = scrape(metrics);
            assertEquals(0, value(before, "viperblock_volume_writes_total", "volume", "vol"));
            assertEquals(0, value(before, "viperblock_nbd_connections"));
            assertEquals(404, get(metrics.resolve("/nope")).statusCode());
            assertEquals(404, get(metrics.resolve("/")).statusCode());

            Path report = tmp.resolve("fio.json");
            Process load = Tools.exec(fio, "--name=metrics", "--ioengine=nbd", "--uri=" + nbd, "--rw=randwrite", "--bs=4k",
                    "--iodepth=8", "--size=16M", "--time_based", "--runtime=3", "--fsync=32", "--randseed=7",
                    "--output-format=json", "--output=" + report).dir(tmp).start(tmp.resolve("fio.log"));
            Map<String, PromParser.Family> during;
            try {
                during = scrapeUntil(metrics, Duration.ofSeconds(20), "an open connection and writes during the fio run",
                        m -> value(m, "viperblock_nbd_connections") >= 1 && value(m, "viperblock_volume_writes_total", "volume", "vol") > 0);
                assertTrue(load.waitFor(60, TimeUnit.SECONDS), "fio did not finish in 60 s");
            } finally {
                Tools.stop(load, Duration.ofSeconds(5));
            }
            assertEquals(0, load.exitValue(), Files.readString(tmp.resolve("fio.log")));
            JsonNode job = Tools.json(Files.readString(report)).get("jobs").get(0);
            assertEquals(0, job.get("error").asInt(), job.toString());
            long ios = job.get("write").get("total_ios").asLong();
            long bytes = job.get("write").get("io_bytes").asLong();
            assertTrue(ios > 0 && bytes == ios * 4096, "fio wrote " + ios + " I/Os, " + bytes + " bytes");

            Map<String, PromParser.Family> after = scrapeUntil(metrics, Duration.ofSeconds(10), "the connection closed after fio",
                    m -> value(m, "viperblock_nbd_connections") == 0);
            double writes = value(after, "viperblock_volume_writes_total", "volume", "vol");
            assertTrue(writes >= value(during, "viperblock_volume_writes_total", "volume", "vol"));
            assertEquals(ios, writes, "every write fio completed, counted once");
            assertEquals(bytes, value(after, "viperblock_volume_write_bytes_total", "volume", "vol"));
            assertEquals(ios, value(after, "viperblock_nbd_requests_total", "command", "WRITE"));
            assertEquals(ios, value(after, "viperblock_volume_write_latency_seconds_count", "volume", "vol"));
            double flushes = value(after, "viperblock_nbd_requests_total", "command", "FLUSH");
            assertTrue(flushes >= job.get("sync").get("total_ios").asLong() && flushes >= 1, "fio's --fsync=32 sends flushes: " + flushes);
            assertEquals(flushes, value(after, "viperblock_volume_flushes_total", "volume", "vol"));
            double fsyncs = value(after, "viperblock_wal_fsyncs_total", "volume", "vol");
            assertTrue(fsyncs >= 1 && fsyncs <= flushes, "fdatasyncs " + fsyncs + " for " + flushes + " flushes");
            assertTrue(value(after, "viperblock_wal_records_total", "volume", "vol") >= ios);
            double records = value(after, "viperblock_wal_records_total", "volume", "vol");
            System.out.printf("fio through vblock serve: %d writes (%.0f IOPS), %.0f flushes, %.0f fdatasyncs (%.1f WAL records per fdatasync),"
                            + " mean write %.1f us, mean flush %.2f ms%n",
                    ios, job.get("write").get("iops").asDouble(), flushes, fsyncs, records / fsyncs,
                    1e6 * value(after, "viperblock_volume_write_latency_seconds_sum", "volume", "vol") / writes,
                    1e3 * value(after, "viperblock_volume_flush_latency_seconds_sum", "volume", "vol") / flushes);
            double accepted = value(after, "viperblock_nbd_connections_accepted_total");
            assertTrue(accepted >= 1, "fio connected (its nbd engine may open more than one connection)");

            // the WAL segment seals after 5 s idle; its consolidation stores chunks, then a map delta,
            // and counts the run at its end
            Map<String, PromParser.Family> stored = scrapeUntil(metrics, Duration.ofSeconds(60), "a consolidation run stored",
                    m -> value(m, "viperblock_consolidations_total", "volume", "vol") >= 1);
            assertTrue(value(stored, "viperblock_chunks_uploaded_total", "volume", "vol") >= 1);
            assertTrue(value(stored, "viperblock_store_requests_total", "op", "put") >= 2, "chunks and a map delta");
            assertTrue(value(stored, "viperblock_store_bytes_total", "op", "put")
                    >= value(stored, "viperblock_chunk_uploaded_bytes_total", "volume", "vol"));
            assertTrue(value(stored, "viperblock_wal_kept_bytes", "volume", "vol") > 0, "the consolidated segment is kept for reads");

            // a read past the end (libnbd's own check off) is refused with EINVAL, and counted
            Tools.Result refused = Tools.cmd("nbdsh", "-u", nbd, "-c", String.join("\n",
                    "h.set_strict_mode(0)",
                    "try:",
                    "    h.pread(4096, " + SIZE + ")",
                    "except nbd.Error as e:",
                    "    print('refused', e.errno)")).env("PATH", "/usr/bin:/bin").run().ok();
            assertEquals("refused EINVAL", refused.out().strip(), refused.describe(""));
            Map<String, PromParser.Family> errors = scrapeUntil(metrics, Duration.ofSeconds(10), "the EINVAL counted",
                    m -> value(m, "viperblock_nbd_errors_total", "errno", "EINVAL") == 1);
            assertEquals(accepted + 1, value(errors, "viperblock_nbd_connections_accepted_total"), "nbdsh's connection");
        } finally {
            forced[0] = Tools.stop(serve, Duration.ofSeconds(60)); // SIGTERM: drain, close, stop the endpoint
        }
        assertTrue(!forced[0], "vblock serve did not stop on SIGTERM within 60 s:\n" + Files.readString(log));
        URI gone = URI.create(METRICS.matcher(Files.readString(log)).results().findFirst().orElseThrow().group(1));
        assertThrows(IOException.class, () -> get(gone), "the metrics endpoint stops with the server");
    }

    /** {@code --wal-keep 0}: a consolidated segment is let go at once, and its blocks read back from the store. */
    @Test
    void walKeepZeroKeepsNoConsolidatedWal() throws Exception {
        Tools.require("nbdsh");
        vblock("create", "vol", "--size", "64M").run().ok();
        Path log = tmp.resolve("serve.log");
        Process serve = vblock("serve", "--wal-keep", "0", "--metrics", "127.0.0.1:0", "--listen", "127.0.0.1:0", "vol").start(log);
        try {
            String nbd = "nbd://127.0.0.1:" + await(serve, log, SERVING).group(1) + "/vol";
            URI metrics = URI.create(await(serve, log, METRICS).group(1));
            Tools.cmd("nbdsh", "-u", nbd, "-c", "h.pwrite(b'k' * 1048576, 0); h.flush()").env("PATH", "/usr/bin:/bin").run().ok();
            // the segment seals after 5 s idle and is consolidated
            Map<String, PromParser.Family> stored = scrapeUntil(metrics, Duration.ofSeconds(60), "a consolidation run stored",
                    m -> value(m, "viperblock_consolidations_total", "volume", "vol") >= 1);
            assertEquals(0, value(stored, "viperblock_wal_kept_bytes", "volume", "vol"), "nothing kept");
            Map<String, PromParser.Family> before = scrape(metrics);
            Tools.Result read = Tools.cmd("nbdsh", "-u", nbd, "-c", "print(h.pread(1048576, 0) == b'k' * 1048576)")
                    .env("PATH", "/usr/bin:/bin").run().ok();
            assertEquals("True", read.out().strip(), read.describe(""));
            Map<String, PromParser.Family> after = scrape(metrics);
            assertTrue(value(after, "viperblock_store_requests_total", "op", "get") > value(before, "viperblock_store_requests_total", "op", "get"),
                    "read from the store");
            assertEquals(value(before, "viperblock_wal_block_reads_total", "volume", "vol"),
                    value(after, "viperblock_wal_block_reads_total", "volume", "vol"), "not from the WAL");
        } finally {
            assertTrue(!Tools.stop(serve, Duration.ofSeconds(60)), "vblock serve did not stop on SIGTERM within 60 s");
        }
    }

    /** Python for nbdsh: writes 1 MiB of 'a', then every other block of it as 'b', so its blocks lie in 256 pieces of the WAL. */
    private static final String SCATTER = "h.pwrite(b'a' * 1048576, 0)\nfor i in range(1, 256, 2): h.pwrite(b'b' * 4096, i * 4096)\n";
    /** Python for nbdsh: prints whether the first MiB reads as {@link #SCATTER} left it. */
    private static final String CHECK = "want = bytearray(b'a' * 1048576)\n"
            + "for i in range(1, 256, 2): want[i * 4096:(i + 1) * 4096] = b'b' * 4096\n"
            + "print(h.pread(1048576, 0) == bytes(want))";

    /**
     * A large read of a scattered range has it written again once the server is quiet, counted by
     * {@code viperblock_defragmented_blocks_total}, and reading the same; {@code --no-idle-work} (alias {@code --no-defrag})
     * writes nothing again and fills no spare WAL file ({@code viperblock_wal_spares_filled_total}).
     */
    @Test
    void scatteredRangesAreWrittenAgainUnlessTurnedOff() throws Exception {
        Tools.require("nbdsh");
        for (boolean off : new boolean[] {false, true}) {
            String vol = off ? "still" : "defrag";
            vblock("create", vol, "--size", "64M").run().ok();
            Path log = tmp.resolve(vol + ".log");
            List<String> args = new java.util.ArrayList<>(List.of("serve", "--metrics", "127.0.0.1:0", "--listen", "127.0.0.1:0", vol));
            if (off) {
                args.add(1, "--no-idle-work");
            }
            Process serve = vblock(args.toArray(String[]::new)).start(log);
            try {
                String nbd = "nbd://127.0.0.1:" + await(serve, log, Pattern.compile("serving nbd://127\\.0\\.0\\.1:(\\d+)/" + vol + " ")).group(1) + "/" + vol;
                URI metrics = URI.create(await(serve, log, METRICS).group(1));
                Tools.Result first = Tools.cmd("nbdsh", "-u", nbd, "-c", SCATTER + CHECK)
                        .env("PATH", "/usr/bin:/bin").run().ok();
                assertEquals("True", first.out().strip(), first.describe(""));
                if (off) {
                    Thread.sleep(3000);
                    Map<String, PromParser.Family> m = scrape(metrics);
                    assertEquals(0, value(m, "viperblock_defragmented_blocks_total", "volume", vol), "--no-idle-work");
                    assertEquals(0, value(m, "viperblock_wal_spares_filled_total", "volume", vol), "--no-idle-work");
                } else {
                    scrapeUntil(metrics, Duration.ofSeconds(30), "the scattered MiB written again",
                            m -> value(m, "viperblock_defragmented_blocks_total", "volume", vol) >= 256);
                }
                Tools.Result again = Tools.cmd("nbdsh", "-u", nbd, "-c", CHECK).env("PATH", "/usr/bin:/bin").run().ok();
                assertEquals("True", again.out().strip(), again.describe(""));
            } finally {
                assertTrue(!Tools.stop(serve, Duration.ofSeconds(60)), "vblock serve did not stop on SIGTERM within 60 s");
            }
        }
    }

    /** Waits for {@code p} to print a line matching {@code pattern}. */
    private static Matcher await(Process p, Path log, Pattern pattern) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            Matcher m = pattern.matcher(Files.readString(log));
            if (m.find()) {
                return m;
            }
            if (!p.isAlive()) {
                fail("vblock serve exited with " + p.exitValue() + ":\n" + Files.readString(log));
            }
            Thread.sleep(50);
        }
        fail("vblock serve printed no \"" + pattern + "\" within 60 s:\n" + Files.readString(log));
        return null;
    }
}
