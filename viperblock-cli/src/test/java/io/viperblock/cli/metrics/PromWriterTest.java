package io.viperblock.cli.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.viperblock.cli.metrics.PromWriter.Type;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The text renderer, and the strict parser the other metrics tests read its output with. */
class PromWriterTest {
    private static final String ALPHABET = "abcXYZ019 _-.,={}\"\\\n\tü€";

    @Test
    void smallExpositionIsExactlyTheFormat() {
        String text = new PromWriter()
                .family("x_requests_total", Type.COUNTER, "Requests, by op.\nSecond line \\ with a backslash.")
                .sample(3, "op", "get")
                .sample(12345678901L, "op", "p\"u\\t\n")
                .family("x_pending_bytes", Type.GAUGE, "Pending.")
                .sample(0.25)
                .family("x_latency_seconds", Type.HISTOGRAM, "Latency.")
                .histogram(new double[] {0.00005, 0.5, 10}, new long[] {1, 0, 2, 4}, 41.5, "volume", "v")
                .text();
        assertEquals("""
                # HELP x_requests_total Requests, by op.\\nSecond line \\\\ with a backslash.
                # TYPE x_requests_total counter
                x_requests_total{op="get"} 3
                x_requests_total{op="p\\"u\\\\t\\n"} 12345678901
                # HELP x_pending_bytes Pending.
                # TYPE x_pending_bytes gauge
                x_pending_bytes 0.25
                # HELP x_latency_seconds Latency.
                # TYPE x_latency_seconds histogram
                x_latency_seconds_bucket{volume="v",le="0.00005"} 1
                x_latency_seconds_bucket{volume="v",le="0.5"} 1
                x_latency_seconds_bucket{volume="v",le="10"} 3
                x_latency_seconds_bucket{volume="v",le="+Inf"} 7
                x_latency_seconds_sum{volume="v"} 41.5
                x_latency_seconds_count{volume="v"} 7
                """, text);
        Map<String, PromParser.Family> parsed = PromParser.parse(text);
        assertEquals("Requests, by op.\nSecond line \\ with a backslash.", parsed.get("x_requests_total").help());
        assertEquals(12345678901d, PromParser.value(parsed, "x_requests_total", "op", "p\"u\\t\n"));
    }

    @Test
    void randomFamiliesRoundTripThroughTheStrictParser() {
        SplittableRandom r = random("randomFamiliesRoundTripThroughTheStrictParser");
        for (int round = 0; round < 200; round++) {
            PromWriter w = new PromWriter();
            List<String> values = new ArrayList<>();
            List<long[]> histograms = new ArrayList<>();
            double[] bounds = {0.001, 0.01, 0.1, 1};
            int series = 1 + r.nextInt(5);
            w.family("t_ops_total", Type.COUNTER, text(r));
            for (int i = 0; i < series; i++) {
                String v = text(r) + "#" + i; // distinct per series
                values.add(v);
                w.sample(r.nextLong(1L << 50), "volume", v, "op", text(r));
            }
            w.family("t_latency_seconds", Type.HISTOGRAM, text(r));
            for (int i = 0; i < series; i++) {
                long[] counts = new long[bounds.length + 1];
                for (int k = 0; k < counts.length; k++) {
                    counts[k] = r.nextInt(4) == 0 ? 0 : r.nextLong(1L << 40);
                }
                histograms.add(counts);
                w.histogram(bounds, counts, r.nextDouble() * 1e6, "volume", values.get(i));
            }
            Map<String, PromParser.Family> parsed = PromParser.parse(w.text());
            List<PromParser.Sample> ops = parsed.get("t_ops_total").samples();
            assertEquals(series, ops.size());
            for (int i = 0; i < series; i++) {
                assertEquals(values.get(i), ops.get(i).labels().get("volume"), "label value after escaping and parsing");
                long[] counts = histograms.get(i);
                long cumulative = 0;
                for (int k = 0; k < counts.length; k++) {
                    cumulative += counts[k];
                    String le = k < bounds.length ? PromWriter.format(bounds[k]) : "+Inf";
                    assertEquals((double) cumulative,
                            PromParser.value(parsed, "t_latency_seconds_bucket", "volume", values.get(i), "le", le));
                }
                assertEquals((double) cumulative, PromParser.value(parsed, "t_latency_seconds_count", "volume", values.get(i)));
            }
        }
    }

    /** Seeded; {@code -Dviperblock.seed=N} replays a run (the core test-jar's Seeds would bring a second logback-test.xml). */
    private static SplittableRandom random(String test) {
        long seed = Long.getLong("viperblock.seed", System.nanoTime());
        System.out.println(test + ": seed=" + seed + " (rerun with -Dviperblock.seed=" + seed + ")");
        return new SplittableRandom(seed);
    }

