package io.viperblock.nbd.server;

import io.viperblock.nbd.protocol.Nbd;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import java.util.stream.Stream;

/**
 * Counters of one {@link NbdServer}: connections accepted, requests by command (and how many
 * the reader served itself, how many writes and reads were served joined), error replies by errno. Thread-safe: {@link LongAdder}s, no lock,
 * nothing allocated when counting.
 */
public final class NbdStats {
    /** Commands are numbered 0..CMD_RESIZE; anything else counts under "other". */
    private static final int COMMANDS = Nbd.CMD_RESIZE + 1;
    private static final int[] ERRNOS = {Nbd.EPERM, Nbd.EIO, Nbd.ENOMEM, Nbd.EINVAL, Nbd.ENOSPC, Nbd.EOVERFLOW, Nbd.ENOTSUP, Nbd.ESHUTDOWN};

    private final LongAdder accepted = new LongAdder();
    private final LongAdder servedByReader = new LongAdder();
    private final LongAdder joinedWrites = new LongAdder();
    private final LongAdder joinedReads = new LongAdder();
    private final LongAdder[] requests = adders(COMMANDS + 1);
    private final LongAdder[] errors = adders(ERRNOS.length + 1);

    private static LongAdder[] adders(int n) {
        return Stream.generate(LongAdder::new).limit(n).toArray(LongAdder[]::new);
    }

    void accepted() {
        accepted.increment();
    }

    void readerServed(int n) {
        servedByReader.add(n);
    }

    void joinedReads(int n) {
        joinedReads.add(n);
    }

    void joinedWrites(int n) {
        joinedWrites.add(n);
    }

    void request(int command) {
        requests[command >= 0 && command < COMMANDS ? command : COMMANDS].increment();
    }

    void error(int errno) {
        int i = 0;
        while (i < ERRNOS.length && ERRNOS[i] != errno) {
            i++;
        }
        errors[i].increment();
    }

    /** Connections accepted since the server started (TCP and Unix). */
    public long connectionsAccepted() {
        return accepted.sum();
    }

    /** Requests that a connection's reader served itself, without a worker. */
    public long servedByReader() {
        return servedByReader.sum();
    }

    /** Reads served one after the other by one worker, with others, their replies in one write (the first of each group included). */
    public long joinedReads() {
        return joinedReads.sum();
    }

    /** Writes served together with others in one group commit (the first of each group included). */
    public long joinedWrites() {
        return joinedWrites.sum();
    }

    /** Requests read so far by command name ({@code READ}, {@code WRITE}, ..., {@code other}), every command listed. */
    public Map<String, Long> requestsByCommand() {
        Map<String, Long> m = new LinkedHashMap<>();
        for (int c = 0; c < COMMANDS; c++) {
            m.put(Nbd.commandName(c), requests[c].sum());
        }
        m.put("other", requests[COMMANDS].sum());
        return m;
    }

    /** Error replies so far by errno name ({@code EINVAL}, ..., {@code other}), every errno listed. */
    public Map<String, Long> errorsByErrno() {
        Map<String, Long> m = new LinkedHashMap<>();
        for (int i = 0; i < ERRNOS.length; i++) {
            m.put(Nbd.errorName(ERRNOS[i]), errors[i].sum());
        }
        m.put("other", errors[ERRNOS.length].sum());
        return m;
    }
}
