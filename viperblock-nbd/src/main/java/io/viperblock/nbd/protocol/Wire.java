package io.viperblock.nbd.protocol;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetEncoder;
import java.nio.charset.StandardCharsets;

/**
 * Big-endian absolute reads and writes that ignore the buffer's own byte order (a pooled buffer
 * may have been left little-endian), range checks, and the protocol's string rules.
 *
 * <p>Stateless, hence thread-safe.
 */
final class Wire {

    private Wire() {}

    static boolean bigEndian(ByteBuffer b) {
        return b.order() == ByteOrder.BIG_ENDIAN;
    }

    static int u16(ByteBuffer b, int index) {
        short v = b.getShort(index);
        return Short.toUnsignedInt(bigEndian(b) ? v : Short.reverseBytes(v));
    }

    static int i32(ByteBuffer b, int index) {
        int v = b.getInt(index);
        return bigEndian(b) ? v : Integer.reverseBytes(v);
    }

    static long u32(ByteBuffer b, int index) {
        return Integer.toUnsignedLong(i32(b, index));
    }

    static long i64(ByteBuffer b, int index) {
        long v = b.getLong(index);
        return bigEndian(b) ? v : Long.reverseBytes(v);
    }

    static void put16(ByteBuffer b, int index, int v) {
        short s = (short) v;
        b.putShort(index, bigEndian(b) ? s : Short.reverseBytes(s));
    }

    static void put32(ByteBuffer b, int index, int v) {
        b.putInt(index, bigEndian(b) ? v : Integer.reverseBytes(v));
    }

    static void put64(ByteBuffer b, int index, long v) {
        b.putLong(index, bigEndian(b) ? v : Long.reverseBytes(v));
    }

    /** Throws IllegalArgumentException unless {@code dst} has {@code n} bytes of room. */
    static void requireRoom(ByteBuffer dst, long n, String what) {
        if (dst.remaining() < n) {
            throw new IllegalArgumentException(what + " needs " + n + " bytes, buffer has " + dst.remaining());
        }
    }

    static int checkU16(int v, String what) {
        if ((v & ~0xFFFF) != 0) {
            throw new IllegalArgumentException(what + " must fit in 16 bits: " + v);
        }
        return v;
    }

    static long checkU32(long v, String what) {
        if ((v & ~0xFFFF_FFFFL) != 0) {
            throw new IllegalArgumentException(what + " must fit in 32 bits: " + v);
        }
        return v;
    }

    static String hex(long v, int digits) {
        String s = Long.toHexString(v);
        return "0x" + "0".repeat(Math.max(0, digits - s.length())) + s;
    }

    /**
     * Decodes a protocol string: strict UTF-8 (malformed or overlong sequences and encoded
     * surrogates are refused), no NUL, at most {@link Nbd#MAX_STRING_LENGTH} bytes. Returns null
     * when the bytes break a rule, so the caller can name the field in its own exception.
     */
    static String decodeString(byte[] src, int offset, int length) {
        if (length > Nbd.MAX_STRING_LENGTH) {
            return null;
        }
        for (int i = offset; i < offset + length; i++) {
            if (src[i] == 0) {
                return null;
            }
        }
        try {
            return StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(src, offset, length)).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    /**
     * Encodes a name the server chose (export name, context name): must be valid Unicode (no
     * unpaired surrogate), contain no NUL and take at most {@link Nbd#MAX_STRING_LENGTH} UTF-8 bytes.
     */
    static byte[] encodeName(String s, String what) {
        if (s.indexOf('\0') >= 0) {
            throw new IllegalArgumentException(what + " must not contain NUL");
        }
        CharsetEncoder enc = StandardCharsets.UTF_8.newEncoder();
        ByteBuffer bb;
        try {
            bb = enc.encode(CharBuffer.wrap(s));
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException(what + " is not valid Unicode (unpaired surrogate)", e);
        }
        if (bb.remaining() > Nbd.MAX_STRING_LENGTH) {
            throw new IllegalArgumentException(what + " is " + bb.remaining() + " UTF-8 bytes, the limit is "
                    + Nbd.MAX_STRING_LENGTH);
        }
        byte[] out = new byte[bb.remaining()];
        bb.get(out);
        return out;
    }

    /**
     * Encodes a human-readable message (error text, description) leniently: NUL becomes a space,
     * an unpaired surrogate becomes '?', and text beyond {@link Nbd#MAX_STRING_LENGTH} UTF-8 bytes
     * is cut at a character boundary. Null means no message.
     */
    static byte[] encodeMessage(String s) {
        if (s == null || s.isEmpty()) {
            return new byte[0];
        }
        byte[] b = s.replace('\0', ' ').getBytes(StandardCharsets.UTF_8);
        if (b.length <= Nbd.MAX_STRING_LENGTH) {
            return b;
        }
        int cut = Nbd.MAX_STRING_LENGTH;
        while (cut > 0 && (b[cut] & 0xC0) == 0x80) {
            cut--; // b[cut] continues the character that starts before it
        }
        byte[] out = new byte[cut];
        System.arraycopy(b, 0, out, 0, cut);
        return out;
    }
}
