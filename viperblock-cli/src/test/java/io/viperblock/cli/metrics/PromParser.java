package io.viperblock.cli.metrics;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.HashSet;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A strict reader of the Prometheus text format 0.0.4, for tests: every line is a HELP, a TYPE or
 * a sample; each family has one HELP then one TYPE before its samples, and its samples follow
 * without another family between them; counters end in _total and never go below 0; no series
 * appears twice; each histogram has cumulative buckets in ascending order of {@code le} ending
 * in {@code +Inf}, equal to its {@code _count}, and a {@code _sum}. Any violation is an
 * AssertionError naming the line.
 */
public final class PromParser {
    private static final Pattern NAME = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");
    private static final Pattern SAMPLE = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{.*})? (\\S+)");
    private static final Pattern LABEL_NAME = Pattern.compile("[a-zA-Z_][a-zA-Z0-9_]*");
    private static final Set<String> TYPES = Set.of("counter", "gauge", "histogram", "summary", "untyped");

    private PromParser() {}

    public record Sample(String name, Map<String, String> labels, double value) {}

    public record Family(String name, String type, String help, List<Sample> samples) {}

    /** Parses {@code text}, checking every rule; returns the families by name, in order. */
    public static Map<String, Family> parse(String text) {
        if (!text.endsWith("\n")) {
            throw new AssertionError("the exposition does not end with a newline");
        }
        Map<String, Family> families = new LinkedHashMap<>();
        Set<String> series = new HashSet<>();
        String[] lines = text.split("\n", -1);
        Family current = null;
        String pendingHelp = null;
        String pendingName = null;
        for (int i = 0; i < lines.length - 1; i++) {
            String line = lines[i];
            String at = "line " + (i + 1) + " \"" + line + "\": ";
            if (line.startsWith("# HELP ")) {
                String rest = line.substring(7);
                int sp = rest.indexOf(' ');
                pendingName = sp < 0 ? rest : rest.substring(0, sp);
                pendingHelp = sp < 0 ? "" : unescape(rest.substring(sp + 1), false, at);
                check(NAME.matcher(pendingName).matches(), at + "bad metric name");
                check(!families.containsKey(pendingName), at + "family seen before");
                current = null;
            } else if (line.startsWith("# TYPE ")) {
                String[] parts = line.substring(7).split(" ");
                check(parts.length == 2, at + "TYPE wants a name and a type");
                check(parts[0].equals(pendingName), at + "TYPE without its HELP just before");
                check(TYPES.contains(parts[1]), at + "unknown type");
                check(!parts[1].equals("counter") || parts[0].endsWith("_total"), at + "a counter's name must end in _total");
                current = new Family(parts[0], parts[1], pendingHelp, new ArrayList<>());
                families.put(parts[0], current);
                pendingName = null;
            } else {
                check(!line.startsWith("#") && !line.isEmpty(), at + "neither a HELP, a TYPE nor a sample");
                check(current != null, at + "a sample before its family's HELP and TYPE");
                Matcher m = SAMPLE.matcher(line);
                check(m.matches(), at + "not name{labels} value");
                String name = m.group(1);
                Map<String, String> labels = labels(m.group(2), at);
                double value = number(m.group(3), at);
                check(belongs(current, name), at + "sample of another family than " + current.name());
                check(!current.type().equals("counter") || value >= 0, at + "a negative counter");
                check(series.add(name + labels), at + "series seen before");
                current.samples().add(new Sample(name, labels, value));
            }
        }
        check(pendingName == null, "HELP of " + pendingName + " without a TYPE");
        for (Family f : families.values()) {
            if (f.type().equals("histogram")) {
                checkHistogram(f);
            }
        }
        return families;
    }

    private static boolean belongs(Family f, String sampleName) {
        if (f.type().equals("histogram")) {
            return sampleName.equals(f.name() + "_bucket") || sampleName.equals(f.name() + "_sum") || sampleName.equals(f.name() + "_count");
        }
        return sampleName.equals(f.name());
    }

    /** Every series of a histogram (its labels without le): cumulative buckets, +Inf last and equal to _count, a _sum. */
    private static void checkHistogram(Family f) {
        Map<Map<String, String>, List<Sample>> buckets = new LinkedHashMap<>();
        Map<Map<String, String>, Double> counts = new LinkedHashMap<>();
        Set<Map<String, String>> sums = new HashSet<>();
        for (Sample s : f.samples()) {
            Map<String, String> key = new TreeMap<>(s.labels());
            if (s.name().endsWith("_bucket")) {
                check(key.remove("le") != null, f.name() + ": a bucket without le: " + s);
                buckets.computeIfAbsent(key, k -> new ArrayList<>()).add(s);
            } else {
                check(!key.containsKey("le"), f.name() + ": le on " + s);
                if (s.name().endsWith("_count")) {
                    counts.put(key, s.value());
                } else {
                    sums.add(key);
                }
            }
        }
        check(!buckets.isEmpty(), f.name() + ": a histogram without buckets");
        for (var e : buckets.entrySet()) {
            double lastLe = Double.NEGATIVE_INFINITY;
            double lastCount = 0;
            for (Sample b : e.getValue()) {
                double le = number(b.labels().get("le"), f.name() + " " + b + ": ");
                check(le > lastLe, f.name() + ": buckets out of order at " + b);
                check(b.value() >= lastCount, f.name() + ": buckets not cumulative at " + b);
                lastLe = le;
                lastCount = b.value();
            }
            check(lastLe == Double.POSITIVE_INFINITY, f.name() + " " + e.getKey() + ": the last bucket is not le=\"+Inf\"");
            check(counts.containsKey(e.getKey()) && counts.get(e.getKey()) == lastCount,
                    f.name() + " " + e.getKey() + ": _count " + counts.get(e.getKey()) + " is not the +Inf bucket " + lastCount);
            check(sums.contains(e.getKey()), f.name() + " " + e.getKey() + ": no _sum");
        }
        check(counts.size() == buckets.size() && sums.size() == buckets.size(), f.name() + ": _count or _sum without buckets");
    }

    /** {@code {a="x",b="y"}} with escapes, strictly: quoted values, no repeated name, no trailing comma. */
    private static Map<String, String> labels(String block, String at) {
        Map<String, String> out = new TreeMap<>();
        if (block == null) {
            return out;
        }
        String s = block.substring(1, block.length() - 1);
        int i = 0;
        while (i < s.length()) {
            int eq = s.indexOf('=', i);
            check(eq > i, at + "a label without a name");
            String name = s.substring(i, eq);
            check(LABEL_NAME.matcher(name).matches(), at + "bad label name \"" + name + "\"");
            check(eq + 1 < s.length() && s.charAt(eq + 1) == '"', at + "label value not quoted");
            StringBuilder v = new StringBuilder();
            int j = eq + 2;
            while (true) {
                check(j < s.length(), at + "unterminated label value");
                char c = s.charAt(j);
                if (c == '"') {
                    break;
                }
                if (c == '\\') {
                    check(j + 1 < s.length(), at + "a dangling backslash");
                    v.append('\\').append(s.charAt(j + 1));
                    j += 2;
                } else {
                    check(c != '\n', at + "a raw newline in a label value");
                    v.append(c);
                    j++;
                }
            }
            check(out.put(name, unescape(v.toString(), true, at)) == null, at + "label " + name + " twice");
            i = j + 1;
            if (i < s.length()) {
                check(s.charAt(i) == ',' && i + 1 < s.length(), at + "labels must be separated by single commas");
                i++;
            }
        }
        return out;
    }

    private static String unescape(String s, boolean quote, String at) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c != '\\') {
                b.append(c);
                continue;
            }
            check(i + 1 < s.length(), at + "a dangling backslash");
            char n = s.charAt(++i);
            switch (n) {
                case '\\' -> b.append('\\');
                case 'n' -> b.append('\n');
                case '"' -> {
                    check(quote, at + "\\\" in HELP text");
                    b.append('"');
                }
                default -> throw new AssertionError(at + "unknown escape \\" + n);
            }
        }
        return b.toString();
    }

    private static double number(String s, String at) {
        return switch (s) {
            case "+Inf" -> Double.POSITIVE_INFINITY;
            case "-Inf" -> Double.NEGATIVE_INFINITY;
            case "NaN" -> Double.NaN;
            default -> {
                check(s.matches("-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?"), at + "not a number: " + s);
                yield Double.parseDouble(s);
            }
        };
    }

    private static void check(boolean ok, String what) {
        if (!ok) {
            throw new AssertionError(what);
        }
    }

    /** The value of the one sample named {@code name} with exactly {@code labels} (name, value pairs). */
    public static double value(Map<String, Family> families, String name, String... labels) {
        Map<String, String> want = new TreeMap<>();
        for (int i = 0; i < labels.length; i += 2) {
            want.put(labels[i], labels[i + 1]);
        }
        for (Family f : families.values()) {
            for (Sample s : f.samples()) {
                if (s.name().equals(name) && s.labels().equals(want)) {
                    return s.value();
                }
            }
        }
        throw new AssertionError("no sample " + name + want + " in the exposition");
    }
}