    private static String text(SplittableRandom r) {
        StringBuilder b = new StringBuilder();
        int n = r.nextInt(12);
        for (int i = 0; i < n; i++) {
            b.append(ALPHABET.charAt(r.nextInt(ALPHABET.length())));
        }
        return b.toString();
    }

    @Test
    void misuseIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> new PromWriter().family("x_ops", Type.COUNTER, "no _total"));
        assertThrows(IllegalArgumentException.class, () -> new PromWriter().family("x_total", Type.GAUGE, "a gauge named like a counter"));
        assertThrows(IllegalArgumentException.class, () -> new PromWriter().family("9x", Type.GAUGE, "bad name"));
        assertThrows(IllegalStateException.class, () -> new PromWriter().sample(1));
        assertThrows(IllegalStateException.class, () -> new PromWriter().family("x", Type.GAUGE, "h").family("x", Type.GAUGE, "h"));
        assertThrows(IllegalStateException.class, () -> new PromWriter().family("h", Type.HISTOGRAM, "h").sample(1));
        assertThrows(IllegalStateException.class,
                () -> new PromWriter().family("g", Type.GAUGE, "h").histogram(new double[] {1}, new long[] {1, 1}, 1));
        assertThrows(IllegalArgumentException.class,
                () -> new PromWriter().family("h", Type.HISTOGRAM, "h").histogram(new double[] {1}, new long[] {1}, 1));
        assertThrows(IllegalArgumentException.class, () -> new PromWriter().family("g", Type.GAUGE, "h").sample(1, "volume"));
        assertThrows(IllegalArgumentException.class, () -> new PromWriter().family("g", Type.GAUGE, "h").sample(1, "le", "1"));
        assertThrows(IllegalArgumentException.class, () -> new PromWriter().family("g", Type.GAUGE, "h").sample(1, "a-b", "1"));
    }

    /** The parser is only worth its checks if it can fail: each of these breaks one rule. */
    @Test
    void parserRefusesBrokenExpositions() {
        String help = "# HELP h_seconds x\n# TYPE h_seconds histogram\n";
        List<String> broken = List.of(
                "# HELP a_total x\n# TYPE a_total counter\na_total 1", // no final newline
                "a_total 1\n",
                "# TYPE a_total counter\na_total 1\n",
                "# HELP a x\n# TYPE a counter\na 1\n",
                "# HELP a_total x\n# TYPE a_total counter\na_total -1\n",
                "# HELP a_total x\n# TYPE a_total counter\nb_total 1\n",
                "# HELP a_total x\n# TYPE a_total counter\na_total{x=\"1\"} 1\na_total{x=\"1\"} 2\n",
                "# HELP a_total x\n# TYPE a_total counter\na_total{x=1} 1\n",
                "# HELP a_total x\n# TYPE a_total counter\na_total{x=\"1\",} 1\n",
                "# HELP a_total x\n# TYPE a_total counter\na_total{x=\"\\q\"} 1\n",
                "# HELP a_total x\n# TYPE a_total counter\na_total one\n",
                "# HELP a_total x\n# TYPE a_total counter\n\n",
                "# HELP a_total x\n# TYPE a_total counter\n# HELP a_total x\n# TYPE a_total counter\n",
                help + "h_seconds_bucket{le=\"1\"} 2\nh_seconds_bucket{le=\"+Inf\"} 1\nh_seconds_sum 1\nh_seconds_count 1\n",
                help + "h_seconds_bucket{le=\"1\"} 1\nh_seconds_sum 1\nh_seconds_count 1\n",
                help + "h_seconds_bucket{le=\"1\"} 1\nh_seconds_bucket{le=\"+Inf\"} 2\nh_seconds_sum 1\nh_seconds_count 3\n",
                help + "h_seconds_bucket{le=\"1\"} 1\nh_seconds_bucket{le=\"+Inf\"} 2\nh_seconds_count 2\n",
                help + "h_seconds_bucket{le=\"2\"} 1\nh_seconds_bucket{le=\"1\"} 1\nh_seconds_bucket{le=\"+Inf\"} 1\nh_seconds_sum 1\nh_seconds_count 1\n",
                help + "h_seconds 1\n");
        for (String text : broken) {
            assertThrows(AssertionError.class, () -> PromParser.parse(text), () -> "accepted:\n" + text);
        }
        PromParser.parse(help + "h_seconds_bucket{le=\"1\"} 1\nh_seconds_bucket{le=\"+Inf\"} 2\nh_seconds_sum 1\nh_seconds_count 2\n");
    }
}
