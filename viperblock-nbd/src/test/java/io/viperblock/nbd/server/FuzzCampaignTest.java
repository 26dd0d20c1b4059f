package io.viperblock.nbd.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import io.viperblock.nbd.protocol.Nbd;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.slf4j.LoggerFactory;

/**
 * Durability campaign 5, hostile input: one server on 127.0.0.1, thousands of fuzz connections
 * (random bytes, mutated handshakes and requests, option floods, absurd lengths, structured replies
 * negotiated in odd orders, requests past the end or before negotiation, partial frames and
 * dropped connections) on export "fuzz", while a well-behaved client on export "good" writes,
 * reads and flushes a known pattern and must see no error and exactly its data. Afterwards the
 * server still accepts connections, its heap and direct memory are back near the baseline, its
 * threads are gone and nothing was logged at WARN or above.
 *
 * <p>{@code -Dcampaign.cases=N} (default 3000, the short run in {@code make test}),
 * {@code -Dcampaign.seed=S} replays a run; the summary goes to {@code target/campaign-fuzz.json}.
 */
class FuzzCampaignTest {
    private static final long FUZZ_SIZE = 64L << 20;
    private static final long GOOD_SIZE = 16L << 20;
    private static final int PARALLEL = 8;
    /** A case whose stream stalls (a partial frame the server waits for) is given up after this long idle. */
    private static final int IDLE_MS = 100;
    private static final long MEMORY_BOUND = 256L << 20;
    /**
     * Threads that may start after the baseline without being a leak: the volumes' upload pools
     * (4 each) and virtual-thread carriers come up lazily. A leak grows with the connections.
     */
    private static final int THREAD_SLACK = 16;

    @RegisterExtension
    final NbdFixture nbd = NbdFixture.fileStore().volume("fuzz", FUZZ_SIZE).volume("good", GOOD_SIZE);

    private final AtomicLong connections = new AtomicLong();
    private final AtomicLong bytesSent = new AtomicLong();
    private final AtomicLong bytesReceived = new AtomicLong();
    private final AtomicLong closedByServer = new AtomicLong();

