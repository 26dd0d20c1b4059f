package io.viperblock.core.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.core.format.Formats;
import io.viperblock.core.format.WalRecord;
import io.viperblock.core.io.CrashFs;
import io.viperblock.core.io.FsFile;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * A spare file becomes a segment: a power cut at every step of that must leave a WAL that opens
 * and holds every flushed record. The spare here begins with bytes that are no WAL header, as a
 * copied chunk taken back from the store does; a segment name on such a file without the new
 * header durable at its start would make the last segment look damaged, and the volume refuse to
 * open (found by the power-loss campaign, seed 82912109432768).
 */
class WalSpareCrashTest {
    private static final long SEGMENT = 1 << 20;

    @Test
    void aPowerCutAtAnyStepOfTakingASpareLeavesAWalThatOpens() throws IOException {
        SplittableRandom rnd = new SplittableRandom(82912109432768L);
        Path dir = Path.of("/vol/wal");
        UUID id = UUID.randomUUID();
        boolean finished = false;
        for (int cut = 0; !finished; cut++) {
            CrashFs fs = new CrashFs();
            fs.createDirectories(dir);
            byte[] chunk = new byte[(int) SEGMENT];
            rnd.nextBytes(chunk);
            try (FsFile f = fs.createNew(dir.resolve(Formats.seqName(7) + WalWriter.SPARE_SUFFIX))) {
                f.write(new ByteBuffer[] {ByteBuffer.wrap(chunk)}, 0);
                f.force();
            }
            fs.syncDir(dir);

            fs.powerCutAfter(cut);
            try {
                // the first segment takes the spare; one record, flushed
                WalWriter wal = new WalWriter(fs, dir, id, 1, SEGMENT, new AtomicLong(100), List.of());
                wal.append(WalRecord.WRITE, 0, 1, ByteBuffer.allocate(Formats.BLOCK_SIZE));
                wal.sync();
                finished = true;
                wal.abandon();
            } catch (IOException | UncheckedIOException e) {
                // the power went
            }
            fs.crash(CrashFs.Mode.STRICT, rnd);
            fs.powerCutAfter(-1);

            List<Long> seqs = new ArrayList<>();
            String ctx = "power cut after " + cut + " operations" + (finished ? " (none: the flush finished)" : "");
            WalReplay.Result r;
            try {
                r = WalReplay.replay(fs, dir, id, 0, (segment, type, seq, firstBlock, count, payloadOffset) -> seqs.add(seq));
            } catch (IOException e) {
                throw new AssertionError(ctx + ": the WAL does not open: " + e.getMessage(), e);
            }
            if (finished) {
                assertEquals(List.of(100L), seqs, ctx + ": the flushed record");
            } else {
                assertTrue(seqs.isEmpty() || seqs.equals(List.of(100L)), ctx + ": " + seqs);
            }
            for (WalSegment s : r.segments()) {
                s.close();
            }
            assertTrue(cut < 200, "the open and the flush never finished");
        }
    }
}
