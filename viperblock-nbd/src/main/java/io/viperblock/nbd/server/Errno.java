package io.viperblock.nbd.server;

import io.viperblock.core.NoSpaceException;
import io.viperblock.core.volume.OutOfRangeException;
import io.viperblock.core.volume.VolumeClosedException;
import io.viperblock.core.volume.VolumeFencedException;
import io.viperblock.nbd.protocol.Nbd;

/** Maps engine failures to the errno values NBD defines. Stateless. */
final class Errno {
    private Errno() {}

    /** The errno for a failure of a request of type {@code command}. */
    static int of(Throwable e, int command) {
        if (e instanceof OutOfRangeException) {
            return command == Nbd.CMD_WRITE || command == Nbd.CMD_WRITE_ZEROES ? Nbd.ENOSPC : Nbd.EINVAL;
        }
        if (e instanceof NoSpaceException) {
            return Nbd.ENOSPC;
        }
        if (e instanceof VolumeFencedException) {
            return Nbd.EPERM; // another node owns the volume now: not a transient I/O error
        }
        if (e instanceof VolumeClosedException) {
            return Nbd.ESHUTDOWN;
        }
        if (e instanceof IllegalArgumentException) {
            return Nbd.EINVAL;
        }
        return Nbd.EIO;
    }
}
