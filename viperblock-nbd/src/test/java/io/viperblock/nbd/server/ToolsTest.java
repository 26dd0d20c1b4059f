package io.viperblock.nbd.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

/** The test helpers' own rules: a missing tool skips (fails under CI=true); a command that overruns is killed. */
class ToolsTest {
    @Test
    void missingToolSkipsOrFailsUnderCi() {
        Throwable t = assertThrows(Throwable.class, () -> Tools.require("viperblock-no-such-tool"));
        boolean ci = "true".equalsIgnoreCase(System.getenv("CI"));
        Class<?> expected = ci ? AssertionFailedError.class : TestAbortedException.class;
        assertTrue(expected.isInstance(t), "expected " + expected.getSimpleName() + ", got " + t);
        assertTrue(t.getMessage().contains("viperblock-no-such-tool"), t.getMessage());
    }

    @Test
    void commandOverrunningItsTimeoutIsKilledAndFails() throws Exception {
        long started = System.nanoTime();
        AssertionFailedError e = assertThrows(AssertionFailedError.class,
                () -> Tools.cmd("sleep", "30").timeout(Duration.ofMillis(300)).run());
        assertTrue(e.getMessage().contains("ran over its timeout"), e.getMessage());
        assertTrue(System.nanoTime() - started < Duration.ofSeconds(10).toNanos(), "killed promptly");
    }

    @Test
    void exitStatusAndOutputAreKept() throws Exception {
        Tools.Result r = Tools.cmd("sh", "-c", "echo out; echo err >&2; exit 3").run();
        assertEquals(3, r.exit());
        assertEquals("out\n", r.out());
        assertEquals("err\n", r.err());
        r.failed();
    }
}
