package io.viperblock.nbd.server;

import io.viperblock.core.volume.Volume;
import io.viperblock.nbd.protocol.ClientFlags;
import io.viperblock.nbd.protocol.ExportInfoRequest;
import io.viperblock.nbd.protocol.ExportNameReply;
import io.viperblock.nbd.protocol.InvalidOptionException;
import io.viperblock.nbd.protocol.MetaContextRequest;
import io.viperblock.nbd.protocol.Nbd;
import io.viperblock.nbd.protocol.NbdProtocolException;
import io.viperblock.nbd.protocol.OptionReply;
import io.viperblock.nbd.protocol.OptionRequest;
import io.viperblock.nbd.protocol.ServerGreeting;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The fixed-newstyle handshake: greeting, client flags, then options until the client picks an
 * export (OPT_GO or OPT_EXPORT_NAME) or leaves. Options this server does not know get
 * ERR_UNSUP and negotiation goes on; malformed option data gets ERR_INVALID.
 *
 * <p>Thread-safety: confined to the connection's reader thread.
 */
final class Negotiation {
    private static final Logger log = LoggerFactory.getLogger(Negotiation.class);
    static final String BASE_ALLOCATION = "base:allocation";
    /** The id this server gives {@code base:allocation} when a client selects it. */
    static final int ALLOCATION_CONTEXT_ID = 1;

    /**
     * The flags every export is offered with, each true of this server: one WAL per volume makes a
     * flush on any connection cover writes acknowledged on all of them (CAN_MULTI_CONN); zeroing is
     * metadata, so it is always fast. DF is added once structured replies are negotiated.
     */
    static final int TRANSMISSION_FLAGS = Nbd.FLAG_HAS_FLAGS | Nbd.FLAG_SEND_FLUSH | Nbd.FLAG_SEND_FUA | Nbd.FLAG_SEND_TRIM
            | Nbd.FLAG_SEND_WRITE_ZEROES | Nbd.FLAG_SEND_FAST_ZERO | Nbd.FLAG_SEND_CACHE | Nbd.FLAG_CAN_MULTI_CONN;

    private int transmissionFlags() {
        return structured ? TRANSMISSION_FLAGS | Nbd.FLAG_SEND_DF : TRANSMISSION_FLAGS;
    }

    private final WireChannel wire;
    private final Exports exports;
    private final NbdServerConfig config;
    private boolean noZeroes;
    private boolean structured;
    private int allocationContext;
    private String allocationExport;

    Negotiation(WireChannel wire, Exports exports, NbdServerConfig config) {
        this.wire = wire;
        this.exports = exports;
        this.config = config;
    }

    /** Runs the handshake; returns the session, or null if the client ended it (ABORT). */
    Session run() throws IOException {
        wire.write(ServerGreeting.DEFAULT.encode());
        ByteBuffer flagsBuf = ByteBuffer.allocate(ClientFlags.LENGTH);
        wire.readFully(flagsBuf);
        flagsBuf.flip();
        ClientFlags flags = ClientFlags.decode(flagsBuf);
        flags.check(ServerGreeting.DEFAULT.handshakeFlags());
        noZeroes = flags.noZeroes();
        ByteBuffer header = ByteBuffer.allocate(OptionRequest.HEADER_LENGTH);
        while (true) {
            OptionRequest opt = readOption(header);
            Session s = handle(opt);
            if (s != null) {
                return s;
            }
            if (opt.option() == Nbd.OPT_ABORT) {
                return null;
            }
        }
    }

    private OptionRequest readOption(ByteBuffer header) throws IOException {
        header.clear();
        wire.readFully(header);
        header.flip();
        // the decoder checks magic and length before anything is allocated
        OptionRequest opt = OptionRequest.decode(header, OptionRequest.DEFAULT_MAX_DATA_LENGTH);
        if (opt != null) {
            return opt;
        }
        int length = header.getInt(12);
        ByteBuffer frame = ByteBuffer.allocate(OptionRequest.HEADER_LENGTH + length);
        frame.put(header.rewind());
        wire.readFully(frame);
        frame.flip();
        return OptionRequest.decode(frame, OptionRequest.DEFAULT_MAX_DATA_LENGTH);
    }

    private void reply(OptionReply r) throws IOException {
        wire.write(r.encode());
    }

