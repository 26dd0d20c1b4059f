package io.viperblock.cli;

import io.viperblock.core.volume.VolumeCheck;
import java.io.PrintStream;

/**
 * A progress bar on stderr for long work (import, export, check): percentage, bytes, throughput
 * and an estimate of the time left, redrawn at most five times a second, and only when stderr is
 * a terminal ({@code System.console() != null}); elsewhere it stays quiet. Also keeps the totals
 * for the summary line. Not thread-safe: one worker reports.
 */
final class Progress implements VolumeCheck.Progress {
    private static final long REDRAW_NANOS = 200_000_000L;

    private final String label;
    private final PrintStream err;
    private final boolean draw;
    private final long started = System.nanoTime();
    private long total;
    private long done;
    private long lastDraw;
    private boolean drawn;

    Progress(String label) {
        this(label, System.err, System.console() != null);
    }

    Progress(String label, PrintStream err, boolean draw) {
        this.label = label;
        this.err = err;
        this.draw = draw;
    }

    @Override
    public void start(long totalBytes) {
        total = totalBytes;
    }

    @Override
    public void advance(long bytes) {
        done += bytes;
        long now = System.nanoTime();
        if (draw && now - lastDraw >= REDRAW_NANOS) {
            lastDraw = now;
            drawn = true;
            err.print("\r" + line(now) + "\033[K");
            err.flush();
        }
    }

    /** Clears the bar (if one was drawn); the caller prints its summary next. */
    void finish() {
        if (drawn) {
            err.print("\r\033[K");
            err.flush();
        }
    }

    long done() { return done; }

    double seconds() {
        return (System.nanoTime() - started) / 1e9;
    }

    /** Decimal megabytes per second over the whole run. */
    double mbPerSecond() {
        double s = seconds();
        return s <= 0 ? 0 : done / 1e6 / s;
    }

    private String line(long now) {
        double s = (now - started) / 1e9;
        double rate = s <= 0 ? 0 : done / s;
        int pct = total <= 0 ? 100 : (int) Math.min(100, done * 100 / total);
        int width = 30;
        int filled = pct * width / 100;
        String eta = rate <= 0 || total <= done ? "--:--" : clock((long) ((total - done) / rate));
        return String.format("%s [%s%s] %3d%% %s/%s %.1f MB/s ETA %s", label, "#".repeat(filled), " ".repeat(width - filled), pct,
                Sizes.human(done), Sizes.human(total), rate / 1e6, eta);
    }

    private static String clock(long seconds) {
        return seconds >= 3600 ? String.format("%d:%02d:%02d", seconds / 3600, seconds / 60 % 60, seconds % 60)
                : String.format("%d:%02d", seconds / 60, seconds % 60);
    }
}
