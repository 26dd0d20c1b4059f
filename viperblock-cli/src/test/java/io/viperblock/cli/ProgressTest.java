package io.viperblock.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The progress bar: drawn on a terminal, silent elsewhere. */
class ProgressTest {
    @Test
    void onATerminalItDrawsPercentThroughputAndEtaThenClearsTheLine() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Progress p = new Progress("import disk.img", new PrintStream(bytes, true, StandardCharsets.UTF_8), true);
        p.start(100L << 20);
        p.advance(25L << 20);
        String bar = bytes.toString(StandardCharsets.UTF_8);
        assertTrue(bar.startsWith("\rimport disk.img [#######"), bar);
        assertTrue(bar.contains(" 25% 25.0 MiB/100.0 MiB ") && bar.contains(" MB/s ETA "), bar);
        p.advance(75L << 20); // within 200 ms of the last redraw: not drawn again
        p.finish();
        assertTrue(bytes.toString(StandardCharsets.UTF_8).endsWith("\r\033[K"), "the bar is cleared for the summary line");
        assertEquals(100L << 20, p.done());
    }

    @Test
    void offATerminalItPrintsNothing() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Progress p = new Progress("export vol1", new PrintStream(bytes, true, StandardCharsets.UTF_8), false);
        p.start(1 << 20);
        p.advance(1 << 20);
        p.finish();
        assertEquals("", bytes.toString(StandardCharsets.UTF_8));
    }
}
