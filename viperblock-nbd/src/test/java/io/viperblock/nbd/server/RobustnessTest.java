package io.viperblock.nbd.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.viperblock.nbd.protocol.ClientFlags;
import io.viperblock.nbd.protocol.Nbd;
import io.viperblock.nbd.protocol.Request;
import io.viperblock.nbd.protocol.ServerGreeting;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.slf4j.LoggerFactory;

/**
 * What a server must survive: many clients at once, clients that vanish mid-request, garbage on
 * the wire and handshakes that never finish. Client input may only ever end its own connection.
 */
class RobustnessTest {
    private static final long SIZE = 32L << 20;
    private static final int CLIENTS = 64;
    private static final int REGION = (int) (SIZE / CLIENTS); // 512 KiB each
    private static final Duration HANDSHAKE_TIMEOUT = Duration.ofSeconds(2);

    @RegisterExtension
    final NbdFixture nbd = NbdFixture.fileStore().volume("r", SIZE)
            .config(NbdServerConfig.defaults().withHandshakeTimeout(HANDSHAKE_TIMEOUT));

    /**
     * 64 connections at once (half with structured replies), each doing random writes, reads,
     * trims, zeroes and flushes in its own region, up to four requests in flight on distinct
     * quarters of it; every read is checked against what that connection wrote. At the end the
     * whole volume is checked, and every connection is gone.
     */
    @Test
    void sixtyFourConnectionsDoingRandomIo() throws Exception {
        SplittableRandom root = Tools.random("sixtyFourConnectionsDoingRandomIo");
        byte[][] models = new byte[CLIENTS][REGION];
        List<SplittableRandom> rnds = new ArrayList<>();
        for (int i = 0; i < CLIENTS; i++) {
            rnds.add(root.split());
        }
        AtomicLong requests = new AtomicLong();
        ExecutorService pool = Executors.newFixedThreadPool(CLIENTS);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int i = 0; i < CLIENTS; i++) {
                int id = i;
                done.add(pool.submit(() -> {
                    clientWorkload(id, rnds.get(id), models[id], requests);
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get(120, TimeUnit.SECONDS); // rethrows a client's failure
            }
        } finally {
            pool.shutdownNow();
            pool.awaitTermination(10, TimeUnit.SECONDS);
        }
        System.out.println("sixtyFourConnectionsDoingRandomIo: " + requests.get() + " requests");
        assertEquals(0, waitForConnections(0), "connections left open");
        try (TestNbdClient c = nbd.client("r")) {
            for (int i = 0; i < CLIENTS; i++) {
                assertArrayEquals(models[i], c.read((long) i * REGION, REGION), "region " + i + " read by a new connection");
            }
        }
        nbd.restart();
        byte[] all = nbd.volume("r").read(0, (int) SIZE);
        for (int i = 0; i < CLIENTS; i++) {
            assertArrayEquals(models[i], java.util.Arrays.copyOfRange(all, i * REGION, (i + 1) * REGION), "region " + i + " after a restart");
        }
    }

    private void clientWorkload(int id, SplittableRandom r, byte[] model, AtomicLong requests) throws IOException {
        long base = (long) id * REGION;
        int quarter = REGION / 4;
        try (TestNbdClient c = TestNbdClient.connect(nbd.address(), "r", id % 2 == 0)) {
            for (int round = 0; round < 60; round++) {
                int n = 1 + r.nextInt(4);
                int firstQuarter = r.nextInt(4);
                Map<Long, int[]> reads = new HashMap<>(); // cookie -> {offset in region, length}
                for (int k = 0; k < n; k++) {
                    int q = (firstQuarter + k) % 4;
                    int off = q * quarter + r.nextInt(quarter - 1);
                    int len = 1 + r.nextInt(Math.min(64 << 10, q * quarter + quarter - off));
                    int op = r.nextInt(10);
                    if (op < 4) {
                        byte[] d = Tools.bytes(r, len);
                        System.arraycopy(d, 0, model, off, len);
                        c.send(Nbd.CMD_WRITE, r.nextInt(8) == 0 ? Nbd.CMD_FLAG_FUA : 0, base + off, len, d);
                    } else if (op < 8) {
                        reads.put(c.send(Nbd.CMD_READ, 0, base + off, len, null), new int[] {off, len});
                    } else if (op == 8) {
                        java.util.Arrays.fill(model, off, off + len, (byte) 0);
                        c.send(r.nextBoolean() ? Nbd.CMD_TRIM : Nbd.CMD_WRITE_ZEROES, 0, base + off, len, null);
                    } else {
                        c.send(Nbd.CMD_FLUSH, 0, 0, 0, null);
                    }
                    requests.incrementAndGet();
                }
                for (int k = 0; k < n; k++) {
                    TestNbdClient.Reply rep = c.receive().ok();
                    int[] rd = reads.get(rep.cookie());
                    if (rd != null) {
                        byte[] want = java.util.Arrays.copyOfRange(model, rd[0], rd[0] + rd[1]);
                        if (!java.util.Arrays.equals(want, rep.data())) {
                            throw new AssertionError("client " + id + ": read of " + rd[1] + " bytes at " + (base + rd[0])
                                    + " differs from what it wrote");
                        }
                    }
                }
            }
        }
    }

    /**
     * Clients that leave mid-request: half a WRITE payload, a READ whose reply is never read, many
     * READs in flight then a reset, a handshake cut off. A well-behaved client working meanwhile
     * sees no error, the half write changes nothing, and the server's connection count returns to
     * just that client; nothing is logged as a warning.
     */
    @Test
    void clientsThatVanishMidRequestDisturbNoOne() throws Exception {
        SplittableRandom r = Tools.random("clientsThatVanishMidRequestDisturbNoOne");
        ch.qos.logback.classic.Logger serverLog = (ch.qos.logback.classic.Logger) LoggerFactory.getLogger("io.viperblock.nbd.server");
        ListAppender<ILoggingEvent> logged = new ListAppender<>();
        logged.start();
        serverLog.addAppender(logged);
        try {
            vanishingClients(r);
        } finally {
            serverLog.detachAppender(logged);
        }
        List<String> warnings;
        synchronized (logged) {
            warnings = logged.list.stream().filter(e -> e.getLevel().isGreaterOrEqual(Level.WARN)).map(ILoggingEvent::getFormattedMessage).toList();
        }
        // a client leaving is no failure of the server or the volume: nothing to warn about
        assertTrue(warnings.isEmpty(), warnings.size() + " warnings logged for clients that left, such as "
                + warnings.subList(0, Math.min(3, warnings.size())));
    }

    private void vanishingClients(SplittableRandom r) throws Exception {
        byte[] before = Tools.bytes(r, 1 << 20);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong goodOps = new AtomicLong();
        try (TestNbdClient setup = nbd.client("r")) {
            setup.write(0, before);
        }
        ExecutorService bg = Executors.newSingleThreadExecutor();
        Future<?> good;
        try {
            SplittableRandom gr = r.split();
            good = bg.submit(() -> {
                try (TestNbdClient g = nbd.client("r")) {
                    long base = 16L << 20;
                    while (!stop.get()) {
                        byte[] d = Tools.bytes(gr, 1 + gr.nextInt(128 << 10));
                        long off = base + gr.nextInt(1 << 20);
                        g.write(off, d);
                        assertArrayEquals(d, g.read(off, d.length), "the good client's read");
                        goodOps.incrementAndGet();
                    }
                }
                return null;
            });
            for (int round = 0; round < 5; round++) {
                // half a WRITE payload, then close
                try (Socket s = handshaken()) {
                    s.getOutputStream().write(new Request(0, Nbd.CMD_WRITE, 1, 4096, 65536).encodeHeader().array());
                    s.getOutputStream().write(new byte[32768]); // zeros over data that must stay
                    s.getOutputStream().flush();
                }
                // half a WRITE payload, then a reset
                try (Socket s = handshaken()) {
                    s.getOutputStream().write(new Request(0, Nbd.CMD_WRITE, 1, 0, 1 << 20).encodeHeader().array());
                    s.getOutputStream().write(new byte[1000]);
                    s.getOutputStream().flush();
                    s.setSoLinger(true, 0);
                }
                // a READ whose reply is never read
                try (Socket s = handshaken()) {
                    s.getOutputStream().write(new Request(0, Nbd.CMD_READ, 2, 0, 4 << 20).encodeHeader().array());
                    s.getOutputStream().flush();
                }
                // many READs in flight, then a reset while the server is still answering
                try (Socket s = handshaken()) {
                    OutputStream o = s.getOutputStream();
                    for (int i = 0; i < 50; i++) {
                        o.write(new Request(0, Nbd.CMD_READ, i, (long) i << 16, 1 << 20).encodeHeader().array());
                    }
                    o.flush();
                    s.getInputStream().read(new byte[100]);
                    s.setSoLinger(true, 0);
                }
                // a handshake cut off after the greeting, and one after the client flags
                try (Socket s = TestNbdClient.socket(nbd.address())) {
                    s.getInputStream().readNBytes(ServerGreeting.LENGTH);
                }
                try (Socket s = TestNbdClient.socket(nbd.address())) {
                    s.getInputStream().readNBytes(ServerGreeting.LENGTH);
                    s.getOutputStream().write(new ClientFlags(Nbd.FLAG_C_FIXED_NEWSTYLE).encode().array());
                    s.getOutputStream().write(new byte[7]); // part of an option header
                }
            }
            assertEquals(1, waitForConnections(1), "only the good client is left");
            long seen = goodOps.get();
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (goodOps.get() < seen + 20 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertTrue(goodOps.get() >= seen + 20, "the good client goes on working");
        } finally {
            stop.set(true);
            bg.shutdown();
        }
        good.get(60, TimeUnit.SECONDS);
        bg.awaitTermination(10, TimeUnit.SECONDS);
        assertEquals(0, waitForConnections(0));
        assertArrayEquals(before, nbd.volume("r").read(0, 1 << 20), "no partial write was applied");
        try (TestNbdClient c = nbd.client("r")) {
            assertArrayEquals(before, c.read(0, 1 << 20), "a new connection works");
        }
    }

    /** Garbage after the handshake ends that connection only; so does garbage within a handshake. */
    @Test
    void garbageClosesOnlyItsOwnConnection() throws Exception {
        SplittableRandom r = Tools.random("garbageClosesOnlyItsOwnConnection");
        try (TestNbdClient good = nbd.client("r")) {
            byte[] d = Tools.bytes(r, 8192);
            good.write(8192, d);
            for (int round = 0; round < 10; round++) {
                // at least a request header's worth: a shorter tail is just a slow client, which the
                // server rightly waits for (only the handshake has a deadline)
                byte[] garbage = Tools.bytes(r, Request.HEADER_LENGTH + r.nextInt(8192));
                if ((garbage[0] & 0xff) == 0x25) {
                    garbage[0] = 0x26; // never the request magic's first byte
                }
                try (TestNbdClient bad = TestNbdClient.connect(nbd.address(), "r", r.nextBoolean())) {
                    bad.write(0, new byte[512]);
                    bad.sendRaw(garbage);
                    assertTrue(bad.closedByServer(Duration.ofSeconds(10)), "the server closes a connection sending garbage");
                }
                // garbage instead of the client flags, or instead of an option
                try (Socket s = TestNbdClient.socket(nbd.address())) {
                    s.getInputStream().readNBytes(ServerGreeting.LENGTH);
                    if (r.nextBoolean()) {
                        s.getOutputStream().write(new ClientFlags(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES).encode().array());
                    }
                    s.getOutputStream().write(garbage);
                    assertTrue(TestNbdClient.closedByServer(s, Duration.ofSeconds(10)), "garbage in the handshake");
                }
                assertArrayEquals(d, good.read(8192, 8192), "the good connection still works");
            }
            // an option announcing 4 GiB of data
            try (Socket s = TestNbdClient.socket(nbd.address())) {
                s.getInputStream().readNBytes(ServerGreeting.LENGTH);
                ByteBuffer b = ByteBuffer.allocate(4 + 16);
                b.putInt(Nbd.FLAG_C_FIXED_NEWSTYLE).putLong(Nbd.IHAVEOPT).putInt(Nbd.OPT_GO).putInt(-1);
                s.getOutputStream().write(b.array());
                assertTrue(TestNbdClient.closedByServer(s, Duration.ofSeconds(10)), "oversize option");
            }
            assertEquals(1, waitForConnections(1));
            assertArrayEquals(d, good.read(8192, 8192));
        }
        assertEquals(0, waitForConnections(0));
    }

    /**
     * Handshakes that stall (nothing sent; flags then nothing; flags trickled a byte at a time) are
     * closed after the handshake timeout, while other clients connect and work meanwhile, and a
     * client that finished its handshake may idle past the timeout.
     */
    @Test
    void stalledHandshakesAreClosedAfterTheTimeout() throws Exception {
        try (TestNbdClient idle = nbd.client("r");
                Socket silent = TestNbdClient.socket(nbd.address());
                Socket afterFlags = TestNbdClient.socket(nbd.address());
                Socket trickle = TestNbdClient.socket(nbd.address())) {
            idle.write(0, new byte[] {1, 2, 3});
            long started = System.nanoTime();
            afterFlags.getInputStream().readNBytes(ServerGreeting.LENGTH);
            afterFlags.getOutputStream().write(new ClientFlags(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES).encode().array());
            trickle.getInputStream().readNBytes(ServerGreeting.LENGTH);
            byte[] opt = ByteBuffer.allocate(4 + 16).putInt(3).putLong(Nbd.IHAVEOPT).putInt(Nbd.OPT_LIST).putInt(0).array();
            // while they stall, other clients come and go
            for (int i = 0; i < 5; i++) {
                try (TestNbdClient other = nbd.client("r")) {
                    other.write(4096L * (i + 1), new byte[] {(byte) i});
                    assertEquals((byte) i, other.read(4096L * (i + 1), 1)[0]);
                }
            }
            boolean trickleClosed = false;
            for (int i = 0; i < opt.length && !trickleClosed; i++) {
                try {
                    trickle.getOutputStream().write(opt[i]);
                    trickle.getOutputStream().flush();
                } catch (IOException e) {
                    trickleClosed = true;
                }
                Thread.sleep(300);
            }
            for (Socket s : List.of(silent, afterFlags, trickle)) {
                assertTrue(TestNbdClient.closedByServer(s, Duration.ofSeconds(15)), "a stalled handshake is closed");
            }
            double took = (System.nanoTime() - started) / 1e9;
            System.out.println("stalledHandshakesAreClosedAfterTheTimeout: closed after " + took + " s");
            assertTrue(took >= HANDSHAKE_TIMEOUT.toMillis() / 1000.0 - 0.5, "closed too early: " + took + " s");
            assertEquals(1, waitForConnections(1), "only the idle client is left");
            // the idle client finished its handshake long ago: the timeout does not apply to it
            assertArrayEquals(new byte[] {1, 2, 3}, idle.read(0, 3));
        }
        assertEquals(0, waitForConnections(0));
    }

    /**
     * A restart (server shutdown, volumes closed and reopened) while eight clients are writing:
     * each client's connection ends; every write that was acknowledged is there afterwards, and
     * each write that was not is either wholly there or not at all (4 KiB slots, one write each).
     */
    @Test
    void restartWhileClientsWrite() throws Exception {
        SplittableRandom root = Tools.random("restartWhileClientsWrite");
        int clients = 8;
        int slot = 4096;
        int slots = REGION / slot;
        List<SplittableRandom> rnds = new ArrayList<>();
        for (int i = 0; i < clients; i++) {
            rnds.add(root.split());
        }
        List<Map<Integer, byte[]>> acked = new ArrayList<>();
        List<Map<Integer, byte[]>> sent = new ArrayList<>();
        for (int i = 0; i < clients; i++) {
            acked.add(new java.util.concurrent.ConcurrentHashMap<>());
            sent.add(new java.util.concurrent.ConcurrentHashMap<>());
        }
        java.util.concurrent.CountDownLatch going = new java.util.concurrent.CountDownLatch(clients);
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        List<Future<?>> done = new ArrayList<>();
        for (int i = 0; i < clients; i++) {
            int id = i;
            done.add(pool.submit(() -> {
                SplittableRandom r = rnds.get(id);
                try (TestNbdClient c = nbd.client("r")) {
                    Map<Long, Integer> inFlight = new HashMap<>();
                    for (int s = 0; s < slots; s++) {
                        byte[] d = Tools.bytes(r, slot);
                        sent.get(id).put(s, d);
                        inFlight.put(c.send(Nbd.CMD_WRITE, 0, (long) id * REGION + (long) s * slot, slot, d), s);
                        if (inFlight.size() == 4) {
                            TestNbdClient.Reply rep = c.receive().ok();
                            int sl = inFlight.remove(rep.cookie());
                            acked.get(id).put(sl, sent.get(id).get(sl));
                        }
                        if (s == 8) {
                            going.countDown();
                        }
                    }
                } catch (IOException e) {
                    // the server went away mid-stream: expected
                } finally {
                    going.countDown();
                }
                return null;
            }));
        }
        going.await(30, TimeUnit.SECONDS);
        nbd.restart();
        for (Future<?> f : done) {
            f.get(60, TimeUnit.SECONDS);
        }
        pool.shutdown();
        byte[] zeros = new byte[slot];
        int ackedCount = 0;
        try (TestNbdClient c = nbd.client("r")) {
            for (int id = 0; id < clients; id++) {
                for (int s = 0; s < slots; s++) {
                    byte[] got = c.read((long) id * REGION + (long) s * slot, slot);
                    byte[] a = acked.get(id).get(s);
                    byte[] w = sent.get(id).get(s);
                    if (a != null) {
                        ackedCount++;
                        assertArrayEquals(a, got, "client " + id + " slot " + s + " was acknowledged");
                    } else {
                        assertTrue(java.util.Arrays.equals(got, zeros) || (w != null && java.util.Arrays.equals(got, w)),
                                "client " + id + " slot " + s + ": neither old nor new data");
                    }
                }
            }
        }
        System.out.println("restartWhileClientsWrite: " + ackedCount + " acknowledged writes checked");
        assertTrue(ackedCount >= clients * 8, "the clients got going before the restart");
    }

    /** A socket past the handshake (fixed newstyle, no structured replies, GO "r"); nothing else read. */
    private Socket handshaken() throws IOException {
        Socket s = TestNbdClient.socket(nbd.address());
        InputStream in = s.getInputStream();
        OutputStream out = s.getOutputStream();
        in.readNBytes(ServerGreeting.LENGTH);
        out.write(new ClientFlags(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES).encode().array());
        ByteBuffer go = new io.viperblock.nbd.protocol.ExportInfoRequest("r", List.of()).toOption(Nbd.OPT_GO).encode();
        out.write(go.array(), 0, go.remaining());
        out.flush();
        // replies: INFO_EXPORT, INFO_BLOCK_SIZE, ACK; read until the ACK
        while (true) {
            byte[] h = in.readNBytes(20);
            if (h.length < 20) {
                throw new IOException("server closed during the handshake");
            }
            ByteBuffer hb = ByteBuffer.wrap(h);
            in.readNBytes(hb.getInt(16));
            if (hb.getInt(12) == Nbd.REP_ACK) {
                return s;
            }
        }
    }

    private int waitForConnections(int n) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while (nbd.server().connectionCount() != n && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        return nbd.server().connectionCount();
    }
}
