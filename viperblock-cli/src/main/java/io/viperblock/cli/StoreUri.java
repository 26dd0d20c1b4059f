package io.viperblock.cli;

import io.viperblock.core.store.FileStore;
import io.viperblock.core.store.MemoryStore;
import io.viperblock.core.store.ObjectStore;
import io.viperblock.s3.S3Config;
import io.viperblock.s3.S3Store;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * Turns a {@code --store} URI into a store: {@code file:/path}, {@code mem:}, {@code s3://bucket/prefix}
 * (endpoint, region and keys from the environment, see {@link S3Config#fromUri}). Stateless.
 */
public final class StoreUri {
    private StoreUri() {}

    public static ObjectStore open(String uri) throws IOException {
        return open(uri, System.getenv());
    }

    static ObjectStore open(String uri, Map<String, String> env) throws IOException {
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
            return new S3Store(S3Config.fromUri(uri, env));
        }
        throw new IllegalArgumentException("unknown store URI \"" + uri + "\": use file:/path/to/dir, s3://bucket/prefix or mem:");
    }
}
