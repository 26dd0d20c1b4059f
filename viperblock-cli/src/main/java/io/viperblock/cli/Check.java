package io.viperblock.cli;

import io.viperblock.core.volume.VolumeCheck;
import io.viperblock.core.volume.VolumeManager;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code vblock check VOLUME [--repair]}: verifies every chunk and map object of a volume
 * and this node's WAL segments (exit 1 if anything is wrong); {@code --repair} then cuts the WAL at
 * its first damage and rebuilds the block map from the chunk footers.
 */
@Command(name = "check", mixinStandardHelpOptions = true,
        description = {"Verify every chunk and map object of a volume: checksums, and that the map and the chunk footers agree; "
                + "and this node's WAL segments as the next open replays them. Read-only; exit 1 if a problem is found.",
                "--repair cuts the WAL at its first damage (the writes from the damaged record on are given up) and rebuilds the block map from the chunk footers (newest copy of each block wins) under the volume's lease. "
                        + "A TRIM or WRITE_ZEROES recorded only in lost map deltas cannot be recovered: those blocks read as their last data."})
final class Check extends Vblock.OnVolume {
    @Option(names = "--repair", description = "cut the WAL at its damage and rebuild the block map from the chunks when the check finds problems (takes the lease)")
    boolean repair;

    @Override
    public Integer call() throws Exception {
        VolumeManager m = common.manager();
        Progress progress = new Progress("check " + name);
        VolumeCheck.Report r = m.check(name, progress);
        progress.finish();
        List<Object> problems = new ArrayList<>();
        StringBuilder text = new StringBuilder();
        for (VolumeCheck.Problem p : r.problems()) {
            problems.add(Vblock.doc("key", p.key(), "offset", p.offset(), "message", p.message()));
            text.append("problem: ").append(p.message()).append('\n');
        }
        for (String n : r.notes()) {
            text.append("note: ").append(n).append('\n');
        }
        text.append(String.format("%s: %d problems in %d chunks (%d blocks) and %d map objects; %d bytes read in %.2f s (%.1f MB/s)",
                name, r.problems().size(), r.chunks(), r.chunkBlocks(), r.mapObjects(), r.bytesRead(), progress.seconds(), progress.mbPerSecond()));
        Map<String, Object> doc = Vblock.doc("volume", name, "clean", r.clean(), "problems", problems, "notes", r.notes(),
                "chunks", r.chunks(), "chunkBlocks", r.chunkBlocks(), "mapObjects", r.mapObjects(), "mappedBlocks", r.mappedBlocks(),
                "bytesRead", r.bytesRead(), "seconds", progress.seconds());
        if (!repair || r.clean()) {
            if (repair) {
                text.append("\nnothing to repair");
            }
            common.print(doc, text.toString());
            return r.clean() ? 0 : 1;
        }
        Progress rp = new Progress("repair " + name);
        VolumeCheck.Repair done = m.repair(name, rp);
        rp.finish();
        doc.put("repair", Vblock.doc("checkpoint", done.checkpointKey(), "mappedBlocks", done.mappedBlocks(), "extents", done.extents(),
                "chunksUsed", done.chunksUsed(), "damagedCopies", done.damagedCopies(), "lostBlocks", done.lostBlocks(),
                "replacedMapObjects", done.replaced(), "walBytesCut", done.walBytesCut()));
        text.append(String.format("%nrepaired: rebuilt the map from the chunk footers: %d blocks in %d extents over %d chunks, written as %s "
                + "(replacing %d map objects); %d damaged block copies skipped", done.mappedBlocks(), done.extents(), done.chunksUsed(),
                done.checkpointKey(), done.replaced(), done.damagedCopies()));
        if (done.walBytesCut() > 0) {
            text.append(String.format("%nwarning: cut this node's WAL at its first damage: %d bytes of acknowledged writes given up",
                    done.walBytesCut()));
        }
        if (done.lostBlocks() > 0) {
            text.append(String.format("%nwarning: the newest copy of %d blocks was damaged; they read as an older copy (or zeros) now",
                    done.lostBlocks()));
        }
        common.print(doc, text.toString());
        return 0;
    }
}
