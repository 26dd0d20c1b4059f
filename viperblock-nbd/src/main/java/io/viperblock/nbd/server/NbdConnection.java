package io.viperblock.nbd.server;

import io.viperblock.core.volume.StatusExtent;
import io.viperblock.core.volume.Volume;
import io.viperblock.nbd.protocol.Nbd;
import io.viperblock.nbd.protocol.NbdProtocolException;
import io.viperblock.nbd.protocol.Request;
import io.viperblock.nbd.protocol.SimpleReply;
import io.viperblock.nbd.protocol.StructuredReply;
import io.viperblock.nbd.protocol.StructuredReplyHeader;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client connection: the handshake, then the transmission phase. The reader (this
 * connection's thread) reads each request header and, for a write, its payload; it hands the
 * request to a worker and goes on reading, so many requests are in flight and replies go out in
 * the order they finish (QEMU keeps many requests in flight on one connection). A request that
 * is alone (see {@link #servesItself}) the reader serves itself. Limits on requests and payload
 * bytes in flight bound the memory one client can take.
 *
 * <p>A request with a bad magic is a broken stream: the connection closes. Any other bad request
 * (unknown command or flag, out-of-range offset, oversize length) gets an error reply and the
 * connection goes on.
 *
 * <p>Thread-safety: the reader state is confined to the reader thread; replies go through
 * {@link WireChannel}'s lock; the semaphores bound the workers.
 */
final class NbdConnection implements Runnable {
    private static final Logger log = LoggerFactory.getLogger(NbdConnection.class);
    private static final int UNIT = 4096; // in-flight bytes are counted in 4 KiB units
    /** Descriptors per BLOCK_STATUS reply; a client asks again for the rest. */
    private static final int MAX_DESCRIPTORS = 1024;
    /** The most holes a sparse read reply carries as chunks of their own (see {@link #replyParts}). */
    static final int MAX_HOLES = 64;

    private final WireChannel wire;
    private final Exports exports;
    private final NbdServerConfig config;
    private final ExecutorService workers;
    private final NbdServer server;
    private final Semaphore requests;
    private final Semaphore bytes;
    private final BufferPool buffers;
    /** {@link NbdServerConfig#fastRead}, in ns. */
    private final long fastReadNanos;
    /** Requests read and not yet answered (each is answered by one {@link #reply}); the reader's to count up. */
    private final java.util.concurrent.atomic.AtomicInteger unanswered = new java.util.concurrent.atomic.AtomicInteger();
    private volatile boolean handshakeDone;
    /** A moving average of the time this connection's small reads took in the volume, in ns ({@link #readsFast}). */
    private volatile long recentReadNanos;
    private Session session;

    NbdConnection(WireChannel wire, Exports exports, NbdServerConfig config, ExecutorService workers, BufferPool buffers, NbdServer server) {
        this.buffers = buffers;
        this.wire = wire;
        this.exports = exports;
        this.config = config;
        this.workers = workers;
        this.server = server;
        this.requests = new Semaphore(config.maxInFlight());
        this.bytes = new Semaphore((int) Math.min(Integer.MAX_VALUE, config.maxInFlightBytes() / UNIT));
        this.fastReadNanos = config.fastRead().toNanos();
    }

    boolean handshakeDone() {
        return handshakeDone;
    }

    /** Closes the socket: the reader stops at its next read. */
    void close() {
        wire.close();
    }

    /** Graceful stop: no more requests are read; those in flight still get their replies. */
    void stopReading() {
        wire.shutdownInput();
    }

    @Override
    public void run() {
        String who = wire.describe();
        try {
            session = new Negotiation(wire, exports, config).run();
            handshakeDone = true;
            if (session == null) {
                return;
            }
            log.debug("{}: serving {} (structured replies {}, base:allocation {})", who, session.volume().name(),
                    session.structured(), session.allocationContext() != 0);
            transmission();
        } catch (EOFException e) {
            log.debug("{}: client left: {}", who, e.getMessage());
        } catch (NbdProtocolException e) {
            log.info("{}: protocol error, closing the connection: {}", who, e.getMessage());
        } catch (IOException e) {
            if (wire.isOpen()) {
                log.info("{}: connection failed: {}", who, e.toString());
            }
        } catch (RuntimeException e) {
            log.warn("{}: unexpected error, closing the connection", who, e);
        } finally {
            awaitInFlight();
            wire.close();
            server.closed(this);
        }
    }

    private void transmission() throws IOException {
        ByteBuffer header = ByteBuffer.allocateDirect(Request.HEADER_LENGTH);
        ByteBuffer scratch = ByteBuffer.allocateDirect(64 << 10);
        while (true) {
            header.clear();
            wire.readFully(header);
            header.flip();
            Request r = Request.decodeHeader(header); // a wrong magic throws: the stream is lost
            server.stats().request(r.type());
            if (r.type() == Nbd.CMD_DISC) {
                return; // the finally of run() waits for requests in flight, then closes
            }
            int error = check(r);
            unanswered.incrementAndGet();
            if (error != 0) {
                if (r.type() == Nbd.CMD_WRITE) {
                    wire.skip(r.length(), scratch); // stay in step with the stream without keeping the payload
                }
                replyError(r, error, errorMessage(r, error));
                continue;
            }
            int held = carriesData(r) ? units(r) : 1;
            acquire(held);
            ByteBuffer payload = null;
            try {
                if (r.type() == Nbd.CMD_WRITE) {
                    payload = buffers.acquire((int) r.length());
                    wire.readFully(payload);
                    payload.flip();
                }
            } catch (IOException e) {
                buffers.release(payload);
                release(held);
                throw e;
            }
            ByteBuffer data = payload;
            Runnable task = () -> {
                try {
                    serve(r, data);
                } finally {
                    buffers.release(data);
                    release(held);
                }
            };
            if (servesItself(r)) {
                server.stats().readerServed(1);
                task.run();
                continue;
            }
            Joined joined = null;
            if (joinsWrites(r)) {
                Joined w = new Joined(r, data);
                collect(w, header, this::joinsWrites);
                if (w.n > 1) {
                    server.stats().joinedWrites(w.n);
                    if (session.volume().answersLocally()) {
                        server.stats().readerServed(w.n);
                        serveWrites(w); // the hand-off would cost more than the group commit (serveWrites)
                        continue;
                    }
                    joined = w;
                    task = () -> serveWrites(w);
                }
            } else if (joinsReads(r) && readsFast()) {
                Joined w = new Joined(r, null);
                collect(w, header, this::joinsReads);
                if (w.n > 1) {
                    joined = w;
                    server.stats().joinedReads(w.n);
                    task = () -> serveReads(w);
                }
            }
            try {
                workers.execute(task);
            } catch (java.util.concurrent.RejectedExecutionException e) {
                // the server is shutting down: these requests are not served, and no more are read
                if (joined != null) {
                    release(joined);
                } else {
                    buffers.release(data);
                    release(held);
                }
                return;
            }
        }
    }

    /** Most requests one worker serves together ({@link #collect}). */
    private static final int MAX_JOINED = 32;
    /**
     * Largest write served with others. The gain is the hand-off and lock a request saved, which
     * matter for small writes; larger ones would only wait in one thread for each other's CRCs
     * and replies (64k randrw with joins up to 64 KiB measured no better, with a little more CPU).
     */
    private static final int MAX_JOINED_WRITE_BYTES = 16 << 10;

    /** Largest read served with others ({@link #joinsReads}). */
    private static final int MAX_JOINED_READ_BYTES = 16 << 10;

    /**
     * Writes that one worker serves as one group commit ({@link Volume#writeAll}), or reads it
     * serves one after the other; either way their replies leave in one write.
     */
    private static final class Joined {
        final Request[] requests = new Request[MAX_JOINED];
        final ByteBuffer[] payloads = new ByteBuffer[MAX_JOINED];
        int n;

        Joined(Request first, ByteBuffer payload) {
            requests[0] = first;
            payloads[0] = payload;
            n = 1;
        }
    }

    /** Gives back the payload buffers and in-flight units of joined requests, served or not. */
    private void release(Joined w) {
        for (int i = 0; i < w.n; i++) {
            buffers.release(w.payloads[i]);
            release(units(w.requests[i]));
        }
    }

    /** In-flight units a request that carries data holds ({@link #acquire}). */
    private static int units(Request r) {
        return (int) Math.max(1, (r.length() + UNIT - 1) / UNIT);
    }

    /** Whether a request may join other reads ({@link #serveReads}): a valid read of at most 16 KiB. */
    private boolean joinsReads(Request r) {
        return r != null && r.type() == Nbd.CMD_READ && r.length() > 0 && r.length() <= MAX_JOINED_READ_BYTES && check(r) == 0;
    }

    /**
     * Whether small reads have been fast lately (the page cache, not the disk or the network):
     * one worker serves joined reads one after the other, so one that waits on the disk would
     * hold up the rest.
     */
    private boolean readsFast() {
        return recentReadNanos < fastReadNanos;
    }

    /** Adds a small read's time to {@link #recentReadNanos} (a moving average; a lost update is harmless). */
    private void noteRead(long nanos) {
        long avg = recentReadNanos;
        recentReadNanos = avg + (nanos - avg) / 8;
    }

    /**
     * Whether a request may join others in one {@link Volume#writeAll}: a valid write of whole
     * blocks of at most 16 KiB without FUA. Null (nothing buffered) may not.
     */
    private boolean joinsWrites(Request r) {
        return r != null && r.type() == Nbd.CMD_WRITE && r.flags() == 0 && r.length() > 0 && r.length() <= MAX_JOINED_WRITE_BYTES
                && r.offset() % UNIT == 0 && r.length() % UNIT == 0 && check(r) == 0;
    }

    /**
     * The next request if the socket's buffer holds all of it (header and any payload), without
     * consuming it; null if it does not, or if its header is not one to decode here (the reader's
     * loop then reads and refuses it as usual).
     */
    private Request peekComplete() {
        ByteBuffer h = wire.peek(Request.HEADER_LENGTH);
        if (h == null) {
            return null;
        }
        Request next;
        try {
            next = Request.decodeHeader(h);
        } catch (NbdProtocolException e) {
            return null;
        }
        long payload = next.type() == Nbd.CMD_WRITE ? next.length() : 0;
        return wire.buffered() >= Request.HEADER_LENGTH + payload ? next : null;
    }

    /**
     * Reads the writes that follow the first of {@code w} while each is already in the socket's
     * buffer whole (reading them never blocks), may join ({@link #joinsWrites}) and fits in the
     * in-flight bounds without waiting. A client with a queue of small writes sends them
     * back to back: one thread (the reader, or one worker: {@link #serveWrites}) then serves them
     * with one group commit and one reply write, instead of one worker (a carrier thread woken),
     * one WAL lock and one reply each.
     */
    private void collect(Joined w, ByteBuffer header, Predicate<Request> joins) throws IOException {
        while (w.n < MAX_JOINED) {
            Request next = peekComplete();
            if (!joins.test(next)) {
                return;
            }
            int units = units(next);
            if (!requests.tryAcquire()) {
                return;
            }
            if (!bytes.tryAcquire(units)) {
                requests.release();
                return;
            }
            wire.readFully(header.clear()); // the header just peeked, from the buffer
            server.stats().request(next.type());
            unanswered.incrementAndGet();
            ByteBuffer payload = null;
            if (next.type() == Nbd.CMD_WRITE) {
                payload = buffers.acquire((int) next.length());
                wire.readFully(payload);
                payload.flip();
            }
            w.requests[w.n] = next;
            w.payloads[w.n] = payload;
            w.n++;
        }
    }

    /**
     * Serves joined reads ({@link #collect}) on a worker, one after the other, and sends their
     * replies in one write. A read that fails is answered with its error after the replies before it.
     */
    private void serveReads(Joined w) {
        Volume v = session.volume();
        List<ByteBuffer> parts = new ArrayList<>(2 * w.n + 2);
        ByteBuffer[] data = new ByteBuffer[w.n];
        int pending = 0; // replies in parts
        try {
            for (int i = 0; i < w.n; i++) {
                Request r = w.requests[i];
                try {
                    data[i] = buffers.acquire((int) r.length());
                    readInto(r, v, data[i], parts);
                    pending++;
                } catch (Throwable e) {
                    replies(pending, parts.toArray(ByteBuffer[]::new));
                    parts.clear();
                    pending = 0;
                    failed(r, v, e);
                }
            }
            replies(pending, parts.toArray(ByteBuffer[]::new));
        } catch (WireChannel.SendFailedException e) {
            log.debug("{}: replies to {} reads not sent: {}", wire.describe(), w.n, e.getMessage());
        } finally {
            for (ByteBuffer b : data) {
                buffers.release(b);
            }
            release(w);
        }
    }

    /**
     * Serves joined writes ({@link #collect}): one group commit, one reply write. The reader does
     * it itself while the volume waits on nothing slower than the local disk
     * ({@link Volume#answersLocally()}), else a worker does. The reader reads nothing meanwhile,
     * but the hand-off woke a carrier thread for each group, and carriers parking and waking took
     * a fifth of our CPU under 4k randwrite QD32: served by the reader, that row ran 24% faster
     * (docs/PERFORMANCE.md). A single write is still handed off (serving it too measured no better),
     * and a remote store's writes may wait on it (a block lock held by a read-modify-write that
     * reads from the store), so they go to a worker.
     */
    private void serveWrites(Joined w) {
        Volume v = session.volume();
        try {
            long[] offsets = new long[w.n];
            for (int i = 0; i < w.n; i++) {
                offsets[i] = w.requests[i].offset();
            }
            v.writeAll(offsets, w.payloads, w.n);
            ByteBuffer b = ByteBuffer.allocate(w.n * okLength());
            for (int i = 0; i < w.n; i++) {
                encodeOk(b, w.requests[i]);
            }
            replies(w.n, b.flip());
        } catch (WireChannel.SendFailedException e) {
            log.debug("{}: replies to {} writes not sent: {}", wire.describe(), w.n, e.getMessage());
        } catch (Throwable e) {
            for (int i = 0; i < w.n; i++) {
                failed(w.requests[i], v, e);
            }
        } finally {
            release(w);
        }
    }

    /**
     * Whether the reader serves this request itself instead of handing it to a worker: when it is
     * alone, the only request of the connection unanswered, and the client has sent nothing after
     * it (a client that waits for this reply, as at queue depth 1). The hand-off wakes a carrier
     * thread; without it a 4 KiB write at queue depth 1 took 87-89 us at p50 instead of 114-134
     * (docs/PERFORMANCE.md). The reader reads nothing while it serves, so a request that arrives
     * meanwhile waits for this one: hence only a flush, or a request that waits on nothing slower
     * than the local disk ({@link Volume#answersLocally()}), never a read from a remote store.
     */
    private boolean servesItself(Request r) {
        return !wire.hasBuffered() && unanswered.get() == 1
                && (r.type() == Nbd.CMD_FLUSH || session.volume().answersLocally());
    }

    /** READ, WRITE and CACHE move data (bounded by the maximum block size and counted in flight). */
    private static boolean carriesData(Request r) {
        return r.type() == Nbd.CMD_WRITE || r.type() == Nbd.CMD_READ || r.type() == Nbd.CMD_CACHE;
    }

    private void acquire(int units) throws IOException {
        try {
            requests.acquire();
            bytes.acquire(units);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted");
        }
    }

    private void release(int units) {
        bytes.release(units);
        requests.release();
    }

    /** Waits until every request handed to a worker has replied (DISC, or the end of the connection). */
    private void awaitInFlight() {
        try {
            if (requests.tryAcquire(config.maxInFlight(), 60, TimeUnit.SECONDS)) {
                requests.release(config.maxInFlight());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Checks a request against the protocol and the export; returns 0 or the errno to answer. */
    private int check(Request r) {
        int allowed = switch (r.type()) {
            case Nbd.CMD_READ -> session.structured() ? Nbd.CMD_FLAG_DF : 0;
            case Nbd.CMD_WRITE, Nbd.CMD_TRIM, Nbd.CMD_FLUSH -> Nbd.CMD_FLAG_FUA;
            case Nbd.CMD_WRITE_ZEROES -> Nbd.CMD_FLAG_FUA | Nbd.CMD_FLAG_NO_HOLE | Nbd.CMD_FLAG_FAST_ZERO;
            case Nbd.CMD_BLOCK_STATUS -> Nbd.CMD_FLAG_REQ_ONE;
            case Nbd.CMD_CACHE -> 0;
            default -> -1;
        };
        if (allowed < 0 || (r.flags() & ~allowed) != 0) {
            return Nbd.EINVAL;
        }
        if (r.type() == Nbd.CMD_FLUSH) {
            return r.offset() == 0 && r.length() == 0 ? 0 : Nbd.EINVAL;
        }
        if (r.type() == Nbd.CMD_BLOCK_STATUS && (session.allocationContext() == 0 || r.length() == 0)) {
            return Nbd.EINVAL; // no metadata context was negotiated, or nothing asked
        }
        boolean carries = carriesData(r);
        if (carries && r.length() > config.maxRequestBytes()) {
            // over the advertised maximum block size: EOVERFLOW only for a DF read, as the protocol says
            return r.type() == Nbd.CMD_READ && r.hasFlag(Nbd.CMD_FLAG_DF) ? Nbd.EOVERFLOW : Nbd.EINVAL;
        }
        long size = session.volume().size();
        if (r.offset() < 0 || r.offset() > size || r.length() > size - r.offset()) {
            return r.type() == Nbd.CMD_WRITE || r.type() == Nbd.CMD_WRITE_ZEROES ? Nbd.ENOSPC : Nbd.EINVAL;
        }
        return 0;
    }

    private String errorMessage(Request r, int error) {
        return Nbd.commandName(r.type()) + " of " + r.length() + " bytes at " + r.offset() + " refused (errno " + error + ")";
    }

    /** Runs one request on a worker thread and sends its reply. */
    private void serve(Request r, ByteBuffer payload) {
        Volume v = session.volume();
        try {
            switch (r.type()) {
                case Nbd.CMD_READ -> read(r, v);
                case Nbd.CMD_WRITE -> {
                    v.write(r.offset(), payload, r.hasFlag(Nbd.CMD_FLAG_FUA));
                    replyOk(r);
                }
                case Nbd.CMD_FLUSH -> {
                    v.flush();
                    replyOk(r);
                }
                case Nbd.CMD_TRIM -> {
                    v.trim(r.offset(), r.length());
                    if (r.hasFlag(Nbd.CMD_FLAG_FUA)) {
                        v.flush();
                    }
                    replyOk(r);
                }
                case Nbd.CMD_WRITE_ZEROES -> writeZeroes(r, v);
                case Nbd.CMD_BLOCK_STATUS -> blockStatus(r, v);
                case Nbd.CMD_CACHE -> {
                    v.read(r.offset(), (int) r.length()); // warms the block cache (a remote store) or the page cache
                    replyOk(r);
                }
                default -> replyError(r, Nbd.EINVAL, "unknown command");
            }
        } catch (WireChannel.SendFailedException e) {
            // the reply could not go out: the client left (the channel is closed now); the request itself did not fail
            log.debug("{}: reply to {} not sent: {}", wire.describe(), r, e.getMessage());
        } catch (Throwable e) {
            failed(r, v, e);
        }
    }

    /** Answers a request that failed with {@code e} with its errno (and logs an I/O error). */
    private void failed(Request r, Volume v, Throwable e) {
        int errno = Errno.of(e, r.type());
        if (errno == Nbd.EIO) {
            log.warn("{}: {} {} bytes at {} on {} failed: {}", wire.describe(), Nbd.commandName(r.type()), r.length(), r.offset(),
                    v.name(), e.toString());
        }
        try {
            replyError(r, errno, e.getMessage() == null ? e.toString() : e.getMessage());
        } catch (IOException sendFailed) {
            wire.close();
        }
    }

    private void read(Request r, Volume v) throws IOException {
        if (r.length() == 0) {
            replyOk(r); // nothing to send; a structured reply may not carry an empty data chunk
            return;
        }
        ByteBuffer data = buffers.acquire((int) r.length());
        try {
            List<ByteBuffer> parts = new ArrayList<>(2);
            readInto(r, v, data, parts);
            reply(parts.toArray(ByteBuffer[]::new));
        } finally {
            buffers.release(data);
        }
    }

    /** Reads {@code r} into {@code data} and adds its reply to {@code parts}. */
    private void readInto(Request r, Volume v, ByteBuffer data, List<ByteBuffer> parts) throws IOException {
        long started = System.nanoTime();
        List<Volume.Hole> holes = List.of();
        if (session.structured() && !r.hasFlag(Nbd.CMD_FLAG_DF)) {
            holes = v.readSparse(r.offset(), data, MAX_HOLES);
        } else {
            v.read(r.offset(), data);
        }
        if (r.length() <= MAX_JOINED_READ_BYTES) {
            noteRead(System.nanoTime() - started);
        }
        data.flip();
        replyParts(r, data, holes, parts);
    }

    /**
     * The reply to a read, for one gathering write: with holes (a sparse read), an OFFSET_DATA
     * chunk for each run of data and an OFFSET_HOLE chunk for each hole, the last one with DONE;
     * the holes' bytes never cross the socket. A read with more than {@link #MAX_HOLES} holes comes
     * back from the volume with none (filled with zeros) and goes as one data chunk.
     */
    private void replyParts(Request r, ByteBuffer data, List<Volume.Hole> holes, List<ByteBuffer> parts) {
        if (holes.isEmpty()) {
            dataParts(r, data, parts);
            return;
        }
        int length = data.remaining();
        int at = 0;
        for (Volume.Hole h : holes) {
            if (h.offset() > at) {
                parts.add(StructuredReply.offsetDataHeader(false, r.cookie(), r.offset() + at, h.offset() - at));
                parts.add(data.slice(at, h.offset() - at));
            }
            parts.add(StructuredReply.offsetHole(h.end() == length, r.cookie(), r.offset() + h.offset(), h.length()));
            at = h.end();
        }
        if (at < length) {
            parts.add(StructuredReply.offsetDataHeader(true, r.cookie(), r.offset() + at, length - at));
            parts.add(data.slice(at, length - at));
        }
    }

    private void dataParts(Request r, ByteBuffer data, List<ByteBuffer> parts) {
        if (session.structured()) {
            parts.add(StructuredReply.offsetDataHeader(true, r.cookie(), r.offset(), data.remaining()));
        } else {
            ByteBuffer h = ByteBuffer.allocate(SimpleReply.HEADER_LENGTH);
            SimpleReply.encode(h, 0, r.cookie());
            parts.add(h.flip());
        }
        parts.add(data);
    }

    private void writeZeroes(Request r, Volume v) throws IOException {
        boolean fua = r.hasFlag(Nbd.CMD_FLAG_FUA);
        if (r.hasFlag(Nbd.CMD_FLAG_NO_HOLE)) {
            // the client wants the zeros allocated: that means writing them, which is not fast
            if (r.hasFlag(Nbd.CMD_FLAG_FAST_ZERO)) {
                replyError(r, Nbd.ENOTSUP, "zeroing without holes is not fast here");
                return;
            }
            ByteBuffer zeros = ByteBuffer.allocate((int) Math.min(r.length(), 1 << 20));
            for (long done = 0; done < r.length(); ) {
                int n = (int) Math.min(zeros.capacity(), r.length() - done);
                v.write(r.offset() + done, zeros.clear().limit(n), false);
                done += n;
            }
            if (fua) {
                v.flush();
            }
        } else {
            v.writeZeroes(r.offset(), r.length(), fua);
        }
        replyOk(r);
    }

    private void blockStatus(Request r, Volume v) throws IOException {
        List<StatusExtent> extents = v.blockStatus(r.offset(), r.length());
        int n = r.hasFlag(Nbd.CMD_FLAG_REQ_ONE) ? 1 : Math.min(extents.size(), MAX_DESCRIPTORS);
        ByteBuffer b = ByteBuffer.allocate(StructuredReply.blockStatusLength(n));
        StructuredReply.blockStatusHeader(b, true, r.cookie(), session.allocationContext(), n);
        for (int i = 0; i < n; i++) {
            StatusExtent e = extents.get(i);
            StructuredReply.descriptor(b, e.length(), e.allocated() ? 0 : Nbd.STATE_HOLE | Nbd.STATE_ZERO);
        }
        b.flip();
        reply(b);
    }

    /**
     * Sends the one reply of a request. The request stops counting as unanswered first: once the
     * client has the reply it may send the next request, which must find this one answered to be
     * alone (see {@link #servesItself}), even if this thread has not returned from the write yet.
     */
    private void reply(ByteBuffer... bufs) throws IOException {
        replies(1, bufs);
    }

    /** Sends the replies of {@code count} requests in one write, as {@link #reply} sends one; nothing for none. */
    private void replies(int count, ByteBuffer... bufs) throws WireChannel.SendFailedException {
        if (count == 0) {
            return;
        }
        unanswered.addAndGet(-count);
        wire.write(bufs);
    }

    private void replyOk(Request r) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(okLength());
        encodeOk(b, r);
        reply(b.flip());
    }

    /** Bytes of a success reply without data in this session's kind of replies. */
    private int okLength() {
        return session.structured() ? StructuredReplyHeader.LENGTH : SimpleReply.HEADER_LENGTH;
    }

    /** Puts the success reply to {@code r} (no data) at {@code dst}'s position. */
    private void encodeOk(ByteBuffer dst, Request r) {
        if (session.structured()) {
            StructuredReply.none(dst, r.cookie());
        } else {
            SimpleReply.encode(dst, 0, r.cookie());
        }
    }

    private void replyError(Request r, int errno, String message) throws IOException {
        server.stats().error(errno);
        if (session.structured()) {
            String m = message.length() > 512 ? message.substring(0, 512) : message;
            reply(StructuredReply.error(true, r.cookie(), errno, m));
        } else {
            ByteBuffer b = ByteBuffer.allocate(SimpleReply.HEADER_LENGTH);
            SimpleReply.encode(b, errno, r.cookie());
            reply(b.flip());
        }
    }
}
