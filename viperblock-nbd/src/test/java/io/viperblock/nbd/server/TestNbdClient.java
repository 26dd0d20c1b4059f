package io.viperblock.nbd.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import io.viperblock.nbd.protocol.ClientFlags;
import io.viperblock.nbd.protocol.ExportInfoRequest;
import io.viperblock.nbd.protocol.Nbd;
import io.viperblock.nbd.protocol.NbdProtocolException;
import io.viperblock.nbd.protocol.OptionReply;
import io.viperblock.nbd.protocol.OptionRequest;
import io.viperblock.nbd.protocol.Request;
import io.viperblock.nbd.protocol.ServerGreeting;
import io.viperblock.nbd.protocol.SimpleReply;
import io.viperblock.nbd.protocol.StructuredReplyHeader;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A small blocking NBD client for tests, built on the protocol codec: fixed-newstyle handshake,
 * optionally structured replies, OPT_GO, then raw requests of any type and flags (which libnbd
 * will not send), several in flight, replies matched by cookie. Reads time out after 30 s, so a
 * server that never answers fails the test instead of hanging it.
 *
 * <p>Not thread-safe: one thread per client.
 */
public final class TestNbdClient implements AutoCloseable {
    static final int READ_TIMEOUT_MS = 30_000;

    /** One complete reply: {@code data} is the bytes read (READ) or the raw block status payload. */
    public record Reply(long cookie, int error, byte[] data, String message) {
        public Reply ok() throws IOException {
            if (error != 0) {
                throw new IOException("request " + cookie + " failed: errno " + error + " (" + Nbd.errorName(error) + ") " + message);
            }
            return this;
        }
    }

    private final Socket socket;
    private final DataInputStream in;
    private final OutputStream out;
    private final boolean structured;
    private long size;
    private int transmissionFlags;
    private long nextCookie = 1;
    private final Map<Long, Request> pending = new HashMap<>();
    private final Map<Long, byte[]> readData = new HashMap<>();

    private TestNbdClient(Socket socket, boolean structured) throws IOException {
        this.socket = socket;
        this.in = new DataInputStream(socket.getInputStream());
        this.out = new BufferedOutputStream(socket.getOutputStream(), 1 << 16);
        this.structured = structured;
    }

    /** A TCP connection to the server with the read timeout set; nothing sent yet. */
    static Socket socket(InetSocketAddress server) throws IOException {
        Socket s = new Socket();
        s.connect(server, 10_000);
        s.setSoTimeout(READ_TIMEOUT_MS);
        s.setTcpNoDelay(true);
        return s;
    }

    /** Connects and negotiates {@code export}; with {@code structured}, structured replies first. */
    public static TestNbdClient connect(InetSocketAddress server, String export, boolean structured) throws IOException {
        TestNbdClient c = new TestNbdClient(socket(server), structured);
        try {
            c.handshake(export);
        } catch (IOException | RuntimeException e) {
            c.abort();
            throw e;
        }
        return c;
    }

    private void handshake(String export) throws IOException {
        ServerGreeting g = ServerGreeting.decode(ByteBuffer.wrap(readN(ServerGreeting.LENGTH)));
        if (!g.fixedNewstyle() || !g.noZeroes()) {
            throw new NbdProtocolException("server greeting lacks fixed newstyle or no-zeroes: " + g);
        }
        sendBytes(new ClientFlags(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES).encode());
        if (structured) {
            sendBytes(OptionRequest.of(Nbd.OPT_STRUCTURED_REPLY).encode());
            OptionReply r = readOptionReply();
            if (r.replyType() != Nbd.REP_ACK) {
                throw new NbdProtocolException("STRUCTURED_REPLY refused: " + r);
            }
        }
        sendBytes(new ExportInfoRequest(export, List.of(Nbd.INFO_BLOCK_SIZE)).toOption(Nbd.OPT_GO).encode());
        while (true) {
            OptionReply r = readOptionReply();
            if (r.isError()) {
                throw new NbdProtocolException("GO " + export + " refused: " + Nbd.replyTypeName(r.replyType()) + " "
                        + new String(r.data(), StandardCharsets.UTF_8));
            }
            if (r.replyType() == Nbd.REP_ACK) {
                return;
            }
            if (r.replyType() == Nbd.REP_INFO) {
                ByteBuffer d = r.dataBuffer();
                if (d.getShort(0) == Nbd.INFO_EXPORT) {
                    size = d.getLong(2);
                    transmissionFlags = Short.toUnsignedInt(d.getShort(10));
                }
            }
        }
    }

