package io.viperblock.sfs;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * First-fit allocation of whole blocks in the data area, around every file of the table in force.
 * Files being replaced keep their blocks until the new table is written (copy-on-write), so
 * nothing the current table points to is ever overwritten. Not thread-safe; one per upload.
 */
final class Allocator {
    /** Free runs [start, end), sorted by start. */
    private final List<long[]> free = new ArrayList<>();

    Allocator(SfsTable current, long volumeSize) {
        long cursor = current.dataStart();
        List<SfsEntry> used = current.entries().stream().filter(e -> e.length() > 0)
                .sorted(Comparator.comparingLong(SfsEntry::offset)).toList();
        for (SfsEntry e : used) {
            if (e.offset() > cursor) {
                free.add(new long[] {cursor, e.offset()});
            }
            cursor = Math.max(cursor, e.end());
        }
        long end = volumeSize / SfsTable.BLOCK * SfsTable.BLOCK;
        if (end > cursor) {
            free.add(new long[] {cursor, end});
        }
    }

    /** Bytes not used by any file of the table in force (or allocated since). */
    long freeBytes() {
        return free.stream().mapToLong(r -> r[1] - r[0]).sum();
    }

    long largestFreeRun() {
        return free.stream().mapToLong(r -> r[1] - r[0]).max().orElse(0);
    }

    /** The offset of {@code bytes} (a multiple of 4096, > 0) in the first free run that holds them, or -1. */
    long allocate(long bytes) {
        for (long[] r : free) {
            if (r[1] - r[0] >= bytes) {
                long at = r[0];
                r[0] += bytes;
                return at;
            }
        }
        return -1;
    }
}