    @Test
    void hostileClientsDisturbNoOne() throws Exception {
        int cases = Integer.getInteger("campaign.cases", 3000);
        long seed = Long.getLong("campaign.seed", System.nanoTime());
        System.out.println("campaign-fuzz: " + cases + " cases, seed=" + seed + " (rerun with -Dcampaign.seed=" + seed + ")");
        SplittableRandom root = new SplittableRandom(seed);
        LevelCounter log = LevelCounter.attach("io.viperblock");
        long started = System.nanoTime();
        Memory baseline = sampleMemory();
        int baselineThreads = -1; // taken after the first batch, once the volumes' and the JDK's lazy threads exist
        List<Memory> samples = new ArrayList<>();

        GoodClient good = new GoodClient(root.split());
        Thread goodThread = Thread.ofPlatform().name("good-client").start(good);
        ExecutorService pool = Executors.newFixedThreadPool(PARALLEL);
        ScheduledExecutorService watchdog = Executors.newSingleThreadScheduledExecutor();
        try {
            int batch = Math.max(100, cases / 20);
            for (int done = 0; done < cases; done += batch) {
                List<Future<?>> futures = new ArrayList<>();
                for (int i = done; i < Math.min(cases, done + batch); i++) {
                    SplittableRandom r = root.split();
                    futures.add(pool.submit(() -> {
                        runCase(r, watchdog);
                        return null;
                    }));
                }
                for (Future<?> f : futures) {
                    f.get(5, TimeUnit.MINUTES);
                }
                samples.add(sampleMemory());
                if (baselineThreads < 0) {
                    waitForConnections(1);
                    // less this test's own: the good client, its connection's thread, the case pool and the watchdog
                    baselineThreads = ManagementFactory.getThreadMXBean().getThreadCount() - 3 - PARALLEL;
                }
                assertNull(good.failure.get(), "the good client failed");
            }
        } finally {
            pool.shutdownNow();
            watchdog.shutdownNow();
            good.stop.set(true);
            goodThread.join(60_000);
        }
        assertNull(good.failure.get(), "the good client failed");
        assertTrue(good.ops.get() > 0, "the good client worked");

        // the server is still up: new connections work, on both exports
        try (TestNbdClient c = nbd.client("fuzz"); TestNbdClient g = TestNbdClient.connect(nbd.address(), "good", false)) {
            byte[] d = Tools.bytes(root, 8192);
            c.write(4096, d);
            c.flush();
            assertArrayEquals(d, c.read(4096, 8192), "a new connection after the campaign");
            assertArrayEquals(good.model, g.read(0, (int) GOOD_SIZE), "the good export holds exactly what the good client wrote");
        }
        assertEquals(0, waitForConnections(0), "connections left open after the campaign");
        int threads = waitForThreads(baselineThreads + THREAD_SLACK);
        Memory end = sampleMemory();
        double seconds = (System.nanoTime() - started) / 1e9;
        long maxHeap = samples.stream().mapToLong(Memory::heap).max().orElse(end.heap());
        long maxDirect = samples.stream().mapToLong(Memory::direct).max().orElse(end.direct());
        long maxPooled = samples.stream().mapToLong(Memory::pooled).max().orElse(end.pooled());
        long maxOutsidePool = samples.stream().mapToLong(Memory::directOutsidePool).max().orElse(end.directOutsidePool());
        log.detach();

        String json = "{\n"
                + "  \"cases\": " + cases + ",\n"
                + "  \"connections\": " + connections.get() + ",\n"
                + "  \"closedByServer\": " + closedByServer.get() + ",\n"
                + "  \"bytesSent\": " + bytesSent.get() + ",\n"
                + "  \"bytesReceived\": " + bytesReceived.get() + ",\n"
                + "  \"goodClientOps\": " + good.ops.get() + ",\n"
                + "  \"serverErrors\": " + log.errors.get() + ",\n"
                + "  \"serverWarnings\": " + log.warnings.get() + ",\n"
                + "  \"heapBaselineBytes\": " + baseline.heap() + ",\n"
                + "  \"heapMaxBytes\": " + maxHeap + ",\n"
                + "  \"heapEndBytes\": " + end.heap() + ",\n"
                + "  \"directBaselineBytes\": " + baseline.direct() + ",\n"
                + "  \"directMaxBytes\": " + maxDirect + ",\n"
                + "  \"directEndBytes\": " + end.direct() + ",\n"
                + "  \"directPooledMaxBytes\": " + maxPooled + ",\n"
                + "  \"directOutsidePoolMaxBytes\": " + maxOutsidePool + ",\n"
                + "  \"threadsBaseline\": " + baselineThreads + ",\n"
                + "  \"threadsEnd\": " + threads + ",\n"
                + "  \"seed\": " + seed + ",\n"
                + "  \"seconds\": " + String.format("%.1f", seconds) + "\n"
                + "}\n";
        Path out = Path.of("target", "campaign-fuzz.json");
        Files.createDirectories(out.getParent());
        Files.writeString(out, json);
        System.out.print("campaign-fuzz: " + json);

        assertEquals(0, log.errors.get(), "ERROR lines logged, such as " + log.first);
        assertEquals(0, log.warnings.get(), "WARN lines logged (client input is no failure of the server), such as " + log.first);
        assertTrue(maxHeap - baseline.heap() < MEMORY_BOUND, "heap after GC grew from " + baseline.heap() + " to " + maxHeap);
        assertTrue(maxOutsidePool - baseline.direct() < MEMORY_BOUND, "direct memory outside the buffer pool grew from " + baseline.direct()
                + " to " + maxOutsidePool);
        List<String> connectionThreads = Thread.getAllStackTraces().keySet().stream().map(Thread::getName)
                .filter(n -> n.startsWith("nbd-conn-")).toList();
        assertEquals(List.of(), connectionThreads, "connection threads left after every connection closed");
        assertTrue(threads <= baselineThreads + THREAD_SLACK, "threads: " + baselineThreads + " before, " + threads + " after every fuzz connection closed: "
                + Thread.getAllStackTraces().keySet().stream().map(Thread::getName).sorted().toList());
    }

