package io.viperblock.s3;

import io.viperblock.core.store.ObjectStore;
import io.viperblock.core.store.ObjectStoreContract;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The object store contract on one shared bucket, each test under its own key prefix, with other
 * objects around the prefix (before and after it in key order, and one that extends it without a
 * '/') that the store must never see.
 */
class S3StorePrefixedContractTest extends ObjectStoreContract {
    @RegisterExtension
    static final S3ProxyFixture proxy = S3ProxyFixture.perClass();
    static String bucket;
    static final AtomicInteger TESTS = new AtomicInteger();

    @BeforeAll
    static void newBucket() {
        bucket = proxy.newBucket();
    }

    @Override
    protected ObjectStore newStore() throws Exception {
        String prefix = "tenant/t" + TESTS.incrementAndGet() + "/";
        try (S3Store outside = new S3Store(proxy.config(bucket, ""))) {
            for (String k : new String[] {"tenant/a", prefix.substring(0, prefix.length() - 1), prefix.substring(0, prefix.length() - 1) + "x/a",
                    prefix.substring(0, prefix.length() - 1) + ".b", "zzz/after"}) {
                outside.put(k, ByteBuffer.wrap(new byte[] {1}));
            }
        }
        return new S3Store(proxy.config(bucket, prefix));
    }
}
