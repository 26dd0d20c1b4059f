package io.viperblock.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.core.store.ObjectStore;
import io.viperblock.s3.S3Store;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The s3:// branch of the store URI parser (no request is sent). */
class StoreUriTest {
    @Test
    void s3UriWithKeysInTheEnvironmentOpensAnS3Store() throws Exception {
        Map<String, String> env = Map.of("AWS_ACCESS_KEY_ID", "AKID", "AWS_SECRET_ACCESS_KEY", "TOPSECRET",
                "AWS_ENDPOINT_URL", "http://127.0.0.1:9000");
        try (ObjectStore s = StoreUri.open("s3://bkt/vb", env)) {
            S3Store s3 = assertInstanceOf(S3Store.class, s);
            assertEquals("s3://bkt/vb/ (endpoint http://127.0.0.1:9000)", s3.describe());
            assertFalse(s3.toString().contains("TOPSECRET"));
        }
    }

    @Test
    void s3UriWithoutKeysSaysWhatToSet() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> StoreUri.open("s3://bkt/vb", Map.of()));
        assertTrue(e.getMessage().contains("AWS_ACCESS_KEY_ID") && e.getMessage().contains("AWS_SECRET_ACCESS_KEY"), e.getMessage());
    }
}
