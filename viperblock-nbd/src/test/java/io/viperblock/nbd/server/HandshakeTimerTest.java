package io.viperblock.nbd.server;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.viperblock.nbd.protocol.ServerGreeting;
import java.net.Socket;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A connection's handshake timer goes with the connection. Found by the fuzz campaign: each timer
 * stayed queued for the whole handshake timeout (30 s) after its client left, holding the
 * connection and its 128 KiB direct read buffer, so clients connecting and leaving quickly pinned
 * hundreds of MiB of direct memory.
 */
class HandshakeTimerTest {
    @RegisterExtension
    final NbdFixture nbd = NbdFixture.memoryStore().volume("t", 1 << 20);

    @Test
    void timersOfClosedConnectionsAreDropped() throws Exception {
        for (int i = 0; i < 200; i++) {
            try (Socket s = TestNbdClient.socket(nbd.address())) {
                s.getInputStream().readNBytes(ServerGreeting.LENGTH);
                if (i % 2 == 0) {
                    s.getOutputStream().write(new byte[] {0, 0, 0, 3}); // flags, then gone mid-handshake
                }
            }
        }
        try (TestNbdClient c = nbd.client("t")) {
            c.write(0, new byte[] {1});
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while (nbd.server().connectionCount() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(0, nbd.server().connectionCount(), "connections left");
        assertEquals(0, nbd.server().pendingTimers(), "handshake timers of connections that are gone (default timeout "
                + NbdServerConfig.defaults().handshakeTimeout() + ")");
    }
}
