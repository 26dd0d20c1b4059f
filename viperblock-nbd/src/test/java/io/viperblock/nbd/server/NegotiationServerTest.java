package io.viperblock.nbd.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.nbd.protocol.ClientFlags;
import io.viperblock.nbd.protocol.ExportInfoRequest;
import io.viperblock.nbd.protocol.ExportNameReply;
import io.viperblock.nbd.protocol.Nbd;
import io.viperblock.nbd.protocol.OptionReply;
import io.viperblock.nbd.protocol.OptionRequest;
import io.viperblock.nbd.protocol.Request;
import io.viperblock.nbd.protocol.ServerGreeting;
import io.viperblock.nbd.protocol.SimpleReply;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The server's handshake over a real socket, for what the NBD tools here never do: the old
 * EXPORT_NAME option (with and without the 124 zero bytes), refused and unknown options before a
 * good GO, the default export, ABORT.
 */
class NegotiationServerTest {
    private static final long SIZE = 4L << 20;

    @RegisterExtension
    final NbdFixture nbd = NbdFixture.fileStore().volume("only", SIZE);

    private Socket socket;
    private DataInputStream in;
    private OutputStream out;

    private void open(int clientFlags) throws IOException {
        socket = TestNbdClient.socket(nbd.address());
        in = new DataInputStream(socket.getInputStream());
        out = socket.getOutputStream();
        byte[] g = new byte[ServerGreeting.LENGTH];
        in.readFully(g);
        ServerGreeting greeting = ServerGreeting.decode(ByteBuffer.wrap(g));
        assertTrue(greeting.fixedNewstyle() && greeting.noZeroes(), greeting.toString());
        out.write(new ClientFlags(clientFlags).encode().array());
    }

    private void send(OptionRequest o) throws IOException {
        ByteBuffer b = o.encode();
        out.write(b.array(), 0, b.remaining());
        out.flush();
    }

    private OptionReply reply() throws IOException {
        byte[] h = new byte[OptionReply.HEADER_LENGTH];
        in.readFully(h);
        byte[] d = new byte[ByteBuffer.wrap(h).getInt(16)];
        in.readFully(d);
        return OptionReply.decode(ByteBuffer.allocate(h.length + d.length).put(h).put(d).flip(), 1 << 20);
    }

    /** Replies to one option up to and including the final ACK or error. */
    private List<OptionReply> replies() throws IOException {
        List<OptionReply> all = new ArrayList<>();
        while (true) {
            OptionReply r = reply();
            all.add(r);
            if (r.replyType() == Nbd.REP_ACK || r.isError()) {
                return all;
            }
        }
    }

    /** A READ with simple replies (none were negotiated) of {@code n} bytes at 0. */
    private byte[] simpleRead(int n) throws IOException {
        out.write(new Request(0, Nbd.CMD_READ, 77, 0, n).encodeHeader().array());
        out.flush();
        byte[] h = new byte[SimpleReply.HEADER_LENGTH];
        in.readFully(h);
        SimpleReply r = SimpleReply.decode(ByteBuffer.wrap(h));
        assertEquals(0, r.error());
        assertEquals(77, r.cookie());
        byte[] d = new byte[n];
        in.readFully(d);
        return d;
    }

    @Test
    void exportNameWithAndWithoutZeroes() throws Exception {
        nbd.volume("only").write(0, new byte[] {9, 8, 7}, false);
        for (boolean noZeroes : new boolean[] {true, false}) {
            open(Nbd.FLAG_C_FIXED_NEWSTYLE | (noZeroes ? Nbd.FLAG_C_NO_ZEROES : 0));
            try {
                send(OptionRequest.exportName("only"));
                byte[] b = new byte[ExportNameReply.encodedLength(noZeroes)];
                in.readFully(b);
                ExportNameReply r = ExportNameReply.decode(ByteBuffer.wrap(b), noZeroes);
                assertEquals(SIZE, r.exportSize());
                assertTrue((r.transmissionFlags() & Nbd.FLAG_SEND_FLUSH) != 0);
                assertEquals(0, r.transmissionFlags() & Nbd.FLAG_SEND_DF, "no DF without structured replies");
                assertArrayEquals(new byte[] {9, 8, 7}, simpleRead(3));
            } finally {
                socket.close();
            }
        }
    }

    @Test
    void exportNameOfAnUnknownExportHangsUp() throws Exception {
        open(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES);
        try {
            send(OptionRequest.exportName("nosuch"));
            assertTrue(TestNbdClient.closedByServer(socket, Duration.ofSeconds(10)));
        } finally {
            socket.close();
        }
    }

    @Test
    void refusedAndUnknownOptionsThenGoOfTheDefaultExport() throws Exception {
        open(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES);
        try {
            send(new OptionRequest(200, new byte[] {1, 2, 3}));
            assertEquals(Nbd.REP_ERR_UNSUP, reply().replyType());
            send(new ExportInfoRequest("nosuch", List.of()).toOption(Nbd.OPT_GO));
            assertEquals(Nbd.REP_ERR_UNKNOWN, reply().replyType());
            send(new OptionRequest(Nbd.OPT_GO, new byte[] {0, 0, 0, 9, 1})); // malformed
            assertEquals(Nbd.REP_ERR_INVALID, reply().replyType());
            send(new OptionRequest(Nbd.OPT_LIST, new byte[0]));
            List<OptionReply> list = replies();
            assertEquals(2, list.size(), list.toString());
            assertEquals(Nbd.REP_SERVER, list.get(0).replyType());
            assertEquals("only", new String(list.get(0).data(), 4, list.get(0).dataBuffer().getInt(0), StandardCharsets.UTF_8));
            send(new ExportInfoRequest("", List.of(Nbd.INFO_NAME)).toOption(Nbd.OPT_GO)); // "" is the default export
            List<OptionReply> go = replies();
            assertEquals(Nbd.REP_ACK, go.get(go.size() - 1).replyType(), go.toString());
            boolean named = go.stream().anyMatch(r -> r.replyType() == Nbd.REP_INFO && r.dataBuffer().getShort(0) == Nbd.INFO_NAME
                    && new String(r.data(), 2, r.dataLength() - 2, StandardCharsets.UTF_8).equals("only"));
            assertTrue(named, "INFO_NAME names the default export: " + go);
            assertEquals(4096, simpleRead(4096).length);
        } finally {
            socket.close();
        }
    }

    @Test
    void abortIsAcknowledgedAndEndsTheSession() throws Exception {
        open(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES);
        try {
            send(OptionRequest.of(Nbd.OPT_ABORT));
            assertEquals(Nbd.REP_ACK, reply().replyType());
            assertTrue(TestNbdClient.closedByServer(socket, Duration.ofSeconds(10)));
        } finally {
            socket.close();
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (nbd.server().connectionCount() != 0 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(0, nbd.server().connectionCount());
    }
}
