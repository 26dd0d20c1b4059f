package io.viperblock.nbd.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** {@code nbdinfo} against the server: what an export offers, the export list, and the allocation map. */
class NbdInfoTest {
    private static final long ALPHA = 64L << 20;
    private static final long BETA = 24L << 20;
    private static final int BLOCK = 4096;
    private static final Duration T = Duration.ofSeconds(30);

    @RegisterExtension
    final NbdFixture nbd = NbdFixture.fileStore().volume("alpha", ALPHA).volume("beta", BETA);

    @Test
    void infoShowsSizeFlagsBlockSizesAndContexts() throws Exception {
        JsonNode j = Tools.json(Tools.cmd("nbdinfo", "--json", nbd.uri("alpha")).timeout(T).run().ok().out());
        assertEquals("newstyle-fixed", j.get("protocol").asText());
        assertTrue(j.get("structured").asBoolean(), "structured replies negotiated");
        assertEquals(1, j.get("exports").size());
        JsonNode e = j.get("exports").get(0);
        assertEquals("alpha", e.get("export-name").asText());
        assertEquals(ALPHA, e.get("export-size").asLong());
        for (String f : List.of("can_flush", "can_fua", "can_trim", "can_zero", "can_fast_zero", "can_cache", "can_multi_conn", "can_df")) {
            assertTrue(e.path(f).asBoolean(false), f + " in " + e);
        }
        assertFalse(e.get("is_read_only").asBoolean(), "is_read_only");
        assertEquals(1, e.get("block_size_minimum").asLong());
        assertEquals(4096, e.get("block_size_preferred").asLong());
        assertEquals(33554432, e.get("block_size_maximum").asLong());
        assertTrue(texts(e.get("contexts")).contains("base:allocation"), "contexts " + e.get("contexts"));
    }

    @Test
    void listShowsEveryExport() throws Exception {
        JsonNode j = Tools.json(Tools.cmd("nbdinfo", "--list", "--json", nbd.uri()).timeout(T).run().ok().out());
        Map<String, Long> seen = new TreeMap<>();
        for (JsonNode e : j.get("exports")) {
            seen.put(e.get("export-name").asText(), e.get("export-size").asLong());
            assertTrue(texts(e.get("contexts")).contains("base:allocation"), "contexts of " + e);
        }
        assertEquals(Map.of("alpha", ALPHA, "beta", BETA), seen);
    }

    @Test
    void unknownExportIsRefused() throws Exception {
        Tools.Result r = Tools.cmd("nbdinfo", "--json", nbd.uri("nosuch")).timeout(T).run().failed();
        assertTrue(r.err().contains("nosuch"), r.err());
        // the server is still fine
        Tools.cmd("nbdinfo", "--size", nbd.uri("beta")).timeout(T).run().ok();
    }

    /**
     * Random writes, trims and zeroes through the raw client, then {@code nbdinfo --map}: the
     * extents must be exactly the 4 KiB blocks that hold data and the rest holes;
     * checked while the data is in the WAL and again after it has moved into chunks.
     */
    @Test
    void mapShowsDataAndHoles() throws Exception {
        SplittableRandom rnd = Tools.random("mapShowsDataAndHoles");
        int blocks = (int) (ALPHA / BLOCK);
        boolean[] data = new boolean[blocks];
        try (TestNbdClient c = nbd.client("alpha")) {
            for (int i = 0; i < 60; i++) {
                long off = rnd.nextLong(ALPHA - 1);
                int len = (int) Math.min(ALPHA - off, 1 + rnd.nextInt(256 << 10));
                switch (rnd.nextInt(5)) {
                    case 0, 1, 2 -> {
                        c.write(off, Tools.bytes(rnd, len)); // every block touched holds data
                        mark(data, off, len, true);
                    }
                    case 3 -> {
                        c.trim(off, len);
                        mark(data, off, len, false);
                    }
                    default -> {
                        c.zero(off, len);
                        mark(data, off, len, false);
                    }
                }
            }
            c.flush();
        }
        assertMap(data, "with the data in the WAL");
        nbd.volume("alpha").drain();
        assertMap(data, "after consolidation into chunks");
    }

