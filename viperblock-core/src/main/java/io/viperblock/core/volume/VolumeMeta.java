package io.viperblock.core.volume;

import io.viperblock.core.format.CorruptFormatException;
import io.viperblock.core.format.FlatJson;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;

/**
 * The contents of {@code volume.json}: what a volume is. Immutable.
 *
 * @param id     distinguishes this volume from an earlier one of the same name (WAL segments
 *               carry it, so a stale local WAL is never replayed into a new volume)
 * @param parent the snapshot it was cloned from, or null
 */
public record VolumeMeta(String name, UUID id, long size, int blockSize, Instant created, String state, String parent) {
    public static final int FORMAT_VERSION = 1;

    public ByteBuffer encode() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("formatVersion", (long) FORMAT_VERSION);
        m.put("name", name);
        m.put("id", id.toString());
        m.put("size", size);
        m.put("blockSize", (long) blockSize);
        m.put("created", created.toString());
        m.put("state", state);
        m.put("parent", parent);
        return ByteBuffer.wrap((FlatJson.write(m) + "\n").getBytes(StandardCharsets.UTF_8));
    }

    public static VolumeMeta decode(ByteBuffer buf, String source) throws CorruptFormatException {
        byte[] b = new byte[buf.remaining()];
        buf.duplicate().get(b);
        Map<String, Object> m = FlatJson.parse(new String(b, StandardCharsets.UTF_8), source);
        try {
            long version = (Long) m.get("formatVersion");
            if (version != FORMAT_VERSION) {
                throw new CorruptFormatException(source + ": unsupported formatVersion " + version + " (this build reads " + FORMAT_VERSION + ")", source, 0);
            }
            return new VolumeMeta((String) m.get("name"), UUID.fromString((String) m.get("id")), (Long) m.get("size"),
                    Math.toIntExact((Long) m.get("blockSize")), Instant.parse((String) m.get("created")),
                    (String) m.get("state"), (String) m.get("parent"));
        } catch (RuntimeException e) {
            throw new CorruptFormatException(source + ": missing or malformed field (" + e + ")", source, 0);
        }
    }
}
