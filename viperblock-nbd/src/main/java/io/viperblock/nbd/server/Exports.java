package io.viperblock.nbd.server;

import io.viperblock.core.volume.Volume;
import java.util.List;

/**
 * The volumes a server offers, by export name (= volume name). Implementations are thread-safe.
 */
public interface Exports {
    /** The open volume exported under {@code name}, or null. */
    Volume find(String name);

    /** Every export name, sorted. */
    List<String> names();

    /** The export an empty name selects (NBD's default export), or null if there is none. */
    default String defaultName() {
        List<String> n = names();
        return n.size() == 1 ? n.get(0) : null;
    }
}
