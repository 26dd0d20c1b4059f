package io.viperblock.nbd.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Random garbage, and valid frames with random damage, fed to every decoder and payload parser:
 * nothing but {@link NbdProtocolException} (for the parsers, {@link InvalidOptionException}) may
 * come out: no IndexOutOfBounds, no NegativeArraySize, no OutOfMemory. A decoder that returns
 * null has consumed nothing; one that returns a message has consumed no more than was there.
 */
class FuzzTest {

    static final int CASES = 20_000;

    record Target(String name, Frames.Decoder<?> decoder, byte[] magic) {}

    static final List<Target> TARGETS = List.of(
            new Target("ServerGreeting", ServerGreeting::decode, ServerGreeting.DEFAULT.encode().array()),
            new Target("ClientFlags", ClientFlags::decode, new byte[0]),
            new Target("OptionRequest", b -> OptionRequest.decode(b, 4096), OptionRequest.of(0).encode().array()),
            new Target("OptionReply", b -> OptionReply.decode(b, 4096), OptionReply.ack(0).encode().array()),
            new Target("ExportNameReply", b -> ExportNameReply.decode(b, false), new byte[0]),
            new Target("Request", Request::decodeHeader, new Request(0, 0, 0, 0, 0).encodeHeader().array()),
            new Target("SimpleReply", SimpleReply::decode, new SimpleReply(0, 0).encode().array()),
            new Target("StructuredReplyHeader", StructuredReplyHeader::decode, StructuredReply.none(0).array()));

    /** Garbage that starts with the right magic often enough to get past the first check. */
    static byte[] garbage(SplittableRandom r, byte[] validPrefix) {
        int n = switch (r.nextInt(4)) {
            case 0 -> r.nextInt(8);
            case 1 -> r.nextInt(40);
            case 2 -> r.nextInt(200);
            default -> r.nextInt(5000);
        };
        byte[] g = Seeds.bytes(r, n);
        if (r.nextBoolean() && validPrefix.length > 0) {
            int keep = Math.min(n, r.nextInt(4) == 0 ? r.nextInt(validPrefix.length + 1) : Math.min(validPrefix.length, 8));
            System.arraycopy(validPrefix, 0, g, 0, keep);
            // make length fields small sometimes, so complete frames come out too
            if (r.nextBoolean() && n > 16) {
                for (int i = 8; i < Math.min(n, 24); i++) {
                    if (r.nextInt(3) == 0) {
                        g[i] = 0;
                    }
                }
            }
        }
        return g;
    }

    static byte[] damage(SplittableRandom r, byte[] valid) {
        byte[] d = valid.clone();
        int flips = 1 + r.nextInt(4);
        for (int i = 0; i < flips && d.length > 0; i++) {
            d[r.nextInt(d.length)] ^= (byte) (1 << r.nextInt(8));
        }
        if (r.nextInt(4) == 0) {
            d = java.util.Arrays.copyOf(d, r.nextInt(d.length + 8));
        }
        return d;
    }

    /** Runs a decoder over the bytes until it needs more or fails; checks the position rules. */
    static void drain(Frames.Decoder<?> decoder, byte[] bytes, boolean direct) {
        ByteBuffer b = direct ? ByteBuffer.allocateDirect(bytes.length).put(bytes).flip() : ByteBuffer.wrap(bytes);
        try {
            while (true) {
                int before = b.position();
                Object m = decoder.decode(b);
                if (m == null) {
                    assertEquals(before, b.position(), "null must consume nothing");
                    return;
                }
                assertTrue(b.position() > before || bytes.length == 0, "a message must consume its bytes");
                assertTrue(b.position() <= b.limit());
                if (b.position() == before) {
                    return; // a zero-length message (none exists today)
                }
            }
        } catch (NbdProtocolException expected) {
            // the only thing allowed
        } catch (Throwable t) {
            fail("unexpected " + t + " for " + java.util.HexFormat.of().formatHex(bytes, 0, Math.min(bytes.length, 64)), t);
        }
    }

    @Test
    void decodersOnlyEverThrowNbdProtocolException() {
        SplittableRandom r = Seeds.random("decodersOnlyEverThrowNbdProtocolException");
        for (Target t : TARGETS) {
            for (int i = 0; i < CASES; i++) {
                drain(t.decoder(), garbage(r, t.magic()), (i & 7) == 0);
            }
        }
    }

