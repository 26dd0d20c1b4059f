package io.viperblock.nbd.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.nbd.protocol.Nbd;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Requests a careful client never sends, each answered with the errno NBD prescribes while the
 * connection goes on: through libnbd with its client-side checks off ({@code nbdsh}), and through
 * the raw {@link TestNbdClient} for what libnbd cannot send at all (unknown commands, stray flag
 * bits, refused writes whose payload must still be consumed).
 */
class BadRequestTest {
    private static final long SIZE = 8L << 20;
    private static final Duration T = Duration.ofSeconds(60);

    @RegisterExtension
    final NbdFixture nbd = NbdFixture.fileStore().volume("bad", SIZE);

    /**
     * Runs each case, prints "CASE name errno-name server|client" (or OK), then a good read and write on the same
     * handle, printing "AFTER name ok" if they worked.
     */
    private static final String SCRIPT = """
            import errno, os
            h = nbd.NBD()
            h.set_strict_mode(0)
            h.connect_uri(os.environ["URI"])
            size = h.get_size()
            h.pwrite(b"\\x5a" * 4096, 0)
            def case(name, fn):
                try:
                    fn()
                    print("CASE %s OK" % name, flush=True)
                except nbd.Error as e:
                    # libnbd says "command failed" only for an error the server replied with
                    side = "server" if "command failed" in (e.string or "") else "client"
                    print("CASE %s %s %s" % (name, errno.errorcode.get(e.errno, str(e.errno)), side), flush=True)
                try:
                    assert h.pread(4096, 0) == b"\\x5a" * 4096
                    h.pwrite(b"\\x5a" * 512, 512)
                    print("AFTER %s ok" % name, flush=True)
                except Exception as e:
                    print("AFTER %s FAILED %s" % (name, e), flush=True)
            case("pread_past_end", lambda: h.pread(4096, size - 1024))
            case("pread_offset_beyond", lambda: h.pread(512, size + 4096))
            case("pwrite_past_end", lambda: h.pwrite(b"x" * 4096, size - 1024))
            case("trim_past_end", lambda: h.trim(4096, size - 1024))
            case("zero_past_end", lambda: h.zero(4096, size - 1024))
            case("cache_past_end", lambda: h.cache(4096, size - 1024))
            case("pread_unknown_flag", lambda: h.pread(512, 0, flags=1 << 10))
            case("pread_fua", lambda: h.pread(512, 0, flags=nbd.CMD_FLAG_FUA))
            case("pwrite_unknown_flag", lambda: h.pwrite(b"y" * 4096, 8192, flags=1 << 12))
            case("pread_33MiB", lambda: h.pread(33 << 20, 0))
            case("pwrite_33MiB", lambda: h.pwrite(b"\\0" * (33 << 20), 0))
            case("block_status_unnegotiated", lambda: h.block_status(4096, 0, lambda *a: 0))
            case("pread_last_byte", lambda: h.pread(1, size - 1))
            case("flush", lambda: h.flush())
            h.shutdown()
            print("DONE", flush=True)
            """;

    @Test
    void libnbdWithoutStrictModeGetsTheRightErrors() throws Exception {
        Tools.Result r = Tools.cmd("nbdsh", "-n", "-c", SCRIPT).env("PATH", "/usr/bin:/bin").env("URI", nbd.uri("bad"))
                .timeout(T).run().ok();
        Map<String, String> cases = new LinkedHashMap<>();
        Map<String, String> after = new HashMap<>();
        for (String line : r.out().split("\n")) {
            String[] w = line.trim().split(" ", 3);
            if (w[0].equals("CASE")) {
                cases.put(w[1], w[2]);
            } else if (w[0].equals("AFTER")) {
                after.put(w[1], w[2]);
            }
        }
        Map<String, String> expected = new LinkedHashMap<>();
        expected.put("pread_past_end", "EINVAL server");
        expected.put("pread_offset_beyond", "EINVAL server");
        expected.put("pwrite_past_end", "ENOSPC server");
        expected.put("trim_past_end", "EINVAL server");
        expected.put("zero_past_end", "ENOSPC server");
        expected.put("cache_past_end", "EINVAL server");
        expected.put("pread_unknown_flag", "EINVAL server");
        expected.put("pread_fua", "EINVAL server");
        expected.put("pwrite_unknown_flag", "EINVAL server");
        expected.put("pread_33MiB", "EINVAL server");
        expected.put("pwrite_33MiB", "EINVAL server");
        // nbdsh -n: no meta context was asked for, so the server has none to report
        expected.put("block_status_unnegotiated", "EINVAL server");
        expected.put("pread_last_byte", "OK");
        expected.put("flush", "OK");
        assertEquals(expected, cases, r.describe(""));
        for (String c : expected.keySet()) {
            assertEquals("ok", after.get(c), "the connection works after " + c + "\n" + r.describe(""));
        }
        assertTrue(r.out().contains("DONE"), r.describe(""));
        // none of the refused writes changed anything
        byte[] head = nbd.volume("bad").read(0, 16384);
        for (int i = 0; i < head.length; i++) {
            assertEquals(i < 4096 ? 0x5a : 0, head[i] & 0xff, "byte " + i);
        }
        assertArrayEquals(new byte[1024], nbd.volume("bad").read(SIZE - 1024, 1024));
    }