    private OptionReply readOptionReply() throws IOException {
        byte[] header = readN(OptionReply.HEADER_LENGTH);
        int length = ByteBuffer.wrap(header).getInt(16);
        if (length < 0 || length > (1 << 20)) {
            throw new NbdProtocolException("option reply length " + Integer.toUnsignedString(length));
        }
        ByteBuffer frame = ByteBuffer.allocate(OptionReply.HEADER_LENGTH + length).put(header).put(readN(length)).flip();
        return OptionReply.decode(frame, 1 << 20);
    }

    public long size() {
        return size;
    }

    int transmissionFlags() {
        return transmissionFlags;
    }

    // ------------------------------------------------------------ requests

    /** Sends a request (and {@code payload}, for a WRITE, which may differ from {@code length}); returns its cookie. */
    public long send(int type, int flags, long offset, long length, byte[] payload) throws IOException {
        long cookie = sendLater(type, flags, offset, length, payload);
        out.flush();
        return cookie;
    }

    /** As {@link #send}, but the bytes stay in the client's buffer until the next send or receive (requests in one write). */
    public long sendLater(int type, int flags, long offset, long length, byte[] payload) throws IOException {
        long cookie = nextCookie++;
        Request r = new Request(flags, type, cookie, offset, length);
        out.write(r.encodeHeader().array());
        if (payload != null) {
            out.write(payload);
        }
        pending.put(cookie, r);
        if (type == Nbd.CMD_READ && length <= (64 << 20)) {
            readData.put(cookie, new byte[(int) length]);
        }
        return cookie;
    }

    /** Reads the next complete reply (of whichever request finishes first). */
    public Reply receive() throws IOException {
        out.flush();
        return structured ? receiveStructured() : receiveSimple();
    }

    private Reply receiveSimple() throws IOException {
        return simpleReply(readN(SimpleReply.HEADER_LENGTH));
    }

    private Reply simpleReply(byte[] header) throws IOException {
        SimpleReply s = SimpleReply.decode(ByteBuffer.wrap(header));
        Request r = pending.remove(s.cookie());
        if (r == null) {
            throw new NbdProtocolException("reply for unknown cookie " + s.cookie());
        }
        byte[] data = readData.remove(s.cookie());
        if (r.type() == Nbd.CMD_READ && s.error() == 0) {
            in.readFully(data);
        }
        return new Reply(s.cookie(), s.error(), data, "");
    }

    private final Map<Long, Integer> errors = new HashMap<>();
    private final Map<Long, String> messages = new HashMap<>();
    private final Map<Long, byte[]> statusPayloads = new HashMap<>();

