package io.viperblock.s3;

import io.viperblock.core.store.ObjectStore;
import io.viperblock.core.store.ObjectStoreContract;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** The object store contract on a real s3proxy, each test on a fresh bucket, no key prefix. */
class S3StoreContractTest extends ObjectStoreContract {
    static S3ProxyFixture proxy;

    @BeforeAll
    static void startProxy() throws Exception {
        proxy = S3ProxyFixture.start();
    }

    @AfterAll
    static void stopProxy() throws Exception {
        proxy.close();
    }

    @Override
    protected ObjectStore newStore() {
        return new S3Store(proxy.config(proxy.newBucket(), ""));
    }
}