    private Session handle(OptionRequest opt) throws IOException {
        int o = opt.option();
        try {
            switch (o) {
                case Nbd.OPT_EXPORT_NAME -> {
                    return exportName(opt);
                }
                case Nbd.OPT_ABORT -> reply(OptionReply.ack(o));
                case Nbd.OPT_LIST -> list(opt);
                case Nbd.OPT_INFO, Nbd.OPT_GO -> {
                    return info(opt);
                }
                case Nbd.OPT_STRUCTURED_REPLY -> {
                    if (opt.dataLength() != 0) {
                        reply(OptionReply.error(o, Nbd.REP_ERR_INVALID, "STRUCTURED_REPLY takes no data"));
                    } else {
                        structured = true;
                        reply(OptionReply.ack(o));
                    }
                }
                case Nbd.OPT_LIST_META_CONTEXT, Nbd.OPT_SET_META_CONTEXT -> metaContext(opt);
                default -> reply(OptionReply.error(o, Nbd.REP_ERR_UNSUP, "option " + Nbd.optionName(o) + " is not supported by this server"));
            }
        } catch (InvalidOptionException e) {
            if (o == Nbd.OPT_EXPORT_NAME) {
                throw e; // cannot be answered with an error: the session ends
            }
            reply(OptionReply.error(o, Nbd.REP_ERR_INVALID, e.getMessage()));
        }
        return null;
    }

    private Session exportName(OptionRequest opt) throws IOException {
        String name = resolve(opt.parseExportName());
        Volume v = name == null ? null : exports.find(name);
        if (v == null) {
            // the protocol gives EXPORT_NAME no way to refuse but to hang up
            throw new NbdProtocolException("client asked for export \"" + opt.parseExportName() + "\", which does not exist");
        }
        wire.write(new ExportNameReply(v.size(), transmissionFlags()).encode(noZeroes));
        return new Session(v, structured, allocationFor(name));
    }

    private void list(OptionRequest opt) throws IOException {
        if (opt.dataLength() != 0) {
            reply(OptionReply.error(opt.option(), Nbd.REP_ERR_INVALID, "LIST takes no data"));
            return;
        }
        for (String name : exports.names()) {
            reply(OptionReply.server(opt.option(), name, null));
        }
        reply(OptionReply.ack(opt.option()));
    }

    private Session info(OptionRequest opt) throws IOException {
        int o = opt.option();
        ExportInfoRequest req = opt.parseInfo();
        String name = resolve(req.exportName());
        Volume v = name == null ? null : exports.find(name);
        if (v == null) {
            reply(OptionReply.error(o, Nbd.REP_ERR_UNKNOWN, "no export named \"" + req.exportName() + "\" (try listing the exports)"));
            return null;
        }
        reply(OptionReply.infoExport(o, v.size(), transmissionFlags()));
        if (req.requested(Nbd.INFO_NAME)) {
            reply(OptionReply.infoName(o, name));
        }
        if (req.requested(Nbd.INFO_DESCRIPTION)) {
            reply(OptionReply.infoDescription(o, "Viperblock volume " + name));
        }
        // always sent: the maximum keeps clients from sending requests this server refuses
        reply(OptionReply.infoBlockSize(o, NbdServerConfig.MIN_BLOCK, NbdServerConfig.PREFERRED_BLOCK, config.maxRequestBytes()));
        reply(OptionReply.ack(o));
        if (o == Nbd.OPT_GO) {
            return new Session(v, structured, allocationFor(name));
        }
        return null;
    }

    private void metaContext(OptionRequest opt) throws IOException {
        int o = opt.option();
        boolean set = o == Nbd.OPT_SET_META_CONTEXT;
        if (set && !structured) {
            reply(OptionReply.error(o, Nbd.REP_ERR_INVALID, "SET_META_CONTEXT needs structured replies first"));
            return;
        }
        MetaContextRequest req = opt.parseMetaContext();
        String name = resolve(req.exportName());
        if (name == null || exports.find(name) == null) {
            reply(OptionReply.error(o, Nbd.REP_ERR_UNKNOWN, "no export named \"" + req.exportName() + "\""));
            return;
        }
        List<String> queries = req.queries();
        boolean allocation = (!set && queries.isEmpty())
                || queries.stream().anyMatch(q -> q.equals(BASE_ALLOCATION) || (!set && q.equals("base:")));
        if (set) {
            // a SET replaces any earlier selection
            allocationContext = allocation ? ALLOCATION_CONTEXT_ID : 0;
            allocationExport = allocation ? name : null;
        }
        if (allocation) {
            reply(OptionReply.metaContext(o, set ? ALLOCATION_CONTEXT_ID : 0, BASE_ALLOCATION));
        }
        reply(OptionReply.ack(o));
    }

    /** The context id for the export finally chosen: valid only if SET_META_CONTEXT named that export. */
    private int allocationFor(String name) {
        return allocationContext != 0 && name.equals(allocationExport) ? allocationContext : 0;
    }

    /** The export name a client means: "" selects the default export. */
    private String resolve(String name) {
        if (name.isEmpty()) {
            String d = exports.defaultName();
            if (d == null) {
                log.debug("{}: empty export name and no default export", wire.describe());
            }
            return d;
        }
        return name;
    }
}
