package io.viperblock.core.format;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A minimal JSON codec for flat objects — the volume descriptor {@code volume.json} and the
 * lease objects — whose values are strings, integers, booleans and null. No nesting, arrays or
 * fractions: a document that is not exactly such an object is refused.
 *
 * <pre>
 * object := ws '{' ws [ member ( ws ',' ws member )* ] ws '}' ws
 * member := string ws ':' ws value          (keys unique)
 * value  := string | integer | 'true' | 'false' | 'null'
 * integer:= '-'? ( '0' | [1-9][0-9]* )      (must fit in a signed 64-bit long)
 * string := '"' ( any char >= U+0020 except '"' and '\' | escape )* '"'
 * escape := '\' ( '"' | '\' | '/' | 'b' | 'f' | 'n' | 'r' | 't' | 'u' hex hex hex hex )
 * ws     := ( ' ' | '\t' | '\n' | '\r' )*
 * </pre>
 *
 * {@link #write} produces one member per line, in the map's iteration order, escaping '"', '\',
 * control characters and every non-ASCII character (as {@code \\uXXXX}), so the output is ASCII
 * and any Java string, even with unpaired surrogates, round-trips.
 *
 * <p>Stateless, hence thread-safe.
 */
public final class FlatJson {

    private FlatJson() {}

    /**
     * Writes {@code members} as a flat JSON object, keys in iteration order (use a LinkedHashMap).
     * Values must be String, Long, Integer, Short, Byte, Boolean or null.
     */
    public static String write(Map<String, ?> members) {
        StringBuilder b = new StringBuilder("{");
        boolean first = true;
        for (Map.Entry<String, ?> m : members.entrySet()) {
            b.append(first ? "\n  " : ",\n  ");
            first = false;
            quote(b, m.getKey());
            b.append(": ");
            Object v = m.getValue();
            if (v == null) {
                b.append("null");
            } else if (v instanceof String s) {
                quote(b, s);
            } else if (v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte) {
                b.append(((Number) v).longValue());
            } else if (v instanceof Boolean z) {
                b.append(z.booleanValue());
            } else {
                throw new IllegalArgumentException("value of \"" + m.getKey() + "\" is a " + v.getClass().getName()
                        + "; only String, integer, Boolean and null are allowed");
            }
        }
        return b.append(first ? "}\n" : "\n}\n").toString();
    }

    /** Appends {@code s} as a JSON string, escaped as {@link #write} escapes it (pure ASCII). */
    public static void quote(StringBuilder b, String s) {
        if (s == null) {
            throw new IllegalArgumentException("null key");
        }
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                case '\b' -> b.append("\\b");
                case '\f' -> b.append("\\f");
                default -> {
                    if (c < 0x20 || c > 0x7e) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        b.append('"');
    }

    /**
     * Parses a flat JSON object. Values come back as String, Long, Boolean or null; the map keeps
     * document order and is unmodifiable.
     *
     * @param source the file path or object key, for messages
     * @throws CorruptFormatException naming source and the character offset of the first error
     */
    public static Map<String, Object> parse(String json, String source) throws CorruptFormatException {
        return new Parser(json, source).object();
    }

    private static final class Parser {
        private final String s;
        private final String source;
        private int i;

        Parser(String s, String source) {
            this.s = s;
            this.source = source;
        }

        Map<String, Object> object() throws CorruptFormatException {
            Map<String, Object> out = new LinkedHashMap<>();
            ws();
            expect('{');
            ws();
            if (peek() == '}') {
                i++;
            } else {
                while (true) {
                    ws();
                    int keyAt = i;
                    if (peek() != '"') {
                        throw fail("expected a string key");
                    }
                    String key = string();
                    ws();
                    expect(':');
                    ws();
                    Object value = value();
                    if (out.containsKey(key)) {
                        throw fail("duplicate key \"" + key + "\"", keyAt);
                    }
                    out.put(key, value);
                    ws();
                    int c = peek();
                    if (c == ',') {
                        i++;
                    } else if (c == '}') {
                        i++;
                        break;
                    } else {
                        throw fail("expected ',' or '}'");
                    }
                }
            }
            ws();
            if (i < s.length()) {
                throw fail("unexpected text after the object");
            }
            return Collections.unmodifiableMap(out);
        }

        private Object value() throws CorruptFormatException {
            int c = peek();
            switch (c) {
                case '"':
                    return string();
                case 't':
                    word("true");
                    return Boolean.TRUE;
                case 'f':
                    word("false");
                    return Boolean.FALSE;
                case 'n':
                    word("null");
                    return null;
                case '{':
                case '[':
                    throw fail("nested " + (c == '{' ? "objects" : "arrays") + " are not supported");
                case -1:
                    throw fail("unexpected end of input, expected a value");
                default:
                    if (c == '-' || (c >= '0' && c <= '9')) {
                        return integer();
                    }
                    throw fail("expected a value");
            }
        }

        private Long integer() throws CorruptFormatException {
            int start = i;
            if (peek() == '-') {
                i++;
            }
            int digits = i;
            if (peek() == '0') {
                i++;
            } else if (peek() >= '1' && peek() <= '9') {
                while (peek() >= '0' && peek() <= '9') {
                    i++;
                }
            } else {
                throw fail("expected a digit");
            }
            int c = peek();
            if (c == '.' || c == 'e' || c == 'E') {
                throw fail("only integers are supported", start);
            }
            if (c >= '0' && c <= '9') {
                throw fail("leading zeros are not allowed", digits);
            }
            try {
                return Long.parseLong(s, start, i, 10);
            } catch (NumberFormatException e) {
                throw fail("integer out of the 64-bit range", start);
            }
        }

        private String string() throws CorruptFormatException {
            expect('"');
            StringBuilder b = new StringBuilder();
            while (true) {
                if (i >= s.length()) {
                    throw fail("unterminated string");
                }
                char c = s.charAt(i);
                if (c == '"') {
                    i++;
                    return b.toString();
                }
                if (c < 0x20) {
                    throw fail("unescaped control character U+" + String.format("%04X", (int) c) + " in a string");
                }
                if (c != '\\') {
                    b.append(c);
                    i++;
                    continue;
                }
                int escapeAt = i;
                i++;
                if (i >= s.length()) {
                    throw fail("unterminated string");
                }
                char e = s.charAt(i++);
                switch (e) {
                    case '"' -> b.append('"');
                    case '\\' -> b.append('\\');
                    case '/' -> b.append('/');
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'n' -> b.append('\n');
                    case 'r' -> b.append('\r');
                    case 't' -> b.append('\t');
                    case 'u' -> {
                        int v = 0;
                        for (int k = 0; k < 4; k++) {
                            int d = i < s.length() ? hexDigit(s.charAt(i)) : -1;
                            if (d < 0) {
                                throw fail("bad \\u escape", escapeAt);
                            }
                            v = v * 16 + d;
                            i++;
                        }
                        b.append((char) v);
                    }
                    default -> throw fail("bad escape \\" + e, escapeAt);
                }
            }
        }

        private static int hexDigit(char c) {
            if (c >= '0' && c <= '9') {
                return c - '0';
            }
            if (c >= 'a' && c <= 'f') {
                return c - 'a' + 10;
            }
            if (c >= 'A' && c <= 'F') {
                return c - 'A' + 10;
            }
            return -1;
        }

        private void word(String w) throws CorruptFormatException {
            if (!s.startsWith(w, i)) {
                throw fail("expected a value");
            }
            i += w.length();
            int c = peek();
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
                throw fail("expected a value", i - w.length());
            }
        }

        private void expect(char c) throws CorruptFormatException {
            if (peek() != c) {
                throw fail(peek() == -1 ? "unexpected end of input, expected '" + c + "'" : "expected '" + c + "'");
            }
            i++;
        }

        private void ws() {
            while (i < s.length()) {
                char c = s.charAt(i);
                if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
                    return;
                }
                i++;
            }
        }

        private int peek() {
            return i < s.length() ? s.charAt(i) : -1;
        }

        private CorruptFormatException fail(String problem) {
            return fail(problem, i);
        }

        private CorruptFormatException fail(String problem, int at) {
            return new CorruptFormatException("JSON " + source + ": " + problem + " at character offset " + at,
                    source, at);
        }
    }
}
