package io.viperblock.core.wal;

import io.viperblock.core.format.CorruptFormatException;
import io.viperblock.core.format.Formats;

import io.viperblock.core.format.WalHeader;
import io.viperblock.core.format.WalScan;
import io.viperblock.core.io.Fs;
import io.viperblock.core.io.FsFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Replays a volume's WAL segments on open (durability rule 4): records already in the map
 * ({@code seq <= coveredSeq}) are skipped, the rest are handed to a {@link Sink} in sequence
 * order. A torn or corrupt record at the tail of the last segment ends replay there and the
 * segment is cut at that point; damage anywhere else refuses to open, naming the file and offset.
 *
 * <p>Thread-safety: confined to the opening thread.
 */
public final class WalReplay {
    private static final Logger log = LoggerFactory.getLogger(WalReplay.class);

    /** Receives each live record. */
    public interface Sink {
        void record(WalSegment segment, int type, long seq, long firstBlock, int count, long payloadOffset);
    }

    /** What replay found. */
    public record Result(List<WalSegment> segments, long maxSeq, long records, long bytes, long tornBytes) {}

    private static final WalScan.Visitor NO_VISITOR = (type, seq, firstBlock, count, payloadPosition, recordLength) -> { };

    private WalReplay() {}

    public static Result replay(Fs fs, Path dir, UUID volumeId, long coveredSeq, Sink sink) throws IOException {
        List<String> names = new ArrayList<>();
        for (String n : fs.list(dir)) {
            if (n.endsWith(".wal")) {
                names.add(n); // 16 hex digits each: name order is sequence order
            }
        }
        List<WalSegment> live = new ArrayList<>();
        long maxSeq = 0;
        long records = 0;
        long bytes = 0;
        long torn = 0;
        int index = 0;
        for (int i = 0; i < names.size(); i++) {
            boolean last = i == names.size() - 1;
            Path path = dir.resolve(names.get(i));
            long nameSeq = Formats.seqOfKey(names.get(i));
            maxSeq = Math.max(maxSeq, nameSeq);
            FsFile file = fs.open(path);
            boolean keep = false;
            boolean delete = false; // only for segments shown to hold nothing we need
            try {
                long size = file.size();
                if (size < WalHeader.LENGTH && last) {
                    log.warn("WAL segment {} ends inside its header ({} bytes): removing it (its creation was interrupted)", path, size);
                    torn += size;
                    delete = true;
                    continue;
                }
                ByteBuffer hb = ByteBuffer.allocate(WalHeader.LENGTH);
                file.read(hb, 0);
                hb.flip();
                WalHeader header;
                try {
                    header = WalHeader.decode(hb, path.toString());
                } catch (CorruptFormatException e) {
                    // The header is fsynced before the first record is written, so an interrupted
                    // creation leaves no record behind it: good records after a bad header mean
                    // the header was damaged later, and removing the segment would lose them.
                    if (last && WalScan.scan(file, path.toString(), WalHeader.LENGTH, nameSeq, NO_VISITOR).records() > 0) {
                        throw new CorruptFormatException("WAL segment " + path + " has a damaged header (" + e.getMessage()
                                + ") but holds records after it, so this is not an interrupted creation; refusing to open"
                                + " ('vblock check' can inspect it)", path.toString(), e.offset());
                    }
                    if (last) {
                        log.warn("WAL segment {} has a damaged header ({}): removing it (its creation was interrupted)", path, e.getMessage());
                        torn += size;
                        delete = true;
                        continue;
                    }
                    throw e;
                }
                if (!header.volumeId().equals(volumeId)) {
                    throw new CorruptFormatException("WAL segment " + path + " belongs to volume instance " + header.volumeId()
                            + ", not to this volume (" + volumeId + "); a volume of the same name was deleted and created again. Move the file away", path.toString(), 16);
                }
                WalSegment seg = new WalSegment(fs, path, file, ++index, nameSeq, size);
                long[] segRecords = {0};
                WalScan.ScanResult r = WalScan.scan(file, path.toString(), WalHeader.LENGTH, header.firstSeq(),
                        (type, seq, firstBlock, count, payloadPosition, recordLength) -> {
                            segRecords[0]++;
                            if (seq > coveredSeq) {
                                seg.records().add(type, seq, firstBlock, count, payloadPosition);
                                sink.record(seg, type, seq, firstBlock, count, payloadPosition);
                            }
                        });
                if (r.problem() != null) {
                    if (!last) {
                        throw new CorruptFormatException("WAL segment " + path + " is damaged at offset " + r.problemOffset() + ": " + r.problem()
                                + ". It is not the last segment, so this is not a torn write; refusing to open ('vblock check' can inspect it)", path.toString(), r.problemOffset());
                    }
                    long cut = size - r.endOfValidData();
                    log.warn("WAL segment {}: {} at offset {}; cutting the torn tail ({} bytes) and going on", path, r.problem(), r.problemOffset(), cut);
                    file.truncate(r.endOfValidData());
                    file.force();
                    torn += cut;
                    size = r.endOfValidData();
                }
                maxSeq = Math.max(maxSeq, r.lastSeq());
                records += seg.records().size();
                if (seg.records().size() == 0) {
                    delete = true; // everything in it is already in the map
                    continue;
                }
                seg.appended(size, seg.records().seq(seg.records().size() - 1));
                bytes += size;
                live.add(seg);
                keep = true;
            } finally {
                if (!keep) {
                    file.close();
                }
                if (delete) {
                    fs.delete(path);
                }
            }
        }
        return new Result(live, maxSeq, records, bytes, torn);
    }
}
