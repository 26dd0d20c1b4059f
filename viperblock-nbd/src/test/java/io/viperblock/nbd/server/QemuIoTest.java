package io.viperblock.nbd.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code qemu-io} (QEMU's NBD client) writing and reading patterns: aligned and unaligned writes,
 * discard, write-zeroes with and without unmap, flush. A {@code read -P} with the wrong pattern
 * makes qemu-io exit 1, so every read is an assertion; the volume is also compared byte for byte
 * with a model of the same operations.
 */
class QemuIoTest {
    private static final int SIZE = 16 << 20;
    private static final Duration T = Duration.ofSeconds(60);

    @RegisterExtension
    final NbdFixture nbd = NbdFixture.fileStore().volume("q", SIZE);

    private final byte[] model = new byte[SIZE];
    private final List<String> commands = new ArrayList<>();

    private void write(int pattern, int off, int len) {
        commands.add("write -P 0x" + Integer.toHexString(pattern) + " " + off + " " + len);
        Arrays.fill(model, off, off + len, (byte) pattern);
    }

    private void zero(String how, int off, int len) {
        commands.add(how + " " + off + " " + len);
        Arrays.fill(model, off, off + len, (byte) 0);
    }

    /** Reads [off, off+len) back with the pattern the model holds there (which must be uniform). */
    private void read(int off, int len) {
        byte b = model[off];
        for (int i = off; i < off + len; i++) {
            if (model[i] != b) {
                throw new IllegalArgumentException("model range " + off + "+" + len + " is not one pattern");
            }
        }
        commands.add("read -P 0x" + Integer.toHexString(b & 0xff) + " " + off + " " + len);
    }

    private Tools.Result qemuIo(List<String> cmds) throws Exception {
        List<String> args = new ArrayList<>(List.of("-f", "raw", nbd.uri("q")));
        for (String c : cmds) {
            args.add("-c");
            args.add(c);
        }
        Tools.Result r = Tools.cmd("qemu-io", args.toArray(String[]::new)).timeout(T).run();
        assertFalse(r.out().contains("Pattern verification failed") && r.exit() == 0, "a mismatch must fail the run");
        return r;
    }

    @Test
    void patternsAlignedUnalignedDiscardZeroFlush() throws Exception {
        write(0xab, 0, 64 << 10);
        write(0xcd, 1000, 5000); // unaligned at both ends, inside one 64 KiB run
        read(0, 1000);
        read(1000, 5000);
        read(6000, (64 << 10) - 6000);
        write(0x5e, 12345, 1); // one byte
        read(12344, 1);
        read(12345, 1);
        read(12346, 1);
        zero("discard", 16 << 10, 8 << 10); // whole blocks
        read(16 << 10, 8 << 10);
        read(24 << 10, 40 << 10);
        zero("discard", 40000, 1000); // inside one block: zeroed exactly here
        read(39000, 1000);
        read(40000, 1000);
        read(41000, 1000);
        write(0x11, (1 << 20) - 3, (1 << 20) + 7); // crosses many blocks, odd ends
        zero("write -z", 1 << 20, 1 << 20); // NO_HOLE: zeros written
        read((1 << 20) - 3, 3);
        read(1 << 20, 1 << 20);
        read(2 << 20, 4);
        write(0x77, 3 << 20, 256 << 10);
        zero("write -z -u", (3 << 20) + 4096 + 17, 64 << 10); // may unmap: holes inside, zeroed ends
        read(3 << 20, 4096 + 17);
        read((3 << 20) + 4096 + 17, 64 << 10);
        read((3 << 20) + 4096 + 17 + (64 << 10), 1000);
        write(0x42, 8 << 20, 4 << 20); // one large request
        read(8 << 20, 4 << 20);
        write(0x99, SIZE - 5, 5); // the last bytes of the export
        read(SIZE - 5, 5);
        commands.add("flush");
        qemuIo(commands).ok();

        // a new connection (a new qemu-io) reads the final state: one read per run of one byte value
        List<String> again = new ArrayList<>();
        for (int i = 0; i < SIZE; ) {
            int j = i;
            while (j < SIZE && model[j] == model[i]) {
                j++;
            }
            again.add("read -P 0x" + Integer.toHexString(model[i] & 0xff) + " " + i + " " + (j - i));
            i = j;
        }
        qemuIo(again).ok();
        assertArrayEquals(model, nbd.volume("q").read(0, SIZE), "volume contents against the model");
    }

    @Test
    void wrongPatternFailsTheRun() throws Exception {
        Tools.Result r = qemuIo(List.of("write -P 0xab 0 8k", "read -P 0xab 0 8k", "read -P 0xac 4k 4k")).failed();
        assertTrue(r.out().contains("Pattern verification failed") || r.err().contains("Pattern verification failed"), r.describe(""));
        // and the right pattern passes on the same data
        qemuIo(List.of("read -P 0xab 0 8k", "read -P 0 8k 8k")).ok();
    }
}
