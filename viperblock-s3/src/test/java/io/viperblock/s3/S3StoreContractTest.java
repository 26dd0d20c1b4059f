package io.viperblock.s3;

import io.viperblock.core.store.ObjectStore;
import io.viperblock.core.store.ObjectStoreContract;

import org.junit.jupiter.api.extension.RegisterExtension;

/** The object store contract on a real s3proxy, each test on a fresh bucket, no key prefix. */
class S3StoreContractTest extends ObjectStoreContract {
    @RegisterExtension
    static final S3ProxyFixture proxy = S3ProxyFixture.perClass();

    @Override
    protected ObjectStore newStore() {
        return new S3Store(proxy.config(proxy.newBucket(), ""));
    }
}
