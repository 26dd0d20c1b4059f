package io.viperblock.nbd.server;

import io.viperblock.nbd.protocol.Nbd;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

/**
 * Hostile client byte streams for the fuzz campaign, built by hand (the codec's encoders refuse
 * most of what is wanted here): valid frames, then bit flips, wrong magics, absurd lengths and
 * counts, truncation. Each method appends to a stream that a case sends blindly, without reading
 * replies first; the server handles it in order.
 *
 * <p>Not thread-safe: one instance per case (it holds the case's random source).
 */
final class HostileFrames {
    /** Option codes worth trying: every one defined, plus unknown ones. */
    private static final int[] OPTIONS = {Nbd.OPT_EXPORT_NAME, Nbd.OPT_ABORT, Nbd.OPT_LIST, Nbd.OPT_PEEK_EXPORT, Nbd.OPT_STARTTLS,
        Nbd.OPT_INFO, Nbd.OPT_GO, Nbd.OPT_STRUCTURED_REPLY, Nbd.OPT_LIST_META_CONTEXT, Nbd.OPT_SET_META_CONTEXT,
        Nbd.OPT_EXTENDED_HEADERS, 0, 12, 0x7fffffff, 0xffffffff};
    private static final int[] COMMANDS = {Nbd.CMD_READ, Nbd.CMD_WRITE, Nbd.CMD_FLUSH, Nbd.CMD_TRIM, Nbd.CMD_CACHE,
        Nbd.CMD_WRITE_ZEROES, Nbd.CMD_BLOCK_STATUS, Nbd.CMD_RESIZE, 9, 0xffff};
    /** Lengths at and around every limit the server has. */
    private static final long[] LENGTHS = {0, 1, 511, 4096, 65536, (32 << 20) - 1, 32 << 20, (32 << 20) + 1, 64 << 20,
        0x7fffffffL, 0x80000000L, 0xffffffffL};

    private final SplittableRandom r;
    private final String export;
    private final long exportSize;
    final ByteArrayOutputStream out = new ByteArrayOutputStream();
    /** Bytes of READ replies the stream may ask for, so one case cannot make the server send gigabytes. */
    private long readBudget = 8 << 20;

    HostileFrames(SplittableRandom r, String export, long exportSize) {
        this.r = r;
        this.export = export;
        this.exportSize = exportSize;
    }

    byte[] bytes() {
        return out.toByteArray();
    }

    void raw(byte[] b) {
        out.writeBytes(b);
    }

    void garbage(int max) {
        raw(Tools.bytes(r, r.nextInt(max + 1)));
    }

    void clientFlags() {
        int f = switch (r.nextInt(8)) {
            case 0 -> r.nextInt(); // unknown bits: the server must refuse
            case 1 -> 0; // not fixed newstyle
            case 2 -> Nbd.FLAG_C_FIXED_NEWSTYLE;
            default -> Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES;
        };
        raw(ByteBuffer.allocate(4).putInt(f).array());
    }

    /** An option frame: a valid one, one with wrong data, or one whose header lies about its length. */
    void option(int code) {
        byte[] data = r.nextInt(4) == 0 ? Tools.bytes(r, r.nextInt(300)) : optionData(code);
        long length = data.length;
        long magic = Nbd.IHAVEOPT;
        switch (r.nextInt(12)) {
            case 0 -> length = LENGTHS[r.nextInt(LENGTHS.length)]; // absurd or wrong length
            case 1 -> magic ^= 1L << r.nextInt(64); // wrong magic
            case 2 -> data = truncate(data);
            default -> { }
        }
        ByteBuffer b = ByteBuffer.allocate(16 + data.length).putLong(magic).putInt(code).putInt((int) length).put(data);
        byte[] frame = b.array();
        if (r.nextInt(6) == 0) {
            flip(frame, 1 + r.nextInt(3));
        }
        raw(frame);
    }

    /** An option code other than the ones that end negotiation (GO, EXPORT_NAME, ABORT). */
    int talkOption() {
        while (true) {
            int o = OPTIONS[r.nextInt(OPTIONS.length)];
            if (o != Nbd.OPT_GO && o != Nbd.OPT_EXPORT_NAME && o != Nbd.OPT_ABORT) {
                return o;
            }
        }
    }

    private byte[] optionData(int code) {
        return switch (code) {
            case Nbd.OPT_EXPORT_NAME -> name();
            case Nbd.OPT_INFO, Nbd.OPT_GO -> {
                byte[] n = name();
                int count = r.nextInt(5);
                ByteBuffer b = ByteBuffer.allocate(4 + n.length + 2 + 2 * count);
                b.putInt(r.nextInt(10) == 0 ? r.nextInt() : n.length).put(n);
                b.putShort((short) (r.nextInt(10) == 0 ? r.nextInt(65536) : count));
                for (int i = 0; i < count; i++) {
                    b.putShort((short) (r.nextBoolean() ? r.nextInt(5) : r.nextInt(65536)));
                }
                yield b.array();
            }
            case Nbd.OPT_LIST_META_CONTEXT, Nbd.OPT_SET_META_CONTEXT -> {
                byte[] n = name();
                int count = r.nextInt(4);
                ByteArrayOutputStream q = new ByteArrayOutputStream();
                for (int i = 0; i < count; i++) {
                    byte[] s = switch (r.nextInt(4)) {
                        case 0 -> "base:allocation".getBytes(StandardCharsets.US_ASCII);
                        case 1 -> "base:".getBytes(StandardCharsets.US_ASCII);
                        case 2 -> "qemu:dirty-bitmap:x".getBytes(StandardCharsets.US_ASCII);
                        default -> Tools.bytes(r, r.nextInt(40));
                    };
                    q.writeBytes(ByteBuffer.allocate(4).putInt(r.nextInt(10) == 0 ? r.nextInt() : s.length).array());
                    q.writeBytes(s);
                }
                ByteBuffer b = ByteBuffer.allocate(4 + n.length + 4 + q.size());
                b.putInt(n.length).put(n).putInt(r.nextInt(10) == 0 ? r.nextInt() : count).put(q.toByteArray());
                yield b.array();
            }
            default -> r.nextInt(3) == 0 ? Tools.bytes(r, r.nextInt(64)) : new byte[0];
        };
    }

