package io.viperblock.sfs;

import io.viperblock.core.format.CorruptFormatException;
import io.viperblock.core.volume.Volume;
import java.io.IOException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * The sfs allocation table: which files a volume holds and where. Immutable.
 *
 * <p>It lives at the start of the volume in two slots of {@link #slotBytes} bytes each (slot 0
 * at offset 0, slot 1 right after it); file data starts after the second slot. Generation g is
 * written to slot {@code g % 2}, never over the slot holding the table in force, so a write cut
 * short leaves the previous generation readable: {@link #load} takes the valid slot with the
 * higher generation. A slot (big-endian, CRC32C over bytes 0-35 and the entries):
 *
 * <pre>
 *  0       8  magic "VBSFSTBL"
 *  8       4  u32 version = 1
 * 12       4  u32 slotBytes (must match the volume's size, see {@link #slotBytes})
 * 16       8  u64 generation (>= 1)
 * 24       4  u32 entry count
 * 28       4  u32 entries length in bytes
 * 32       4  u32 reserved, 0
 * 36       4  u32 CRC32C
 * 40       .. entries, sorted by path; then zeros to the end of the slot (checked)
 *
 * entry:   0  8  u64 offset (multiple of 4096, in the data area; 0 for an empty file)
 *          8  8  u64 length in bytes
 *         16 32  SHA-256 of the file
 *         48  2  u16 path length n (1..4096)
 *         50  n  path, UTF-8, '/'-separated, relative
 * </pre>
 *
 * @param generation 0 for a volume that has never held a table
 */
record SfsTable(long generation, int slotBytes, List<SfsEntry> entries) {
    static final int BLOCK = 4096;
    static final int HEADER = 40;
    static final int ENTRY_FIXED = 50;
    static final int VERSION = 1;
    private static final byte[] MAGIC = "VBSFSTBL".getBytes(StandardCharsets.US_ASCII);

    SfsTable {
        entries = entries.stream().sorted(Comparator.comparing(SfsEntry::path)).toList();
        for (int i = 1; i < entries.size(); i++) {
            if (entries.get(i).path().equals(entries.get(i - 1).path())) {
                throw new IllegalArgumentException("the path \"" + entries.get(i).path() + "\" is in the table twice");
            }
        }
    }

    /**
     * The size of one table slot in a volume of {@code volumeSize} bytes: 1/64 of the volume in
     * whole blocks, at least one block and at most 1 MiB.
     */
    static int slotBytes(long volumeSize) {
        long s = volumeSize / 64 / BLOCK * BLOCK;
        return (int) Math.max(BLOCK, Math.min(1 << 20, s));
    }

    /** Where file data starts: after both slots. */
    long dataStart() {
        return 2L * slotBytes;
    }

    static SfsTable empty(long volumeSize) {
        return new SfsTable(0, slotBytes(volumeSize), List.of());
    }

    SfsEntry find(String path) {
        for (SfsEntry e : entries) {
            if (e.path().equals(path)) {
                return e;
            }
        }
        return null;
    }

    long bytesStored() {
        return entries.stream().mapToLong(SfsEntry::length).sum();
    }

    /** The encoded size of a table holding {@code entries}. */
    static long encodedSize(List<SfsEntry> entries) {
        long n = HEADER;
        for (SfsEntry e : entries) {
            n += ENTRY_FIXED + e.path().getBytes(StandardCharsets.UTF_8).length;
        }
        return n;
    }

    /** The whole slot: header, entries, zeros. */
    byte[] encode() {
        long size = encodedSize(entries);
        if (size > slotBytes) {
            throw new IllegalArgumentException("a table of " + entries.size() + " files takes " + size
                    + " bytes, more than its slot of " + slotBytes + " bytes");
        }
        ByteBuffer b = ByteBuffer.allocate(slotBytes);
        b.put(MAGIC).putInt(VERSION).putInt(slotBytes).putLong(generation).putInt(entries.size())
                .putInt((int) size - HEADER).putInt(0).putInt(0);
        for (SfsEntry e : entries) {
            byte[] path = e.path().getBytes(StandardCharsets.UTF_8);
            b.putLong(e.offset()).putLong(e.length()).put(e.shaBytes()).putShort((short) path.length).put(path);
        }
        byte[] out = b.array();
        ByteBuffer.wrap(out).putInt(36, crc(out, (int) size));
        return out;
    }

    private static int crc(byte[] slot, int size) {
        CRC32C c = new CRC32C();
        c.update(slot, 0, 36);
        c.update(slot, HEADER, size - HEADER);
        return (int) c.getValue();
    }

    /**
     * Decodes one slot of a volume of {@code volumeSize} bytes; null if it is all zeros (never
     * written). Checks magic, version, slot size, lengths, the CRC, then every entry.
     */
    static SfsTable decode(byte[] slot, long volumeSize, String source) throws CorruptFormatException {
        int expected = slotBytes(volumeSize);
        if (slot.length != expected) {
            throw new IllegalArgumentException("slot of " + slot.length + " bytes, expected " + expected);
        }
        if (allZero(slot)) {
            return null;
        }
        ByteBuffer b = ByteBuffer.wrap(slot);
        for (int i = 0; i < MAGIC.length; i++) {
            if (slot[i] != MAGIC[i]) {
                throw bad(source, "bad magic (not an sfs table)", 0);
            }
        }
        int version = b.getInt(8);
        if (version != VERSION) {
            throw bad(source, "unknown version " + version, 8);
        }
        if (b.getInt(12) != expected) {
            throw bad(source, "slot size " + Integer.toUnsignedString(b.getInt(12)) + " does not match " + expected
                    + " for a volume of " + volumeSize + " bytes", 12);
        }
        long generation = b.getLong(16);
        if (generation < 1) {
            throw bad(source, "bad generation " + generation, 16);
        }
        long count = Integer.toUnsignedLong(b.getInt(24));
        long length = Integer.toUnsignedLong(b.getInt(28));
        if (length > expected - HEADER || count * ENTRY_FIXED > length) {
            throw bad(source, "entries of " + count + " files in " + length + " bytes do not fit the slot", 24);
        }
        if (b.getInt(32) != 0) {
            throw bad(source, "reserved bytes are not zero", 32);
        }
        int stored = b.getInt(36);
        int computed = crc(slot, HEADER + (int) length);
        if (stored != computed) {
            throw bad(source, String.format("bad checksum (stored 0x%08x, computed 0x%08x)", stored, computed), 36);
        }
        for (int i = HEADER + (int) length; i < slot.length; i++) {
            if (slot[i] != 0) {
                throw bad(source, "non-zero byte after the entries", i);
            }
        }
        b.position(HEADER).limit(HEADER + (int) length);
        List<SfsEntry> entries = new ArrayList<>((int) count);
        for (long i = 0; i < count; i++) {
            int at = b.position();
            try {
                long offset = b.getLong();
                long len = b.getLong();
                byte[] sha = new byte[32];
                b.get(sha);
                byte[] path = new byte[Short.toUnsignedInt(b.getShort())];
                b.get(path);
                SfsEntry e = new SfsEntry(utf8(path), offset, len, HexFormat.of().formatHex(sha));
                if (len > 0 && (offset < 2L * expected || e.allocated() > volumeSize - offset)) {
                    throw bad(source, "file \"" + e.path() + "\" at offset " + offset + " (" + len + " bytes) is outside the data area", at);
                }
                entries.add(e);
            } catch (BufferUnderflowException | CharacterCodingException | IllegalArgumentException e) {
                throw bad(source, "bad entry " + i + ": " + (e.getMessage() == null ? "runs past the entries" : e.getMessage()), at);
            }
        }
        if (b.hasRemaining()) {
            throw bad(source, b.remaining() + " bytes after the last entry", b.position());
        }
        SfsTable t;
        try {
            t = new SfsTable(generation, expected, entries);
        } catch (IllegalArgumentException e) {
            throw bad(source, e.getMessage(), HEADER);
        }
        t.checkNoOverlap(source);
        return t;
    }

    private void checkNoOverlap(String source) throws CorruptFormatException {
        List<SfsEntry> byOffset = entries.stream().filter(e -> e.length() > 0).sorted(Comparator.comparingLong(SfsEntry::offset)).toList();
        for (int i = 1; i < byOffset.size(); i++) {
            if (byOffset.get(i).offset() < byOffset.get(i - 1).end()) {
                throw bad(source, "files \"" + byOffset.get(i - 1).path() + "\" and \"" + byOffset.get(i).path() + "\" overlap", HEADER);
            }
        }
    }

    private static String utf8(byte[] b) throws CharacterCodingException {
        return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b)).toString();
    }

    private static boolean allZero(byte[] b) {
        for (byte x : b) {
            if (x != 0) {
                return false;
            }
        }
        return true;
    }

    private static CorruptFormatException bad(String source, String problem, long offset) {
        return new CorruptFormatException("sfs table", source, problem, offset);
    }

    /**
     * The table in force in {@code v}: the valid slot with the higher generation; an empty table
     * if neither slot was ever written. Fails if no slot is valid but one holds something.
     */
    static SfsTable load(Volume v) throws IOException {
        int slot = slotBytes(v.size());
        if (v.size() < 2L * slot + BLOCK) {
            throw new SfsException("volume \"" + v.name() + "\" (" + v.size() + " bytes) is too small for sfs: it needs at least "
                    + (2L * slot + BLOCK) + " bytes (two table slots and one data block)");
        }
        SfsTable best = null;
        List<String> problems = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            try {
                SfsTable t = decode(v.read((long) i * slot, slot), v.size(), "volume " + v.name() + " slot " + i);
                if (t != null && t.generation % 2 != i) {
                    throw bad("volume " + v.name() + " slot " + i, "generation " + t.generation + " belongs in slot " + (t.generation % 2), 16);
                }
                if (t != null && (best == null || t.generation > best.generation)) {
                    best = t;
                }
            } catch (CorruptFormatException e) {
                problems.add(e.getMessage());
            }
        }
        if (best != null) {
            return best;
        }
        if (!problems.isEmpty()) {
            throw new SfsException("volume \"" + v.name() + "\" holds no valid sfs table (is it an sfs volume?): " + String.join("; ", problems));
        }
        return empty(v.size());
    }

    /** Writes this table into its slot (generation % 2) and flushes: after this returns, it is the table in force. */
    void store(Volume v) throws IOException {
        if (generation < 1 || slotBytes != slotBytes(v.size())) {
            throw new IllegalArgumentException("table generation " + generation + " with slot size " + slotBytes
                    + " does not fit volume \"" + v.name() + "\"");
        }
        v.write((generation % 2) * slotBytes, encode(), false);
        v.flush();
    }

    /** The next generation of this table, holding {@code newEntries}. */
    SfsTable next(List<SfsEntry> newEntries) {
        return new SfsTable(generation + 1, slotBytes, newEntries);
    }
}
