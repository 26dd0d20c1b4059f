package io.viperblock.core.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class NioFsTest extends FsContractTest {
    @TempDir
    Path tmp;

    @Override
    protected Fs newFs() {
        return NioFs.INSTANCE;
    }

    @Override
    protected Path newBase(Fs fs) {
        return tmp;
    }

    @Test
    void recognisesOutOfSpaceErrors() {
        assertTrue(NioFs.isOutOfSpace(new IOException("No space left on device")));
        assertTrue(NioFs.isOutOfSpace(new FileSystemException("/x", null, "Disk quota exceeded")));
        assertTrue(NioFs.isOutOfSpace(new IOException("writing /x failed", new IOException("no space left on device"))));
        assertTrue(NioFs.isOutOfSpace(new IOException("write failed: ENOSPC")));
        assertFalse(NioFs.isOutOfSpace(new IOException("Input/output error")));
        assertFalse(NioFs.isOutOfSpace(new IOException((String) null)));
    }
}