    /** BLOCK_STATUS through libnbd, with and without REQ_ONE, at aligned and unaligned offsets. */
    @Test
    void blockStatusThroughLibnbd() throws Exception {
        String script = """
                import json
                h.pwrite(b"\\1" * 8192, 65536)
                out = []
                def status(length, offset, flags):
                    got = []
                    def cb(meta, off, entries, err):
                        got.append([meta, off, list(entries)])
                        return 0
                    h.block_status(length, offset, cb, flags)
                    out.append(got)
                status(1 << 20, 0, nbd.CMD_FLAG_REQ_ONE)
                status(1 << 20, 0, 0)
                status(10000, 65536 + 100, 0)
                status(4096, 65536 + 8192 - 100, nbd.CMD_FLAG_REQ_ONE)
                print(json.dumps(out))
                """;
        JsonNode j = Tools.json(Tools.cmd("nbdsh", "--base-allocation", "-u", nbd.uri("beta"), "-c", script)
                .env("PATH", "/usr/bin:/bin").timeout(T).run().ok().out());
        assertEquals("[[[\"base:allocation\",0,[65536,3]]],"
                + "[[\"base:allocation\",0,[65536,3,8192,0,974848,3]]],"
                + "[[\"base:allocation\",65636,[8092,0,1908,3]]],"
                + "[[\"base:allocation\",73628,[100,0]]]]", j.toString());
    }

    /**
     * Marks the blocks of [off, off+len). A write makes every block it touches data. A trim or zero
     * makes the whole blocks inside holes; a partial block at either end is zeroed by
     * read-modify-write, so it holds data (of zeros) afterwards, as the engine documents.
     */
    private static void mark(boolean[] data, long off, int len, boolean write) {
        long first = off / BLOCK;
        long end = (off + len + BLOCK - 1) / BLOCK;
        for (long b = first; b < end; b++) {
            boolean whole = b * BLOCK >= off && (b + 1) * BLOCK <= off + len;
            data[(int) b] = write || !whole;
        }
    }

    private void assertMap(boolean[] data, String when) throws Exception {
        List<long[]> expected = new ArrayList<>(); // offset, length, type
        for (int b = 0; b < data.length; ) {
            int e = b;
            while (e < data.length && data[e] == data[b]) {
                e++;
            }
            expected.add(new long[] {(long) b * BLOCK, (long) (e - b) * BLOCK, data[b] ? 0 : 3});
            b = e;
        }
        JsonNode map = Tools.json(Tools.cmd("nbdinfo", "--map", "--json", nbd.uri("alpha")).timeout(T).run().ok().out());
        List<long[]> actual = new ArrayList<>();
        for (JsonNode e : map) {
            long type = e.get("type").asLong();
            assertEquals(type == 0 ? "data" : "hole,zero", e.get("description").asText(), "description of " + e);
            long[] x = {e.get("offset").asLong(), e.get("length").asLong(), type};
            // nbdinfo may split one run over several replies: merge neighbours of one type
            if (!actual.isEmpty() && actual.get(actual.size() - 1)[2] == type
                    && actual.get(actual.size() - 1)[0] + actual.get(actual.size() - 1)[1] == x[0]) {
                actual.get(actual.size() - 1)[1] += x[1];
            } else {
                actual.add(x);
            }
        }
        assertEquals(render(expected), render(actual), "allocation map " + when);
    }

    private static String render(List<long[]> extents) {
        StringBuilder sb = new StringBuilder();
        for (long[] e : extents) {
            sb.append(e[0]).append('+').append(e[1]).append(e[2] == 0 ? " data" : " hole,zero").append('\n');
        }
        return sb.toString();
    }

    private static List<String> texts(JsonNode array) {
        List<String> out = new ArrayList<>();
        if (array != null) {
            for (JsonNode n : array) {
                out.add(n.asText());
            }
        }
        return out;
    }
}