    /** The fuzzed export's name mostly; else empty, unknown, invalid UTF-8, with a NUL, or over 4096 bytes. */
    private byte[] name() {
        return switch (r.nextInt(8)) {
            case 0 -> new byte[0];
            case 1 -> "nosuch".getBytes(StandardCharsets.US_ASCII);
            case 2 -> new byte[] {(byte) 0xc3, 0x28, 'x'};
            case 3 -> new byte[] {'f', 0, 'z'};
            case 4 -> new byte[4097 + r.nextInt(100)];
            default -> export.getBytes(StandardCharsets.US_ASCII);
        };
    }

    /** The options that select the export: GO (its usual form) or EXPORT_NAME. */
    void select() {
        byte[] n = export.getBytes(StandardCharsets.US_ASCII);
        if (r.nextInt(4) == 0) {
            raw(ByteBuffer.allocate(16 + n.length).putLong(Nbd.IHAVEOPT).putInt(Nbd.OPT_EXPORT_NAME).putInt(n.length).put(n).array());
        } else {
            raw(ByteBuffer.allocate(16 + 4 + n.length + 2).putLong(Nbd.IHAVEOPT).putInt(Nbd.OPT_GO).putInt(4 + n.length + 2)
                    .putInt(n.length).put(n).putShort((short) 0).array());
        }
    }

    /** A transmission request: valid, out of range, over the limits, or mutated; a WRITE with its payload (or part). */
    void request() {
        int type = r.nextInt(3) == 0 ? COMMANDS[r.nextInt(COMMANDS.length)] : (r.nextBoolean() ? Nbd.CMD_READ : Nbd.CMD_WRITE);
        int flags = switch (r.nextInt(6)) {
            case 0 -> r.nextInt(65536);
            case 1 -> 1 << r.nextInt(16);
            default -> r.nextInt(4) == 0 ? Nbd.CMD_FLAG_FUA : 0;
        };
        long offset = switch (r.nextInt(8)) {
            case 0 -> exportSize - r.nextInt(8192); // straddles the end
            case 1 -> exportSize + r.nextInt(1 << 20); // past the end
            case 2 -> r.nextBoolean() ? Long.MAX_VALUE : -1L - r.nextInt(4096); // huge unsigned offsets
            default -> r.nextLong(exportSize);
        };
        long length = r.nextInt(5) == 0 ? LENGTHS[r.nextInt(LENGTHS.length)] : 1 + r.nextInt(r.nextInt(8) == 0 ? 65536 : 4096);
        if (type == Nbd.CMD_FLUSH && r.nextBoolean()) {
            offset = 0;
            length = 0;
        }
        boolean legalRead = (type == Nbd.CMD_READ) && length <= (32 << 20) && offset >= 0 && offset <= exportSize
                && length <= exportSize - offset;
        if (legalRead) {
            if (length > readBudget) {
                length = 1 + r.nextInt(4096);
            }
            readBudget -= length;
        }
        int magic = r.nextInt(40) == 0 ? Nbd.REQUEST_MAGIC ^ (1 << r.nextInt(32)) : Nbd.REQUEST_MAGIC;
        byte[] header = ByteBuffer.allocate(28).putInt(magic).putShort((short) flags).putShort((short) type)
                .putLong(r.nextLong()).putLong(offset).putInt((int) length).array();
        if (r.nextInt(10) == 0) {
            flip(header, 1 + r.nextInt(2));
        }
        raw(header);
        if (type == Nbd.CMD_WRITE) {
            // the whole payload when it is small; else a part, and the stream is out of step from here
            int n = length <= 65536 ? (int) length : r.nextInt(65536);
            raw(r.nextInt(20) == 0 ? truncate(Tools.bytes(r, n)) : Tools.bytes(r, n));
        }
    }

    void disconnect() {
        raw(ByteBuffer.allocate(28).putInt(Nbd.REQUEST_MAGIC).putShort((short) 0).putShort((short) Nbd.CMD_DISC)
                .putLong(0).putLong(0).putInt(0).array());
    }

    byte[] truncate(byte[] b) {
        return java.util.Arrays.copyOf(b, b.length == 0 ? 0 : r.nextInt(b.length));
    }

    void flip(byte[] b, int bits) {
        for (int i = 0; i < bits && b.length > 0; i++) {
            int at = r.nextInt(b.length);
            b[at] ^= (byte) (1 << r.nextInt(8));
        }
    }
}