    /** One fuzz connection: a hostile stream sent blindly, then read until the server closes or goes quiet, or dropped at once. */
    private void runCase(SplittableRandom r, ScheduledExecutorService watchdog) throws IOException, InterruptedException {
        HostileFrames f = new HostileFrames(r, "fuzz", FUZZ_SIZE);
        int kind = r.nextInt(8);
        boolean slow = false;
        switch (kind) {
            case 0 -> f.garbage(4096); // random bytes from the first byte
            case 1 -> { // an option flood, then an ending or nothing
                f.clientFlags();
                for (int i = 1 + r.nextInt(r.nextBoolean() ? 10 : 300); i > 0; i--) {
                    f.option(f.talkOption());
                }
                switch (r.nextInt(4)) {
                    case 0 -> f.option(Nbd.OPT_ABORT);
                    case 1 -> f.option(r.nextBoolean() ? Nbd.OPT_GO : Nbd.OPT_EXPORT_NAME);
                    case 2 -> f.garbage(256);
                    default -> { }
                }
            }
            case 2 -> { // structured replies and metadata contexts in odd orders, then requests
                f.clientFlags();
                int[] odd = {Nbd.OPT_STRUCTURED_REPLY, Nbd.OPT_SET_META_CONTEXT, Nbd.OPT_LIST_META_CONTEXT, Nbd.OPT_INFO};
                for (int i = r.nextInt(6); i > 0; i--) {
                    f.option(odd[r.nextInt(odd.length)]);
                }
                f.select();
                requests(f, r);
                if (r.nextBoolean()) {
                    f.option(Nbd.OPT_STRUCTURED_REPLY); // an option after negotiation: a bad request magic
                }
            }
            case 3 -> { // commands before negotiation
                f.clientFlags();
                requests(f, r);
            }
            case 4 -> { // absurd option lengths and counts
                f.clientFlags();
                f.option(f.talkOption());
                f.option(r.nextBoolean() ? Nbd.OPT_GO : Nbd.OPT_INFO);
                f.garbage(2048);
            }
            case 5 -> { // slowloris: a valid stream cut short, trickled, then dropped
                f.clientFlags();
                f.select();
                requests(f, r);
                byte[] all = f.truncate(f.bytes());
                f.out.reset();
                f.raw(all);
                slow = true;
            }
            default -> { // a normal handshake, then a mix of good, bad and mutated requests
                f.raw(java.nio.ByteBuffer.allocate(4).putInt(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES).array());
                if (r.nextBoolean()) {
                    f.raw(java.nio.ByteBuffer.allocate(16).putLong(Nbd.IHAVEOPT).putInt(Nbd.OPT_STRUCTURED_REPLY).putInt(0).array());
                }
                f.select();
                requests(f, r);
                if (r.nextInt(4) == 0) {
                    f.garbage(512);
                }
            }
        }
        byte[] stream = f.bytes();
        try (Socket s = TestNbdClient.socket(nbd.address())) {
            connections.incrementAndGet();
            var guard = watchdog.schedule(() -> {
                try {
                    s.close(); // a case that hangs (a bug) is cut off here and fails on the checks after it
                } catch (IOException ignored) {
                    // closing is all it can do
                }
            }, 60, TimeUnit.SECONDS);
            try {
                send(s, stream, slow, r);
                int ending = r.nextInt(4);
                if (slow || ending == 0) {
                    s.setSoLinger(true, 0); // dropped with a reset
                } else if (ending == 1) {
                    s.shutdownOutput(); // the client's end of the stream, then read
                    drain(s);
                } else {
                    drain(s);
                }
            } finally {
                guard.cancel(false);
            }
        }
    }

    private static void requests(HostileFrames f, SplittableRandom r) {
        for (int i = 1 + r.nextInt(40); i > 0; i--) {
            f.request();
        }
        if (r.nextInt(3) > 0) {
            f.disconnect();
        }
    }

    private void send(Socket s, byte[] stream, boolean slow, SplittableRandom r) throws InterruptedException {
        try {
            OutputStream out = s.getOutputStream();
            if (slow) {
                int at = 0;
                for (int pieces = 0; at < stream.length && pieces < 20; pieces++) {
                    int n = Math.min(stream.length - at, 1 + r.nextInt(7));
                    out.write(stream, at, n);
                    out.flush();
                    at += n;
                    bytesSent.addAndGet(n);
                    Thread.sleep(r.nextInt(3));
                }
                return; // dropped mid-stream
            }
            out.write(stream);
            out.flush();
            bytesSent.addAndGet(stream.length);
        } catch (IOException e) {
            closedByServer.incrementAndGet(); // the server hung up before it had everything: fine
        }
    }

    /** Reads replies until the server closes the connection or sends nothing for a while. */
    private void drain(Socket s) throws IOException {
        byte[] buf = new byte[64 << 10];
        s.setSoTimeout(IDLE_MS);
        InputStream in = s.getInputStream();
        try {
            while (true) {
                int n = in.read(buf);
                if (n < 0) {
                    closedByServer.incrementAndGet();
                    return;
                }
                bytesReceived.addAndGet(n);
            }
        } catch (SocketTimeoutException e) {
            // the server waits for more: the client leaves
        } catch (IOException e) {
            closedByServer.incrementAndGet(); // reset by the server
        }
    }

