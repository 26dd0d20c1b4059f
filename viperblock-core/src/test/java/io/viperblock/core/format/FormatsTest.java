package io.viperblock.core.format;

import io.viperblock.core.testing.Seeds;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.viperblock.core.store.ObjectKeys;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class FormatsTest {

    @Test
    void seqNamesAreSixteenLowercaseHexDigits() {
        assertEquals("0000000000000a1f", Formats.seqName(0xa1f));
        assertEquals("0000000000000001", Formats.seqName(1));
        assertEquals("7fffffffffffffff", Formats.seqName(Long.MAX_VALUE));
        assertEquals("ffffffffffffffff", Formats.seqName(-1));
        SplittableRandom r = Seeds.random("seqNamesAreSixteenLowercaseHexDigits");
        for (int i = 0; i < 1000; i++) {
            long s = r.nextLong();
            String name = Formats.seqName(s);
            assertEquals(16, name.length());
            assertEquals(s, Formats.parseSeqName(name));
            assertEquals(name, String.format("%016x", s));
        }
        for (String bad : new String[] {"", "a1f", "0000000000000A1F", "000000000000a1f", "00000000000000a1f",
            "+000000000000a1f", "-000000000000a1f", "0x0000000000000a", "000000000000a1g", " 000000000000a1f"}) {
            assertThrows(IllegalArgumentException.class, () -> Formats.parseSeqName(bad), bad);
        }
        assertThrows(IllegalArgumentException.class, () -> Formats.parseSeqName(null));
        assertEquals(0xa1f, Formats.parseSeqName("0000000000000a1f.wal", ".wal"));
        assertEquals(-1, Formats.parseSeqName("0000000000000a1f.wal.tmp", ".wal"));
        assertEquals(-1, Formats.parseSeqName("0000000000000A1F.wal", ".wal"));
        assertEquals(-1, Formats.parseSeqName("lock", ".wal"));
        assertEquals(5, Formats.parseSeqName("0000000000000005", ""));
    }

    @Test
    void namesAndKeys() {
        assertEquals("0000000000000a1f.wal", Formats.walFileName(0xa1f));
        assertEquals("volumes/db1/volume.json", Formats.volumeJsonKey("db1"));
        assertEquals("volumes/db1/lease/0000000000000007", Formats.leaseKey("db1", 7));
        assertEquals("volumes/db1/chunks/0000000000000a1f", Formats.chunkKey("db1", 0xa1f));
        assertEquals("volumes/db1/map/0000000000000010.delta", Formats.deltaKey("db1", 16));
        assertEquals("volumes/db1/map/0000000000000020.ckpt", Formats.checkpointKey("db1", 32));
        assertEquals("volumes/db1/map/", Formats.mapPrefix("db1"));
        for (String k : new String[] {Formats.volumeJsonKey("db1"), Formats.leaseKey("db1", 7),
            Formats.chunkKey("db1", 1), Formats.deltaKey("db1", 1), Formats.checkpointKey("db1", 1)}) {
            ObjectKeys.check(k);
        }
        assertEquals(4096, 1 << Formats.BLOCK_SHIFT);
        assertEquals(Formats.BLOCK_SIZE, 1 << Formats.BLOCK_SHIFT);
    }

    @Test
    void magicsSpellTheirNames() {
        assertEquals("\"VBWALSEG\"", Formats.describeMagic(Formats.WAL_MAGIC));
        assertEquals("\"VBCHUNK1\"", Formats.describeMagic(Formats.CHUNK_MAGIC));
        assertEquals("\"VBDELTA1\"", Formats.describeMagic(Formats.DELTA_MAGIC));
        assertEquals("\"VBCKPT01\"", Formats.describeMagic(Formats.CKPT_MAGIC));
        assertEquals("0x0000000000000001", Formats.describeMagic(1));
    }
}
