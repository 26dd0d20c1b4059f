package io.viperblock.bench;

import io.viperblock.core.chunk.ChunkReader;
import io.viperblock.core.format.ChunkBuilder;
import io.viperblock.core.format.ChunkFooter;
import io.viperblock.core.format.CorruptFormatException;
import io.viperblock.core.format.WalRecord;
import io.viperblock.core.store.MemoryStore;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The codecs and the block cache on the I/O path, without a disk: the WAL record header of a
 * 4 KiB write (its CRC32C covers the payload), packing a full 4 MiB chunk (a CRC32C per block,
 * then the footer), parsing a chunk footer, and reading one 4 KiB block through
 * {@link ChunkReader} from its cache (hit) or from a memory store (miss: ranged get, block number
 * and CRC32C checked). Scores are operations per second; one op of {@code chunkBuild} is a whole
 * chunk of 1024 blocks.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"})
public class HotPathBenchmark {
    static final int BLOCK = 4096;
    static final int BLOCKS = ChunkFooter.MAX_BLOCKS;
    static final int PICKS = 1 << 16;

    @State(Scope.Thread)
    public static class Codec {
        ByteBuffer payload;
        ByteBuffer header = ByteBuffer.allocate(WalRecord.RECORD_HEADER);
        ByteBuffer chunkBuffer = ByteBuffer.allocateDirect(ChunkBuilder.CAPACITY);
        ByteBuffer footer;
        long seq;

        @Setup(Level.Trial)
        public void setup() {
            payload = randomBlock(new SplittableRandom(7));
            ChunkBuilder b = chunk(1, payload);
            ByteBuffer whole = b.finish();
            footer = whole.slice(BLOCKS * BLOCK, ChunkFooter.footerLength(BLOCKS));
        }
    }

    /** One chunk of 1024 random blocks in a memory store, read through a cache that holds it all, or none. */
    @State(Scope.Thread)
    public static class Cache {
        ChunkReader warm;
        ChunkReader cold;
        ByteBuffer dst = ByteBuffer.allocate(BLOCK);
        int[] picks = new int[PICKS];
        int next;

        @Setup(Level.Trial)
        public void setup() throws IOException {
            MemoryStore store = new MemoryStore();
            SplittableRandom r = new SplittableRandom(11);
            ChunkBuilder b = new ChunkBuilder(1, 1);
            for (int i = 0; i < BLOCKS; i++) {
                b.add(i, 1, randomBlock(r));
            }
            store.put("chunk", b.finish());
            warm = new ChunkReader(store, seq -> "chunk", 64L << 20);
            cold = new ChunkReader(store, seq -> "chunk", 0);
            for (int i = 0; i < PICKS; i++) {
                picks[i] = r.nextInt(BLOCKS);
            }
            for (int i = 0; i < BLOCKS; i++) {
                read(warm, i);
            }
        }

        ByteBuffer read(ChunkReader reader, int index) throws IOException {
            dst.clear();
            reader.read(1, BLOCKS, index, 1, index, dst);
            return dst;
        }

        int pick() {
            return picks[next++ & (PICKS - 1)];
        }
    }

    static ByteBuffer randomBlock(SplittableRandom r) {
        byte[] b = new byte[BLOCK];
        r.nextBytes(b);
        return ByteBuffer.wrap(b);
    }

    static ChunkBuilder chunk(long chunkSeq, ByteBuffer block) {
        ChunkBuilder b = new ChunkBuilder(chunkSeq, 1);
        for (int i = 0; i < BLOCKS; i++) {
            b.add(i, i + 1, block);
        }
        return b;
    }

    @Benchmark
    public ByteBuffer walRecordHeader4k(Codec c) {
        c.header.clear();
        WalRecord.encodeRecordHeader(c.header, WalRecord.WRITE, ++c.seq, c.seq & 0xFFFF, 1, c.payload);
        return c.header;
    }

    @Benchmark
    public ByteBuffer chunkBuild(Codec c) {
        ChunkBuilder b = new ChunkBuilder(++c.seq, 1, c.chunkBuffer);
        for (int i = 0; i < BLOCKS; i++) {
            b.add(i, i + 1, c.payload);
        }
        return b.finish();
    }

    @Benchmark
    public ChunkFooter footerParse(Codec c) throws CorruptFormatException {
        return ChunkFooter.parse(c.footer.duplicate(), 1, "chunk", (long) BLOCKS * BLOCK);
    }

    @Benchmark
    public ByteBuffer cacheHit4k(Cache s) throws IOException {
        return s.read(s.warm, s.pick());
    }

    @Benchmark
    public ByteBuffer cacheMiss4k(Cache s) throws IOException {
        return s.read(s.cold, s.pick());
    }
}