    /** Writes, reads back and flushes random ranges of its own export, checking every read against its model. */
    private final class GoodClient implements Runnable {
        final byte[] model = new byte[(int) GOOD_SIZE];
        final AtomicBoolean stop = new AtomicBoolean();
        final AtomicLong ops = new AtomicLong();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        private final SplittableRandom r;

        GoodClient(SplittableRandom r) {
            this.r = r;
        }

        @Override
        public void run() {
            try (TestNbdClient c = TestNbdClient.connect(nbd.address(), "good", true)) {
                while (!stop.get()) {
                    int len = 1 + r.nextInt(64 << 10);
                    int off = r.nextInt((int) GOOD_SIZE - len);
                    switch (r.nextInt(6)) {
                        case 0, 1 -> {
                            byte[] d = Tools.bytes(r, len);
                            c.call(Nbd.CMD_WRITE, r.nextInt(4) == 0 ? Nbd.CMD_FLAG_FUA : 0, off, len, d).ok();
                            System.arraycopy(d, 0, model, off, len);
                        }
                        case 2 -> {
                            c.zero(off, len);
                            java.util.Arrays.fill(model, off, off + len, (byte) 0);
                        }
                        case 3 -> c.flush();
                        default -> {
                            byte[] got = c.read(off, len);
                            if (!java.util.Arrays.equals(got, 0, len, model, off, off + len)) {
                                throw new AssertionError("the good client read other bytes than it wrote at " + off + " (" + len + " bytes)");
                            }
                        }
                    }
                    ops.incrementAndGet();
                }
            } catch (Throwable t) {
                failure.set(t);
            }
        }
    }

    /**
     * Used heap after a GC and direct buffer memory in use. The volumes' chunk caches are dropped
     * first: each is bounded by design (256 MiB by default) and filled by the fuzzer's reads, while
     * what is measured here is what connections leave behind.
     */
    private Memory sampleMemory() {
        nbd.volume("fuzz").dropCache();
        nbd.volume("good").dropCache();
        ManagementFactory.getMemoryMXBean().gc();
        long direct = 0;
        for (BufferPoolMXBean b : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)) {
            if (b.getName().equals("direct")) {
                direct = b.getMemoryUsed();
            }
        }
        return new Memory(ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed(), direct, nbd.server().pooledBufferBytes());
    }

    /**
     * Used heap after a GC; direct memory in use, and the part of it that is idle payload buffers
     * kept by the server's pool (bounded by design at 64 MiB per size class).
     */
    private record Memory(long heap, long direct, long pooled) {
        long directOutsidePool() {
            return direct - pooled;
        }
    }

    /** Counts log events at WARN and ERROR under a logger, keeping the first message (not every event: a long run logs much). */
    private static final class LevelCounter extends AppenderBase<ILoggingEvent> {
        final AtomicLong errors = new AtomicLong();
        final AtomicLong warnings = new AtomicLong();
        volatile String first;
        private ch.qos.logback.classic.Logger logger;

        static LevelCounter attach(String name) {
            LevelCounter c = new LevelCounter();
            c.logger = (ch.qos.logback.classic.Logger) LoggerFactory.getLogger(name);
            c.start();
            c.logger.addAppender(c);
            return c;
        }

        void detach() {
            logger.detachAppender(this);
        }

        @Override
        protected void append(ILoggingEvent e) {
            if (e.getLevel().isGreaterOrEqual(Level.ERROR)) {
                errors.incrementAndGet();
            } else if (e.getLevel().isGreaterOrEqual(Level.WARN)) {
                warnings.incrementAndGet();
            } else {
                return;
            }
            if (first == null) {
                first = e.getLevel() + " " + e.getLoggerName() + ": " + e.getFormattedMessage()
                        + (e.getThrowableProxy() == null ? "" : " " + e.getThrowableProxy().getClassName() + ": " + e.getThrowableProxy().getMessage());
            }
        }
    }

    private int waitForConnections(int n) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (nbd.server().connectionCount() != n && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        return nbd.server().connectionCount();
    }

    private static int waitForThreads(int atMost) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        int n;
        while ((n = ManagementFactory.getThreadMXBean().getThreadCount()) > atMost && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        return n;
    }
}
