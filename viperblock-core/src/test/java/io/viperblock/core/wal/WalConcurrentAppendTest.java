package io.viperblock.core.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.viperblock.core.format.WalRecord;
import io.viperblock.core.io.NioFs;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Many appenders at once, virtual and platform threads, while another thread seals, retires and
 * syncs segments (holding the write lock too): every append returns (within the timeout), and
 * every record is written once, with its own sequence number (no gaps) and its own payload. Now
 * and then an appender tries a malformed record: it alone is refused.
 */
class WalConcurrentAppendTest {
    private static final int THREADS = 48;
    private static final int PER_THREAD = 400;

    @TempDir
    Path dir;

    @Test
    void everyAppenderReturnsAndEveryRecordReplaysWithItsPayload() throws Exception {
        UUID id = UUID.randomUUID();
        WalWriter wal = new WalWriter(NioFs.INSTANCE, dir, id, 1, 1 << 20, new AtomicLong(1), List.of());
        Map<Long, Long> blockBySeq = new ConcurrentHashMap<>();
        AtomicBoolean appending = new AtomicBoolean(true);
        AtomicReference<Throwable> failed = new AtomicReference<>(); // the first failure of any thread
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            Thread churn = Thread.ofPlatform().start(() -> { // other holders of the write lock
                try {
                    while (appending.get()) {
                        WalSegment sealed = wal.sealActive();
                        if (sealed != null) {
                            wal.retire(sealed);
                        }
                        wal.sync();
                        Thread.sleep(1);
                    }
                } catch (Exception e) {
                    failed.compareAndSet(null, e);
                }
            });
            List<Thread> appenders = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                int thread = t;
                Runnable work = () -> {
                    SplittableRandom random = new SplittableRandom(thread);
                    for (int i = 0; i < PER_THREAD; i++) {
                        long block = (long) thread * PER_THREAD + i;
                        if (i % 50 == 7) { // a malformed record is refused alone: it takes no seq, fails no other record
                            try {
                                wal.append(WalRecord.WRITE, block, 2, ByteBuffer.allocate(4096));
                                failed.compareAndSet(null, new AssertionError("a WRITE of 2 blocks with 4096 bytes was taken"));
                            } catch (IllegalArgumentException expected) {
                                // "bad payload length 4096 for WRITE of 2 blocks (expected 8192)"
                            } catch (Exception e) {
                                failed.compareAndSet(null, e);
                            }
                        }
                        int blocks = 1 + random.nextInt(2);
                        ByteBuffer payload = ByteBuffer.allocate(blocks * 4096);
                        payload.putLong(0, block);
                        try {
                            WalWriter.Record r = wal.append(WalRecord.WRITE, block, blocks, payload);
                            blockBySeq.put(r.seq(), block);
                        } catch (Exception e) {
                            failed.compareAndSet(null, e);
                            return;
                        }
                    }
                };
                appenders.add(t % 2 == 0 ? Thread.ofVirtual().start(work) : Thread.ofPlatform().start(work));
            }
            for (Thread t : appenders) {
                t.join();
            }
            appending.set(false);
            churn.join();
        });
        if (failed.get() != null) {
            throw new AssertionError("an appender or the sealing thread failed", failed.get());
        }
        assertEquals(THREADS * PER_THREAD, blockBySeq.size(), "one sequence number for each record");
        long last = wal.append(WalRecord.WRITE, -1 >>> 1, 1, ByteBuffer.allocate(4096).putLong(0, -1 >>> 1)).seq();
        blockBySeq.put(last, (long) (-1 >>> 1));
        wal.abandon(); // replay what the files hold, as after a crash (retired segments are gone)

        Map<Long, Long> replayed = new ConcurrentHashMap<>();
        WalReplay.Result r = WalReplay.replay(NioFs.INSTANCE, dir, id, 0, (segment, type, seq, firstBlock, count, payloadOffset) -> {
            ByteBuffer b = ByteBuffer.allocate(8);
            try {
                segment.file().read(b, payloadOffset);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            assertEquals(firstBlock, b.getLong(0), "the payload of seq " + seq);
            replayed.put(seq, firstBlock);
        });
        for (Map.Entry<Long, Long> e : replayed.entrySet()) {
            assertEquals(blockBySeq.get(e.getKey()), e.getValue(), "seq " + e.getKey());
        }
        assertEquals(last, r.maxSeq(), "the last record appended is in the files");
        assertEquals(THREADS * PER_THREAD + 1, last, "sequence numbers without gaps");
        for (WalSegment s : r.segments()) {
            s.close();
        }
    }
}