    @Test
    void unknownCommandsAndFlagsGetEinvalAndTheConnectionGoesOn() throws Exception {
        for (boolean structured : new boolean[] {true, false}) {
            try (TestNbdClient c = TestNbdClient.connect(nbd.address(), "bad", structured)) {
                assertEquals(SIZE, c.size());
                assertEquals(structured, (c.transmissionFlags() & Nbd.FLAG_SEND_DF) != 0, "DF is offered with structured replies only");
                c.write(0, filled(4096, 0x33));
                assertEquals(Nbd.EINVAL, c.call(42, 0, 0, 4096, null).error(), "command type 42");
                assertArrayEquals(filled(4096, 0x33), c.read(0, 4096));
                assertEquals(Nbd.EINVAL, c.call(0xffff, 0, 0, 0, null).error(), "command type 0xffff");
                assertEquals(Nbd.EINVAL, c.call(Nbd.CMD_READ, 1 << 15, 0, 4096, null).error(), "READ with flag bit 15");
                assertEquals(Nbd.EINVAL, c.call(Nbd.CMD_FLUSH, Nbd.CMD_FLAG_NO_HOLE, 0, 0, null).error(), "FLUSH with NO_HOLE");
                assertEquals(Nbd.EINVAL, c.call(Nbd.CMD_FLUSH, 0, 4096, 0, null).error(), "FLUSH with an offset");
                assertEquals(Nbd.EINVAL, c.call(Nbd.CMD_TRIM, Nbd.CMD_FLAG_DF, 0, 4096, null).error(), "TRIM with DF");
                assertEquals(Nbd.EINVAL, c.call(Nbd.CMD_BLOCK_STATUS, 0, 0, 4096, null).error(), "BLOCK_STATUS without a context");
                if (!structured) {
                    assertEquals(Nbd.EINVAL, c.call(Nbd.CMD_READ, Nbd.CMD_FLAG_DF, 0, 4096, null).error(), "DF without structured replies");
                } else {
                    assertEquals(Nbd.EOVERFLOW, c.call(Nbd.CMD_READ, Nbd.CMD_FLAG_DF, 0, (32 << 20) + 1, null).error(),
                            "DF READ over the maximum block size");
                }
                // a WRITE with a stray flag: refused, and its payload must not be taken as the next request
                byte[] evil = new byte[8192];
                for (int i = 0; i + 28 <= evil.length; i += 28) {
                    new io.viperblock.nbd.protocol.Request(0, Nbd.CMD_WRITE, 99, 0, 0).encodeHeader(
                            java.nio.ByteBuffer.wrap(evil, i, 28));
                }
                assertEquals(Nbd.EINVAL, c.call(Nbd.CMD_WRITE, 1 << 9, 0, evil.length, evil).error(), "WRITE with flag bit 9");
                assertArrayEquals(filled(4096, 0x33), c.read(0, 4096), "the refused write's payload was skipped");
                assertEquals(0, c.inFlight());
            }
        }
    }

    @Test
    void refusedWritesHaveTheirPayloadConsumed() throws Exception {
        SplittableRandom r = Tools.random("refusedWritesHaveTheirPayloadConsumed");
        try (TestNbdClient c = nbd.client("bad")) {
            byte[] good = Tools.bytes(r, 65536);
            c.write(4096, good);
            // past the end: ENOSPC, 64 KiB of payload skipped
            byte[] p = Tools.bytes(r, 65536);
            assertEquals(Nbd.ENOSPC, c.call(Nbd.CMD_WRITE, 0, SIZE - 4096, p.length, p).error());
            assertArrayEquals(good, c.read(4096, good.length));
            // offset 2^63 and above (negative as a Java long)
            assertEquals(Nbd.ENOSPC, c.call(Nbd.CMD_WRITE, 0, Long.MIN_VALUE + 5, 512, new byte[512]).error());
            // over the maximum block size: EINVAL, 33 MiB skipped
            byte[] huge = new byte[(32 << 20) + 4096];
            java.util.Arrays.fill(huge, (byte) 0x25); // even a stream of request-magic bytes is skipped
            assertEquals(Nbd.EINVAL, c.call(Nbd.CMD_WRITE, 0, 0, huge.length, huge).error());
            assertArrayEquals(good, c.read(4096, good.length));
            // pipelined: refused and accepted requests in flight together, each answered once
            long bad1 = c.send(Nbd.CMD_WRITE, 0, SIZE, 4096, new byte[4096]);
            long ok1 = c.send(Nbd.CMD_WRITE, Nbd.CMD_FLAG_FUA, 0, 4096, filled(4096, 7));
            long bad2 = c.send(77, 0, 0, 0, null);
            long ok2 = c.send(Nbd.CMD_READ, 0, 4096, 65536, null);
            Map<Long, TestNbdClient.Reply> got = new HashMap<>();
            for (int i = 0; i < 4; i++) {
                TestNbdClient.Reply x = c.receive();
                assertTrue(got.put(x.cookie(), x) == null, "one reply per request");
            }
            assertEquals(Nbd.ENOSPC, got.get(bad1).error());
            assertEquals(0, got.get(ok1).error());
            assertEquals(Nbd.EINVAL, got.get(bad2).error());
            assertArrayEquals(good, got.get(ok2).ok().data());
            assertArrayEquals(filled(4096, 7), c.read(0, 4096));
        }
        assertEquals(0, waitForConnections(0));
    }

    private int waitForConnections(int n) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (nbd.server().connectionCount() != n && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        return nbd.server().connectionCount();
    }

    private static byte[] filled(int n, int value) {
        byte[] b = new byte[n];
        java.util.Arrays.fill(b, (byte) value);
        return b;
    }
}