    @Test
    void damagedValidStreamsOnlyEverThrowNbdProtocolException() throws Exception {
        SplittableRandom r = Seeds.random("damagedValidStreamsOnlyEverThrowNbdProtocolException");
        List<byte[]> options = new ArrayList<>();
        List<byte[]> replies = new ArrayList<>();
        List<byte[]> requests = new ArrayList<>();
        List<byte[]> chunks = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            options.add(Frames.bytes(OptionRequestTest.randomInfo(r).toOption(Nbd.OPT_GO).encode()));
            options.add(Frames.bytes(OptionRequestTest.randomMeta(r).toOption(Nbd.OPT_SET_META_CONTEXT).encode()));
            replies.add(Frames.bytes(OptionReplyTest.randomReply(r).encode()));
            requests.add(Frames.bytes(TransmissionTest.randomRequest(r).encodeHeader()));
            chunks.add(Frames.bytes(StructuredReply.error(true, r.nextLong(), 5, Seeds.string(r, 50))));
        }
        for (int i = 0; i < CASES; i++) {
            drain(b -> OptionRequest.decode(b, 4096), concat(r, options), false);
            drain(b -> OptionReply.decode(b, 4096), concat(r, replies), false);
            drain(Request::decodeHeader, concat(r, requests), true);
            drain(StructuredReplyHeader::decode, concat(r, chunks), false);
        }
    }

    /** A few valid frames back to back, one of them damaged. */
    static byte[] concat(SplittableRandom r, List<byte[]> frames) {
        int n = 1 + r.nextInt(4);
        int bad = r.nextInt(n);
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        for (int i = 0; i < n; i++) {
            byte[] f = frames.get(r.nextInt(frames.size()));
            out.writeBytes(i == bad ? damage(r, f) : f);
        }
        return out.toByteArray();
    }

    @Test
    void payloadParsersOnlyEverThrowInvalidOptionException() {
        SplittableRandom r = Seeds.random("payloadParsersOnlyEverThrowInvalidOptionException");
        int[] options = {Nbd.OPT_EXPORT_NAME, Nbd.OPT_INFO, Nbd.OPT_GO, Nbd.OPT_LIST_META_CONTEXT, Nbd.OPT_SET_META_CONTEXT};
        int parsed = 0;
        for (int i = 0; i < 5 * CASES; i++) {
            int option = options[r.nextInt(options.length)];
            byte[] data = switch (r.nextInt(3)) {
                case 0 -> Seeds.bytes(r, r.nextInt(64));
                case 1 -> semiValid(r, option);
                default -> damage(r, valid(r, option));
            };
            OptionRequest o = new OptionRequest(option, data);
            try {
                Object v = switch (option) {
                    case Nbd.OPT_EXPORT_NAME -> o.parseExportName();
                    case Nbd.OPT_INFO, Nbd.OPT_GO -> o.parseInfo();
                    default -> o.parseMetaContext();
                };
                parsed++;
                // whatever parses must re-encode to the same bytes
                OptionRequest again = switch (v) {
                    case String s -> OptionRequest.exportName(s);
                    case ExportInfoRequest e -> e.toOption(option);
                    case MetaContextRequest m -> m.toOption(option);
                    default -> throw new AssertionError(v);
                };
                assertEquals(o, again, "a parsed payload re-encodes to the same bytes");
            } catch (InvalidOptionException expected) {
                assertEquals(option, expected.option());
            } catch (Throwable t) {
                fail("unexpected " + t + " parsing " + Nbd.optionName(option) + " "
                        + java.util.HexFormat.of().formatHex(data, 0, Math.min(64, data.length)), t);
            }
        }
        assertTrue(parsed > CASES / 10, "the fuzz must also reach the success path: " + parsed);
    }

    static byte[] valid(SplittableRandom r, int option) {
        return switch (option) {
            case Nbd.OPT_EXPORT_NAME -> OptionRequest.exportName(Seeds.string(r, 30)).data();
            case Nbd.OPT_INFO, Nbd.OPT_GO -> OptionRequestTest.randomInfo(r).toOption(option).data();
            default -> OptionRequestTest.randomMeta(r).toOption(option).data();
        };
    }

    /** Structure with small random lengths that are often, but not always, right. */
    static byte[] semiValid(SplittableRandom r, int option) {
        ByteBuffer b = ByteBuffer.allocate(512);
        int nameLen = r.nextInt(6);
        b.putInt(r.nextInt(10) == 0 ? r.nextInt() : nameLen);
        for (int i = 0; i < nameLen; i++) {
            b.put((byte) ('a' + r.nextInt(26)));
        }
        if (option == Nbd.OPT_INFO || option == Nbd.OPT_GO) {
            int k = r.nextInt(4);
            b.putShort((short) (r.nextInt(10) == 0 ? r.nextInt() : k));
            for (int i = 0; i < k; i++) {
                b.putShort((short) r.nextInt(5));
            }
        } else {
            int q = r.nextInt(4);
            b.putInt(r.nextInt(10) == 0 ? r.nextInt() : q);
            for (int i = 0; i < q; i++) {
                int ql = r.nextInt(8);
                b.putInt(r.nextInt(10) == 0 ? r.nextInt() : ql);
                for (int j = 0; j < ql; j++) {
                    b.put((byte) (r.nextInt(8) == 0 ? r.nextInt() : 'a' + r.nextInt(26)));
                }
            }
        }
        int end = Math.max(0, b.position() + (r.nextInt(6) == 0 ? r.nextInt(5) - 2 : 0));
        return java.util.Arrays.copyOf(b.array(), end);
    }
}
