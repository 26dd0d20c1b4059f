package io.viperblock.cli;

import io.viperblock.core.store.FileStore;
import io.viperblock.core.store.MemoryStore;
import io.viperblock.core.store.ObjectStore;
import java.io.IOException;
import java.nio.file.Path;

/** Turns a {@code --store} URI into a store: {@code file:/path}, {@code mem:}. Stateless. */
final class StoreUri {
    private StoreUri() {}

    static ObjectStore open(String uri) throws IOException {
        if (uri.equals("mem:")) {
            return new MemoryStore();
        }
        if (uri.startsWith("file:")) {
            String path = uri.substring("file:".length());
            if (path.startsWith("//")) {
                path = path.substring(2);
            }
            if (path.isEmpty()) {
                throw new IllegalArgumentException("store URI \"" + uri + "\" names no directory; use file:/path/to/dir");
            }
            return new FileStore(Path.of(path).toAbsolutePath().normalize());
        }
        if (uri.startsWith("s3://")) {
            throw new IllegalArgumentException("store URI \"" + uri + "\": the S3 store is not part of this build yet; use file:/path or mem:");
        }
        throw new IllegalArgumentException("unknown store URI \"" + uri + "\": use file:/path/to/dir or mem:");
    }
}
