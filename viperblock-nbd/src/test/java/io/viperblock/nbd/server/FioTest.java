package io.viperblock.nbd.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * fio's nbd engine: random 4 KiB writes 32 deep with CRC32C verification, then a separate
 * verify-only pass after a server restart. fio writes a line on stdout, so the report goes to a
 * file as JSON.
 */
class FioTest {
    private static final long SIZE = 64L << 20;
    private static final Duration T = Duration.ofSeconds(120);

    @RegisterExtension
    final NbdFixture nbd = NbdFixture.fileStore().volume("fio", SIZE);

    /** Runs fio; returns the exit status and the one job of its JSON report. */
    private record Run(Tools.Result result, JsonNode job) {}

    private Run fio(String name, String... extra) throws Exception {
        Path report = nbd.dir().resolve(name + ".json");
        List<String> args = new ArrayList<>(List.of("--name=" + name, "--ioengine=nbd", "--uri=" + nbd.uri("fio"),
                "--rw=randwrite", "--bs=4k", "--iodepth=32", "--size=64m", "--verify=crc32c", "--randseed=12345",
                "--output-format=json", "--output=" + report));
        args.addAll(List.of(extra));
        Tools.Result r = Tools.cmd("fio", args.toArray(String[]::new)).dir(nbd.dir()).timeout(T).run();
        JsonNode j = Files.exists(report) ? Tools.json(Files.readString(report)) : null;
        return new Run(r, j == null ? null : j.get("jobs").get(0));
    }

    @Test
    void randomWritesVerifyInlineAndAfterRestart() throws Exception {
        Run w = fio("write", "--do_verify=1");
        w.result().ok();
        assertEquals(0, w.job().get("error").asInt(), "fio error in " + w.job());
        assertEquals(SIZE, w.job().get("write").get("io_bytes").asLong(), "bytes written");
        assertEquals(SIZE, w.job().get("read").get("io_bytes").asLong(), "bytes read back to verify");
        long joined = nbd.server().stats().joinedWrites();
        assertTrue(joined > 0, "fio's queue of 4 KiB writes was served one write at a time (" + joined + " joined)");

        nbd.restart();
        Run v = fio("verify", "--verify_only");
        v.result().ok();
        assertEquals(0, v.job().get("error").asInt(), "fio error in " + v.job());
        assertEquals(SIZE, v.job().get("read").get("io_bytes").asLong(), "bytes verified");

        // prove the verify pass can fail: change one block behind fio's back
        nbd.volume("fio").write(5L << 20, new byte[4096], false);
        Run bad = fio("verify-bad", "--verify_only");
        bad.result().failed();
        assertNotEquals(0, bad.job().get("error").asInt(), "fio must report the damaged block");
        assertTrue(bad.result().out().contains("verify") || bad.result().err().contains("verify")
                || Files.readString(nbd.dir().resolve("verify-bad.json")).contains("verify"), bad.result().describe(""));
    }
}
