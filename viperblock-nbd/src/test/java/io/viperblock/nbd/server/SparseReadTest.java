package io.viperblock.nbd.server;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Sparse reads through libnbd ({@code nbdsh}): with structured replies and without DF, a read
 * answers the blocks the volume holds no data for with OFFSET_HOLE chunks instead of zeros.
 * {@code pread_structured} hands every chunk to a callback, so the tests see what went over the
 * wire: each chunk's offset, length and kind (data 1, hole 2).
 */
class SparseReadTest {
    private static final long SIZE = 16L << 20;
    private static final Duration T = Duration.ofSeconds(60);

    @RegisterExtension
    final NbdFixture nbd = NbdFixture.fileStore().volume("v", SIZE);

    /** Python for nbdsh: {@code chunks(length, offset, flags)} reads and returns [[offset, length, kind], ...]. */
    private static final String CHUNKS = """
            import json
            def chunks(length, offset, flags=0):
                got = []
                def cb(sub, off, status, err):
                    got.append([off, len(sub), status])
                    if status == nbd.READ_HOLE:
                        assert sub == bytearray(len(sub)), "a hole chunk that is not zeros"
                    return 0
                h.pread_structured(length, offset, cb, flags)
                return got
            """;

    private String nbdsh(String script) throws Exception {
        return Tools.cmd("nbdsh", "-u", nbd.uri("v"), "-c", CHUNKS + script)
                .env("PATH", "/usr/bin:/bin").timeout(T).run().ok().out().strip();
    }

    @Test
    void holesAreSentAsHoleChunks() throws Exception {
        nbdsh("""
                h.pwrite(b"\\1" * 8192, 65536)
                h.pwrite(b"\\2" * 4096, 131072)
                h.pwrite(b"\\3" * 4096, 135168)
                h.trim(4096, 135168)
                """);
        String script = """
                print(json.dumps([chunks(262144, 0), chunks(16384, 65536), chunks(8192, 65536),
                                  chunks(262144, 0, nbd.CMD_FLAG_DF), chunks(10000, 60000), chunks(4096, 1 << 20)]))
                """;
        String expected = "[[[0, 65536, 2], [65536, 8192, 1], [73728, 57344, 2], [131072, 4096, 1], [135168, 126976, 2]], "
                + "[[65536, 8192, 1], [73728, 8192, 2]], "
                + "[[65536, 8192, 1]], "
                + "[[0, 262144, 1]], "
                + "[[60000, 10000, 1]], "
                + "[[1048576, 4096, 2]]]";
        assertEquals(expected, nbdsh(script), "with the data in the WAL");
        nbd.volume("v").drain();
        assertEquals(expected, nbdsh(script), "with the data in chunks");
    }

    /** A read with more holes than a reply carries as chunks goes as one data chunk, zeros included. */
    @Test
    void aReadWithManyHolesIsOneDataChunk() throws Exception {
        int holes = NbdConnection.MAX_HOLES + 1;
        String out = nbdsh("""
                for i in range(%d):
                    h.pwrite(b"\\7" * 4096, (2 * i + 1) * 4096)
                # a read of data first, so the server's pooled reply buffer of this size holds no zeros
                h.pwrite(b"\\7" * (1 << 20), 8 << 20)
                h.pread(1 << 20, 8 << 20)
                c = chunks(%d * 8192, 0)
                buf = h.pread(%d * 8192, 0)
                ok = all(buf[b * 4096:(b + 1) * 4096] == (b"\\7" if b %% 2 else b"\\0") * 4096 for b in range(2 * %d))
                print(json.dumps([c, ok]))
                """.formatted(holes, holes, holes, holes));
        assertEquals("[[[0, " + holes * 8192 + ", 1]], true]", out);
        String fewer = nbdsh("print(json.dumps(len(chunks(%d * 8192, 0))))".formatted(holes - 1));
        assertEquals(String.valueOf(2 * (holes - 1)), fewer, "one hole fewer: a chunk for each run");
    }

    /**
     * Random writes, trims and zeroes (aligned and not) against a bytearray, then random reads with
     * and without DF: the chunks of every reply must tile the request exactly, in any order, and
     * together hold the model's bytes; checked in the WAL and again after the data moved to chunks.
     */
    @Test
    void randomReadsMatchTheModelAndTileTheRequest() throws Exception {
        long seed = Tools.random("randomReadsMatchTheModelAndTileTheRequest").nextLong();
        String script = """
                import random
                rnd = random.Random(%d)
                SIZE = %d
                model = bytearray(SIZE)
                def span(limit):
                    off = rnd.randrange(SIZE - 1)
                    if rnd.random() < 0.6:
                        off -= off %% 4096
                    n = min(SIZE - off, 1 + rnd.randrange(limit))
                    if rnd.random() < 0.6 and off %% 4096 == 0:
                        n = max(4096, n - n %% 4096)
                    return off, n
                def check(rounds):
                    for _ in range(rounds):
                        off, n = span(1 << 20)
                        flags = nbd.CMD_FLAG_DF if rnd.random() < 0.2 else 0
                        got = bytearray(n)
                        seen = []
                        def cb(sub, o, status, err):
                            seen.append((o, len(sub)))
                            got[o - off:o - off + len(sub)] = sub
                            return 0
                        h.pread_structured(n, off, cb, flags)
                        seen.sort()
                        at = off
                        for o, l in seen:
                            assert o == at and l > 0, "chunks do not tile %%d+%%d: %%s" %% (off, n, seen)
                            at = o + l
                        assert at == off + n, "chunks do not cover %%d+%%d: %%s" %% (off, n, seen)
                        if flags:
                            assert len(seen) == 1, "DF read in %%d chunks" %% len(seen)
                        assert got == model[off:off + n], "bytes differ at %%d+%%d" %% (off, n)
                for _ in range(80):
                    off, n = span(256 << 10)
                    k = rnd.randrange(5)
                    if k < 3:
                        data = rnd.randbytes(n)
                        h.pwrite(data, off)
                        model[off:off + n] = data
                    elif k == 3:
                        h.trim(n, off)
                        model[off:off + n] = bytes(n)
                    else:
                        h.zero(n, off)
                        model[off:off + n] = bytes(n)
                check(150)
                h.flush()
                with open(%s, "wb") as f:
                    f.write(model)
                print("ok")
                """;
        Path model = Files.createTempFile("sparse-model", ".bin");
        try {
            String q = "'" + model + "'";
            assertEquals("ok", nbdsh(script.formatted(seed, SIZE, q)), "seed " + seed);
            nbd.volume("v").drain();
            String again = """
                    import random
                    rnd = random.Random(%d)
                    with open(%s, "rb") as f:
                        model = bytearray(f.read())
                    bad = []
                    for _ in range(150):
                        off = rnd.randrange(len(model) - 1)
                        off -= off %% 4096
                        n = min(len(model) - off, 4096 * (1 + rnd.randrange(256)))
                        got = bytearray(n)
                        seen = []
                        def cb(sub, o, status, err):
                            seen.append((o, len(sub), status))
                            got[o - off:o - off + len(sub)] = sub
                            return 0
                        h.pread_structured(n, off, cb)
                        if sum(l for _, l, _ in seen) != n or got != model[off:off + n]:
                            bad.append([off, n])
                    print(json.dumps(bad))
                    """;
            assertEquals("[]", nbdsh(again.formatted(seed + 1, q)), "seed " + seed + ", after drain");
        } finally {
            Files.deleteIfExists(model);
        }
    }
}
