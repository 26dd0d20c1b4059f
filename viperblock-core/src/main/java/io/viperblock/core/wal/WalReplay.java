package io.viperblock.core.wal;

import io.viperblock.core.format.CorruptFormatException;
import io.viperblock.core.format.Formats;

import io.viperblock.core.format.WalHeader;
import io.viperblock.core.format.WalScan;
import io.viperblock.core.io.Fs;
import io.viperblock.core.io.FsFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Replays a volume's WAL segments on open (durability rule 4): records already in the map
 * ({@code seq <= coveredSeq}) are skipped, the rest are handed to a {@link Sink} in sequence
 * order. A segment other than the last whose successor's first sequence number is at most
 * {@code coveredSeq + 1} holds only such records and is removed without its records being read.
 * A torn or corrupt record at the tail of the last segment ends replay there and the segment is
 * cut at that point; damage anywhere else refuses to open, naming the file and offset.
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

    /**
     * Null if a segment's scan shows no damage (a clean end, the end of a sealed segment's records,
     * or a torn tail of the last segment, which replay cuts), else what is wrong, as a phrase after
     * "WAL segment X". A problem in a segment other than the last, or below the length its header
     * or the WAL's sync mark says was fsynced ({@link #syncedLength}), is damage: those records
     * were acknowledged as durable. But a problem in a segment other than the last exactly at the
     * length in its header ({@link #sealedEnd}) is where its records end: consolidation may have
     * appended the footer of a chunk made from the segment there (FORMATS.md, "Chunk").
     */
    static String damage(WalScan.ScanResult r, long syncedLength, WalHeader header, boolean last) {
        if (!last && sealedEnd(r, header)) {
            return null;
        }
        if (r.problem() == null) {
            return r.endOfValidData() >= syncedLength ? null
                    : "ends at offset " + r.endOfValidData() + ", but its first " + syncedLength
                            + " bytes were flushed (fsynced), as its header or the WAL's sync mark says: flushed records are missing";
        }
        String at = "is damaged at offset " + r.problemOffset() + ": " + r.problem() + ". ";
        if (!last) {
            return at + "It is not the last segment, so this is not a torn write";
        }
        if (r.problemOffset() < syncedLength) {
            return at + "Its first " + syncedLength + " bytes were flushed (fsynced), as its header or the WAL's sync mark"
                    + " says, so this is not a torn write but damage to records acknowledged as durable";
        }
        return null;
    }

    /**
     * Whether a scan of a segment other than the last stopped at a problem exactly at the length
     * its header holds: the seal writes the length of the segment's records there, and
     * consolidation fsyncs that header before it appends a chunk footer behind the records (a
     * header that holds a smaller length, as after a repair, has records behind it, so a scan
     * does not stop there).
     */
    static boolean sealedEnd(WalScan.ScanResult r, WalHeader header) {
        return r.problem() != null && header.syncedLength() > WalHeader.LENGTH && r.problemOffset() == header.syncedLength();
    }

    /**
     * The WAL's sync mark ({@link Formats#WAL_SYNC_MARK}), or null if there is none or it cannot
     * be read. The writer never syncs it on a client's flush, so after a power loss it may be torn
     * or old: a bad one is ignored, which only leaves replay going by the segments' headers.
     */
    static WalHeader readMark(Fs fs, Path dir) throws IOException {
        Path path = dir.resolve(Formats.WAL_SYNC_MARK);
        if (!fs.exists(path)) {
            return null;
        }
        try (FsFile file = fs.open(path)) {
            return file.size() == 0 ? null : WalHeader.read(file, path.toString()); // empty: no flush yet
        } catch (CorruptFormatException e) {
            log.info("WAL sync mark {} cannot be read ({}): going by the segments' headers", path, e.getMessage());
            return null;
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    /**
     * How much of a segment was fsynced, as far as the WAL says: its header's synced length, or
     * the sync mark's if the mark names this segment (the same volume instance, first seq and
     * epoch) and says more.
     */
    static long syncedLength(WalHeader header, WalHeader mark) {
        if (mark != null && mark.volumeId().equals(header.volumeId()) && mark.firstSeq() == header.firstSeq()
                && mark.epoch() == header.epoch()) {
            return Math.max(header.syncedLength(), mark.syncedLength());
        }
        return header.syncedLength();
    }

    /**
     * Whether a segment whose header is bad is one whose creation was cut short (replay removes
     * it) rather than damaged. The header is fsynced before the first record is written, so an
     * interrupted creation leaves nothing behind the header's 64 bytes; any byte there means the
     * header was damaged later, and removing the segment would lose its records (even if those
     * are damaged too).
     */
    static boolean interruptedCreation(long fileSize) {
        return fileSize <= WalHeader.LENGTH;
    }

    /** The segment file names in a WAL directory: 16 hex digits each, so name order is sequence order. */
    private static List<String> segmentNames(Fs fs, Path dir) throws IOException {
        List<String> names = new ArrayList<>();
        for (String n : fs.list(dir)) {
            if (n.endsWith(Formats.WAL_SUFFIX)) {
                names.add(n);
            }
        }
        return names;
    }

    /**
     * Whether segment {@code i} of {@code names} holds only records the map has: it is not the
     * last, and the next one's first sequence number is at most {@code coveredSeq + 1} (a
     * segment's records have sequence numbers below its successor's first).
     */
    private static boolean covered(List<String> names, int i, long coveredSeq) {
        return i < names.size() - 1 && Formats.seqOfKey(names.get(i + 1)) - 1 <= coveredSeq;
    }

    /** One damaged WAL segment found by {@link #check}. */
    public record Damage(Path segment, long offset, String message) {}

    /**
     * Scans a volume's WAL segments the way {@link #replay} does with the same
     * {@code coveredSeq}, changing nothing, and returns the damage replay would refuse to open
     * with (an empty list if it would open).
     */
    public static List<Damage> check(Fs fs, Path dir, UUID volumeId, long coveredSeq) throws IOException {
        return check(fs, dir, volumeId, coveredSeq, NO_VISITOR);
    }

    /**
     * {@link #check}, showing {@code visitor} every good record of the segments it reads, in
     * order (records behind damage are not shown; a record may be shown that replay would skip
     * as covered by the map).
     */
    public static List<Damage> check(Fs fs, Path dir, UUID volumeId, long coveredSeq, WalScan.Visitor visitor) throws IOException {
        List<String> names = segmentNames(fs, dir);
        WalHeader mark = readMark(fs, dir);
        List<Damage> found = new ArrayList<>();
        for (int i = 0; i < names.size(); i++) {
            boolean last = i == names.size() - 1;
            Path path = dir.resolve(names.get(i));
            FsFile opened;
            try {
                opened = fs.open(path);
            } catch (NoSuchFileException e) {
                continue; // consolidated and deleted since the listing: the volume is open elsewhere
            }
            try (FsFile file = opened) {
                WalHeader header;
                try {
                    header = WalHeader.read(file, path.toString());
                } catch (CorruptFormatException e) {
                    if (!last || !interruptedCreation(file.size())) {
                        found.add(new Damage(path, e.offset(), e.getMessage()));
                    }
                    continue; // else an interrupted creation, which replay removes
                }
                if (!header.volumeId().equals(volumeId)) {
                    found.add(new Damage(path, 16, "WAL segment " + path + " belongs to volume instance " + header.volumeId() + ", not to this volume"));
                    continue;
                }
                if (covered(names, i, coveredSeq)) {
                    continue; // replay removes it unread
                }
                WalScan.ScanResult r = WalScan.scan(file, path.toString(), WalHeader.LENGTH, header.firstSeq(), visitor);
                String damage = damage(r, syncedLength(header, mark), header, last);
                if (damage != null) {
                    found.add(new Damage(path, r.endOfValidData(), "WAL segment " + path + " " + damage));
                }
            }
        }
        return found;
    }

    /**
     * Cuts a volume's WAL at its first damage, as {@link #check} finds it, so that the WAL holds a
     * prefix of the acknowledged writes, as a crash leaves it: the damaged segment is truncated at
     * its last good record, its header's synced length set to what was fsynced of what is left
     * (the WAL's sync mark, which may say more, is deleted), and every later segment deleted. A damaged header with good records behind it is written anew first (the records
     * are kept). A segment of another volume instance is left alone. A damaged segment that holds
     * only records at or below {@code coveredSeq} (which the stored map holds) is deleted instead
     * of cut, and the segments after it stay: the map repair rebuilds covers no WAL, so the next
     * open would read it and refuse. (Intact ones stay: that open replays them, which restores
     * their blocks where a chunk copy was found damaged.) The caller holds the lease.
     *
     * @return the bytes given up (0 if there was no damage)
     */
    public static long cutAtDamage(Fs fs, Path dir, UUID volumeId, long coveredSeq) throws IOException {
        List<String> names = segmentNames(fs, dir);
        WalHeader mark = readMark(fs, dir);
        boolean removed = false;
        for (int i = 0; i < names.size(); i++) {
            Path path = dir.resolve(names.get(i));
            long nameSeq = Formats.seqOfKey(names.get(i));
            long cut = 0;
            boolean coveredHere = false;
            try (FsFile file = fs.open(path)) {
                WalHeader header;
                try {
                    header = WalHeader.read(file, path.toString());
                } catch (CorruptFormatException e) {
                    if (i == names.size() - 1 && interruptedCreation(file.size())) {
                        continue; // an interrupted creation, which replay removes
                    }
                    header = new WalHeader(volumeId, nameSeq, 0);
                    file.write(header.encode(), 0);
                    log.warn("WAL segment {}: wrote a new header in place of the damaged one ({})", path, e.getMessage());
                }
                if (!header.volumeId().equals(volumeId)) {
                    continue;
                }
                WalScan.ScanResult r = WalScan.scan(file, path.toString(), WalHeader.LENGTH, header.firstSeq(), NO_VISITOR);
                long synced = syncedLength(header, mark);
                if (damage(r, synced, header, i == names.size() - 1) == null) {
                    file.force();
                    continue;
                }
                coveredHere = covered(names, i, coveredSeq);
                if (!coveredHere) {
                    cut = cut(file, path, header, r, synced);
                }
            }
            if (coveredHere) {
                // damaged, but the stored map holds its records; the map repair rebuilds covers no
                // WAL, so the next open would read it and refuse: it goes, and nothing after it
                fs.delete(path);
                removed = true;
                log.warn("WAL segment {}: deleted, as it is damaged and the map holds its records", path);
                continue;
            }
            for (String later : names.subList(i + 1, names.size())) {
                Path p = dir.resolve(later);
                cut += fs.size(p);
                fs.delete(p);
                log.warn("WAL segment {}: deleted, as it follows the damage", p);
            }
            if (mark != null) {
                fs.delete(dir.resolve(Formats.WAL_SYNC_MARK)); // the cut segment's header says it now
            }
            fs.syncDir(dir);
            return cut;
        }
        if (removed) {
            fs.syncDir(dir);
        }
        return 0;
    }

    /** Truncates a damaged segment at its last good record, with the synced length its header may claim; returns the bytes cut. */
    private static long cut(FsFile file, Path path, WalHeader header, WalScan.ScanResult r, long synced) throws IOException {
        long size = file.size();
        long end = r.endOfValidData();
        file.truncate(end);
        file.write(header.withSyncedLength(Math.min(synced, end)).encode(), 0);
        file.force();
        long cut = size - end;
        log.warn("WAL segment {}: cut at offset {} ({}), giving up {} bytes of records", path, end, r.problem() == null
                ? "flushed records missing" : r.problem(), cut);
        return cut;
    }

    public static Result replay(Fs fs, Path dir, UUID volumeId, long coveredSeq, Sink sink) throws IOException {
        List<String> names = segmentNames(fs, dir);
        WalHeader mark = readMark(fs, dir);
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
                    if (last && !interruptedCreation(size)) {
                        throw new CorruptFormatException("WAL segment " + path + " has a damaged header (" + e.getMessage()
                                + ") but holds " + (size - WalHeader.LENGTH) + " bytes of records after it, so this is not an"
                                + " interrupted creation; refusing to open"
                                + " ('vblock check --repair' writes a new header)", path.toString(), e.offset());
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
                if (covered(names, i, coveredSeq)) {
                    delete = true; // unread: a consolidated segment kept for reads, or one not yet let go
                    continue;
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
                String damage = damage(r, syncedLength(header, mark), header, last);
                if (damage != null) {
                    throw new CorruptFormatException("WAL segment " + path + " " + damage + "; refusing to open. 'vblock check"
                            + " --repair' cuts the WAL there, giving up the writes from that record on", path.toString(), r.endOfValidData());
                }
                if (r.problem() != null && !last) {
                    size = r.endOfValidData(); // its records end there, (part of) a chunk footer behind them: left in place
                } else if (r.problem() != null) {
                    long cut = size - r.endOfValidData();
                    if (r.problem().equals(WalScan.ZERO_FILLED_TAIL)) {
                        // what the writer leaves after its last record (zeros to the end of the
                        // page, or written ahead), and maybe a reused file's old records behind
                        log.info("WAL segment {}: zeros after the last record at offset {}; cutting {} bytes", path, r.problemOffset(), cut);
                    } else {
                        log.warn("WAL segment {}: {} at offset {}; cutting the torn tail ({} bytes) and going on", path, r.problem(), r.problemOffset(), cut);
                    }
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