    private Reply receiveStructured() throws IOException {
        while (true) {
            // with structured replies negotiated, a server may still answer anything but a READ
            // with a simple reply (nbdkit does)
            byte[] magic = readN(4);
            if (ByteBuffer.wrap(magic).getInt() == Nbd.SIMPLE_REPLY_MAGIC) {
                return simpleReply(concat(magic, readN(SimpleReply.HEADER_LENGTH - 4)));
            }
            StructuredReplyHeader h = StructuredReplyHeader.decode(ByteBuffer.wrap(concat(magic, readN(StructuredReplyHeader.LENGTH - 4))));
            Request r = pending.get(h.cookie());
            if (r == null) {
                throw new NbdProtocolException("reply chunk for unknown cookie " + h.cookie() + ": " + h);
            }
            if (h.length() > (64 << 20) + 64) {
                throw new NbdProtocolException("reply chunk too long: " + h);
            }
            ByteBuffer p = ByteBuffer.wrap(readN((int) h.length()));
            switch (h.type()) {
                case Nbd.REPLY_TYPE_NONE -> {
                    if (p.capacity() != 0) {
                        throw new NbdProtocolException("NONE chunk with payload: " + h);
                    }
                }
                case Nbd.REPLY_TYPE_OFFSET_DATA -> {
                    long off = p.getLong(0);
                    int n = p.capacity() - 8;
                    long rel = off - r.offset();
                    if (r.type() != Nbd.CMD_READ || rel < 0 || rel + n > r.length() || n <= 0) {
                        throw new NbdProtocolException("OFFSET_DATA at " + off + " (" + n + " bytes) does not fit " + r);
                    }
                    p.get(8, readData.get(h.cookie()), (int) rel, n);
                }
                case Nbd.REPLY_TYPE_OFFSET_HOLE -> {
                    long off = p.getLong(0);
                    long n = Integer.toUnsignedLong(p.getInt(8));
                    if (r.type() != Nbd.CMD_READ || off < r.offset() || off + n > r.offset() + r.length()) {
                        throw new NbdProtocolException("OFFSET_HOLE does not fit " + r);
                    }
                    // the buffer starts as zeros
                }
                case Nbd.REPLY_TYPE_BLOCK_STATUS -> statusPayloads.put(h.cookie(), p.array());
                default -> {
                    if (!h.isError()) {
                        throw new NbdProtocolException("unexpected reply chunk " + h);
                    }
                    int err = p.getInt(0);
                    int mlen = Short.toUnsignedInt(p.getShort(4));
                    errors.put(h.cookie(), err);
                    messages.put(h.cookie(), new String(p.array(), 6, mlen, StandardCharsets.UTF_8));
                }
            }
            if (h.done()) {
                pending.remove(h.cookie());
                byte[] data = readData.remove(h.cookie());
                byte[] status = statusPayloads.remove(h.cookie());
                Integer err = errors.remove(h.cookie());
                String msg = messages.remove(h.cookie());
                return new Reply(h.cookie(), err == null ? 0 : err, status != null ? status : data, msg == null ? "" : msg);
            }
        }
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    /** Sends one request and waits for its reply (nothing else may be in flight). */
    public Reply call(int type, int flags, long offset, long length, byte[] payload) throws IOException {
        long cookie = send(type, flags, offset, length, payload);
        Reply r = receive();
        if (r.cookie() != cookie) {
            throw new NbdProtocolException("reply for cookie " + r.cookie() + ", expected " + cookie);
        }
        return r;
    }

    /**
     * Receives a reply to each request of {@code expected} (cookie to the errno it must get), in
     * whatever order they come, each once; the reply to each read of {@code readsOf} (cookie to
     * offset and length) must carry those bytes of {@code model}.
     */
    public void receiveAll(Map<Long, Integer> expected, Map<Long, long[]> readsOf, byte[] model) throws IOException {
        for (int i = expected.size(); i > 0; i--) {
            Reply reply = receive();
            Integer want = expected.remove(reply.cookie());
            assertNotNull(want, "a reply to cookie " + reply.cookie() + ", unknown or answered before");
            assertEquals((int) want, reply.error(), "errno of cookie " + reply.cookie() + ": " + reply.message());
            long[] read = readsOf.get(reply.cookie());
            if (read != null) {
                assertArrayEquals(Arrays.copyOfRange(model, (int) read[0], (int) (read[0] + read[1])),
                        reply.data(), read[1] + " bytes at " + read[0]);
            }
        }
    }

    public byte[] read(long offset, int length) throws IOException {
        return call(Nbd.CMD_READ, 0, offset, length, null).ok().data();
    }

    public void write(long offset, byte[] data) throws IOException {
        call(Nbd.CMD_WRITE, 0, offset, data.length, data).ok();
    }

    public void trim(long offset, long length) throws IOException {
        call(Nbd.CMD_TRIM, 0, offset, length, null).ok();
    }

    public void zero(long offset, long length) throws IOException {
        call(Nbd.CMD_WRITE_ZEROES, 0, offset, length, null).ok();
    }

    public void flush() throws IOException {
        call(Nbd.CMD_FLUSH, 0, 0, 0, null).ok();
    }

    public int inFlight() {
        return pending.size();
    }

    /** Raw bytes onto the wire (garbage, partial requests). */
    void sendRaw(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    /**
     * Waits up to {@code timeout} for the server to close the connection, discarding anything it
     * sends first; true if it did.
     */
    boolean closedByServer(Duration timeout) throws IOException {
        return closedByServer(socket, timeout);
    }

    static boolean closedByServer(Socket s, Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        byte[] buf = new byte[4096];
        try {
            while (System.nanoTime() < deadline) {
                s.setSoTimeout((int) Math.max(1, Math.min(READ_TIMEOUT_MS, (deadline - System.nanoTime()) / 1_000_000)));
                if (s.getInputStream().read(buf) < 0) {
                    return true;
                }
            }
            return false;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true; // reset by the server
        } finally {
            if (!s.isClosed()) {
                s.setSoTimeout(READ_TIMEOUT_MS);
            }
        }
    }

    /** Ends the session politely: DISC, then close. */
    void disconnect() throws IOException {
        try {
            send(Nbd.CMD_DISC, 0, 0, 0, null);
            pending.clear();
        } finally {
            abort();
        }
    }

    /** Closes the socket without a word. */
    void abort() {
        try {
            socket.close();
        } catch (IOException ignored) {
            // already gone
        }
    }

    @Override
    public void close() {
        if (socket.isClosed()) {
            return;
        }
        try {
            disconnect();
        } catch (IOException ignored) {
            abort();
        }
    }

    private byte[] readN(int n) throws IOException {
        byte[] b = new byte[n];
        try {
            in.readFully(b);
        } catch (EOFException e) {
            throw new EOFException("server closed the connection");
        }
        return b;
    }

    private void sendBytes(ByteBuffer b) throws IOException {
        byte[] a = new byte[b.remaining()];
        b.get(a);
        out.write(a);
        out.flush();
    }
}
