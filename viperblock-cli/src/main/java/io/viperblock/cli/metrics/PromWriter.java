package io.viperblock.cli.metrics;

import java.math.BigDecimal;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Writes the Prometheus text exposition format, version 0.0.4: each family is a {@code # HELP}
 * and a {@code # TYPE} line followed by its samples, {@code name{label="value",...} value}.
 * Counters end in {@code _total}; a histogram is its cumulative {@code _bucket{le="..."}} lines
 * ending in {@code le="+Inf"}, then {@code _sum} and {@code _count}.
 *
 * <pre>
 * # HELP viperblock_volume_writes_total Writes acknowledged.
 * # TYPE viperblock_volume_writes_total counter
 * viperblock_volume_writes_total{volume="vol1"} 1234
 * </pre>
 *
 * <p>Names, label names, and the order of the calls are checked: a misuse is a bug here, so it
 * throws IllegalArgumentException or IllegalStateException. Not thread-safe: one per scrape.
 */
public final class PromWriter {
    /** The kinds of family this writer emits. */
    public enum Type { COUNTER, GAUGE, HISTOGRAM }

    private static final Pattern NAME = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");
    private static final Pattern LABEL = Pattern.compile("[a-zA-Z_][a-zA-Z0-9_]*");

    private final StringBuilder out = new StringBuilder(16 << 10);
    private final Set<String> seen = new HashSet<>();
    private String name;
    private Type type;

    /** Starts a family; its samples follow. A name may be used once per scrape. */
    public PromWriter family(String familyName, Type familyType, String help) {
        if (!NAME.matcher(familyName).matches()) {
            throw new IllegalArgumentException("not a metric name: \"" + familyName + "\"");
        }
        if ((familyType == Type.COUNTER) != familyName.endsWith("_total")) {
            throw new IllegalArgumentException("a counter's name, and only a counter's, ends in _total: " + familyName);
        }
        if (!seen.add(familyName)) {
            throw new IllegalStateException("family " + familyName + " written twice");
        }
        name = familyName;
        type = familyType;
        out.append("# HELP ").append(familyName).append(' ').append(escape(help, false)).append('\n');
        out.append("# TYPE ").append(familyName).append(' ').append(familyType.name().toLowerCase(Locale.ROOT)).append('\n');
        return this;
    }

    /** A sample of the current counter or gauge; {@code labels} are name, value pairs. */
    public PromWriter sample(double value, String... labels) {
        if (type == null || type == Type.HISTOGRAM) {
            throw new IllegalStateException("a plain sample needs a counter or gauge family first (now: " + name + ")");
        }
        line(name, labels, null, format(value));
        return this;
    }

    /**
     * A histogram of the current histogram family.
     *
     * @param upperBounds the finite bucket bounds, ascending
     * @param counts      observations per bucket, not cumulative: one per bound and a last for the rest
     * @param sum         the sum of the observations
     */
    public PromWriter histogram(double[] upperBounds, long[] counts, double sum, String... labels) {
        if (type != Type.HISTOGRAM) {
            throw new IllegalStateException("histogram samples need a histogram family first (now: " + name + ")");
        }
        if (counts.length != upperBounds.length + 1) {
            throw new IllegalArgumentException(counts.length + " bucket counts for " + upperBounds.length + " bounds; want one more");
        }
        long cumulative = 0;
        for (int i = 0; i <= upperBounds.length; i++) {
            cumulative += counts[i];
            line(name + "_bucket", labels, i < upperBounds.length ? format(upperBounds[i]) : "+Inf", Long.toString(cumulative));
        }
        line(name + "_sum", labels, null, format(sum));
        line(name + "_count", labels, null, Long.toString(cumulative));
        return this;
    }

    /** Everything written so far. */
    public String text() {
        return out.toString();
    }

    private void line(String sampleName, String[] labels, String le, String value) {
        if (labels.length % 2 != 0) {
            throw new IllegalArgumentException("labels come in name, value pairs: " + String.join(",", labels));
        }
        out.append(sampleName);
        if (labels.length > 0 || le != null) {
            out.append('{');
            for (int i = 0; i < labels.length; i += 2) {
                if (!LABEL.matcher(labels[i]).matches() || labels[i].startsWith("__") || labels[i].equals("le")) {
                    throw new IllegalArgumentException("not a label name here: \"" + labels[i] + "\"");
                }
                out.append(i == 0 ? "" : ",").append(labels[i]).append("=\"").append(escape(labels[i + 1], true)).append('"');
            }
            if (le != null) {
                out.append(labels.length > 0 ? "," : "").append("le=\"").append(le).append('"');
            }
            out.append('}');
        }
        out.append(' ').append(value).append('\n');
    }

    /** A number as Prometheus reads it: integers without a fraction, no exponent for bucket bounds. */
    static String format(double v) {
        if (Double.isNaN(v)) {
            return "NaN";
        }
        if (Double.isInfinite(v)) {
            return v > 0 ? "+Inf" : "-Inf";
        }
        if (v == Math.rint(v) && Math.abs(v) < 1e15) {
            return Long.toString((long) v);
        }
        return BigDecimal.valueOf(v).stripTrailingZeros().toPlainString();
    }

    /** HELP text escapes backslash and newline; label values also the double quote. */
    private static String escape(String s, boolean quote) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '"' -> b.append(quote ? "\\\"" : "\"");
                default -> b.append(c);
            }
        }
        return b.toString();
    }
}
