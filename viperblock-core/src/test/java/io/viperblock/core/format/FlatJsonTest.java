package io.viperblock.core.format;

import io.viperblock.core.testing.Seeds;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class FlatJsonTest {

    private static final String SRC = "volumes/db1/volume.json";

    @Test
    void volumeAndLeaseDocumentsRoundTrip() throws CorruptFormatException {
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("formatVersion", 1L);
        v.put("name", "db1");
        v.put("id", "6f1c1e9a-3a0e-4b5e-9d0c-6a3f1f7f2b10");
        v.put("size", 10L * 1024 * 1024 * 1024);
        v.put("blockSize", 4096L);
        v.put("created", "2025-01-31T12:00:00Z");
        v.put("state", "active");
        v.put("parent", null);
        String json = FlatJson.write(v);
        assertEquals("""
                {
                  "formatVersion": 1,
                  "name": "db1",
                  "id": "6f1c1e9a-3a0e-4b5e-9d0c-6a3f1f7f2b10",
                  "size": 10737418240,
                  "blockSize": 4096,
                  "created": "2025-01-31T12:00:00Z",
                  "state": "active",
                  "parent": null
                }
                """, json);
        Map<String, Object> back = FlatJson.parse(json, SRC);
        assertEquals(v, back);
        assertEquals(new ArrayList<>(v.keySet()), new ArrayList<>(back.keySet()));
        assertTrue(back.containsKey("parent"));

        Map<String, Object> lease = new LinkedHashMap<>();
        lease.put("holder", "node-1");
        lease.put("epoch", 7L);
        lease.put("since", "2025-01-31T12:00:00Z");
        lease.put("pid", 4242L);
        lease.put("released", false);
        assertEquals(lease, FlatJson.parse(FlatJson.write(lease), "volumes/db1/lease/0000000000000007"));
        assertEquals("{}\n", FlatJson.write(Map.of()));
        assertEquals(Map.of(), FlatJson.parse(" { } ", SRC));
    }

    @Test
    void escapingIsExact() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("q\"b\\", "a\"b\\c/d\n\r\t\b\f\u0000\u001f\u007f\u00e9\u20ac\ud83d\ude00");
        assertEquals("{\n  \"q\\\"b\\\\\": \"a\\\"b\\\\c/d\\n\\r\\t\\b\\f\\u0000\\u001f\\u007f\\u00e9\\u20ac\\ud83d\\ude00\"\n}\n",
                FlatJson.write(m));
    }

    @Test
    void randomDocumentsRoundTrip() throws CorruptFormatException {
        SplittableRandom r = Seeds.random("FlatJson.randomDocumentsRoundTrip");
        for (int round = 0; round < 500; round++) {
            Map<String, Object> m = new LinkedHashMap<>();
            int n = r.nextInt(12);
            for (int i = 0; i < n; i++) {
                Object v = switch (r.nextInt(6)) {
                    case 0 -> null;
                    case 1 -> r.nextBoolean();
                    case 2 -> r.nextLong();
                    case 3 -> (long) r.nextInt(-5, 5);
                    case 4 -> r.nextBoolean() ? Long.MIN_VALUE : Long.MAX_VALUE;
                    default -> randomString(r);
                };
                m.put(randomString(r), v);
            }
            String json = FlatJson.write(m);
            for (int i = 0; i < json.length(); i++) {
                assertTrue(json.charAt(i) < 0x7f, "output is ASCII");
            }
            Map<String, Object> back = FlatJson.parse(json, SRC);
            assertEquals(m, back);
            assertEquals(new ArrayList<>(m.keySet()), new ArrayList<>(back.keySet()));
        }
    }

    private static String randomString(SplittableRandom r) {
        StringBuilder b = new StringBuilder();
        int n = r.nextInt(20);
        for (int i = 0; i < n; i++) {
            switch (r.nextInt(6)) {
                case 0 -> b.append("\"\\/".charAt(r.nextInt(3)));
                case 1 -> b.append((char) r.nextInt(0x20)); // control characters
                case 2 -> b.append((char) r.nextInt(0x10000)); // anything, lone surrogates included
                case 3 -> b.appendCodePoint(0x10000 + r.nextInt(0x100000));
                default -> b.append((char) (0x20 + r.nextInt(0x5f)));
            }
        }
        return b.toString();
    }

    @Test
    void parsesJsonFromOtherWriters() throws CorruptFormatException {
        Map<String, Object> m = FlatJson.parse(
                "\r\n\t{\"a\":1,\"b\":\"x\\/y\\u00E9\\uD83D\\uDE00\",\"c\":true,\"d\":null,\"e\":-0,\"f\":false}\n", SRC);
        assertEquals(1L, m.get("a"));
        assertEquals("x/y\u00e9\ud83d\ude00", m.get("b"));
        assertEquals(Boolean.TRUE, m.get("c"));
        assertEquals(null, m.get("d"));
        assertEquals(0L, m.get("e"));
        assertEquals(Boolean.FALSE, m.get("f"));
        assertEquals(List.of("a", "b", "c", "d", "e", "f"), new ArrayList<>(m.keySet()));
        assertThrows(UnsupportedOperationException.class, () -> m.put("g", 1L));
        assertEquals(Map.of("k", "\u00e9"), FlatJson.parse("{\"k\":\"\u00e9\"}", SRC)); // raw non-ASCII is fine
    }

    @Test
    void malformedDocumentsAreRefusedNamingTheOffset() {
        Object[][] cases = {
            {"", 0, "unexpected end of input"},
            {"   ", 3, "unexpected end of input"},
            {"[1]", 0, "expected '{'"},
            {"{", 1, "expected a string key"},
            {"{\"a\"}", 4, "expected ':'"},
            {"{\"a\":}", 5, "expected a value"},
            {"{\"a\":1,}", 7, "expected a string key"},
            {"{\"a\":1 \"b\":2}", 7, "expected ',' or '}'"},
            {"{a:1}", 1, "expected a string key"},
            {"{\"a\":01}", 5, "leading zeros"}, {"{\"a\":-01}", 6, "leading zeros"},
            {"{\"a\":-}", 6, "expected a digit"},
            {"{\"a\":1.5}", 5, "only integers"},
            {"{\"a\":1e3}", 5, "only integers"},
            {"{\"a\":9223372036854775808}", 5, "integer out of the 64-bit range"},
            {"{\"a\":-9223372036854775809}", 5, "integer out of the 64-bit range"},
            {"{\"a\":[1]}", 5, "nested arrays"},
            {"{\"a\":{}}", 5, "nested objects"},
            {"{\"a\":tru}", 5, "expected a value"},
            {"{\"a\":truex}", 5, "expected a value"},
            {"{\"a\":nul}", 5, "expected a value"},
            {"{\"a\":\"x\ny\"}", 7, "unescaped control character U+000A"},
            {"{\"a\":\"\\x\"}", 6, "bad escape \\x"},
            {"{\"a\":\"\\u12g4\"}", 6, "bad \\u escape"},
            {"{\"a\":\"\\u12\"}", 6, "bad \\u escape"},
            {"{\"a\":\"\\u\uff10\uff10\uff10\uff10\"}", 6, "bad \\u escape"},
            {"{\"a\":\"abc", 9, "unterminated string"},
            {"{\"a\":\"abc\\", 10, "unterminated string"},
            {"{\"a\":1,\"a\":2}", 7, "duplicate key \"a\""},
            {"{} x", 3, "unexpected text after the object"},
            {"{}{}", 2, "unexpected text after the object"},
            {"\ufeff{}", 0, "expected '{'"},
            {"{\"a\":1", 6, "expected ',' or '}'"},
            {"{\"a\"\u00a0:1}", 4, "expected ':'"},
        };
        for (Object[] c : cases) {
            String json = (String) c[0];
            int offset = (Integer) c[1];
            String problem = (String) c[2];
            CorruptFormatException e = assertThrows(CorruptFormatException.class, () -> FlatJson.parse(json, SRC), json);
            assertTrue(e.getMessage().startsWith("JSON " + SRC + ": " + problem), json + " -> " + e.getMessage());
            assertTrue(e.getMessage().endsWith(" at character offset " + offset), json + " -> " + e.getMessage());
            assertEquals(offset, e.offset(), json);
            assertEquals(SRC, e.source());
        }
    }

    @Test
    void writeRefusesUnsupportedValues() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("a", 1.5);
        assertThrows(IllegalArgumentException.class, () -> FlatJson.write(m));
        m.put("a", Map.of());
        assertThrows(IllegalArgumentException.class, () -> FlatJson.write(m));
        m.put("a", List.of());
        assertThrows(IllegalArgumentException.class, () -> FlatJson.write(m));
        Map<String, Object> ints = new LinkedHashMap<>();
        ints.put("i", 5);
        assertEquals("{\n  \"i\": 5\n}\n", FlatJson.write(ints));
        Map<String, Object> nullKey = new java.util.HashMap<>();
        nullKey.put(null, 1L);
        assertThrows(IllegalArgumentException.class, () -> FlatJson.write(nullKey));
    }
}
