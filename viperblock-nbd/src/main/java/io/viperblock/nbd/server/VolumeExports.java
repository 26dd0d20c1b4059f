package io.viperblock.nbd.server;

import io.viperblock.core.volume.Volume;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;

/** A fixed set of open volumes, exported under their names. Thread-safe (concurrent map). */
public final class VolumeExports implements Exports {
    private final Map<String, Volume> volumes = new ConcurrentSkipListMap<>();

    public VolumeExports(List<Volume> open) {
        for (Volume v : open) {
            volumes.put(v.name(), v);
        }
    }

    @Override
    public Volume find(String name) {
        return volumes.get(name);
    }

    @Override
    public List<String> names() {
        return new ArrayList<>(volumes.keySet());
    }

    public List<Volume> volumes() {
        return new ArrayList<>(volumes.values());
    }
}
