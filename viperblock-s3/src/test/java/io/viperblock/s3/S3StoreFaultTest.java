package io.viperblock.s3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.core.store.StoreFullException;
import io.viperblock.s3.S3ProxyFixture.Answer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Errors answered by the server in front of s3proxy: retries, their limit, and the mapping. */
class S3StoreFaultTest {
    @RegisterExtension
    static final S3ProxyFixture proxy = S3ProxyFixture.perClass();


    private static ByteBuffer bytes(String s) {
        return ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8));
    }

    /** Fails the first {@code n} requests for {@code key} with {@code answer}. */
    private static S3ProxyFixture.Fault first(int n, String key, Answer answer) {
        AtomicInteger left = new AtomicInteger(n);
        return (method, bucket, k, query) -> k.endsWith(key) && left.getAndDecrement() > 0 ? answer : null;
    }

    @Test
    void transientServerErrorsAreRetried() throws Exception {
        try (S3Store store = new S3Store(proxy.config(proxy.newBucket(), "").withMaxRetries(3))) {
            proxy.inject(first(2, "k", Answer.error(503, "SlowDown")));
            store.put("k", bytes("v"));
            proxy.inject(first(2, "k", Answer.error(500, "InternalError")));
            assertEquals("v", StandardCharsets.UTF_8.decode(store.get("k")).toString());
        }
    }

    @Test
    void retriesStopAtTheLimitWithAnErrorNamingOperationKeyAndBucket() throws Exception {
        String bucket = proxy.newBucket();
        try (S3Store store = new S3Store(proxy.config(bucket, "").withMaxRetries(2))) {
            proxy.inject((method, b, k, query) -> Answer.error(500, "InternalError"));
            int before = proxy.requests();
            IOException e = assertThrows(IOException.class, () -> store.put("some/key", bytes("v")));
            assertEquals(3, proxy.requests() - before, "one attempt and two retries");
            assertTrue(e.getMessage().contains("storing some/key") && e.getMessage().contains(bucket)
                    && e.getMessage().contains("500"), e.getMessage());
        }
    }

    @Test
    void insufficientStorageIsStoreFull() throws Exception {
        try (S3Store store = new S3Store(proxy.config(proxy.newBucket(), "").withMaxRetries(2))) {
            proxy.inject((method, b, k, query) -> "PUT".equals(method) ? Answer.error(507, "InsufficientStorage") : null);
            int before = proxy.requests();
            StoreFullException e = assertThrows(StoreFullException.class, () -> store.put("chunk/1", bytes("v")));
            System.out.println("507: " + (proxy.requests() - before) + " attempts; " + e.getMessage());
            assertTrue(e.getMessage().contains("chunk/1"), e.getMessage());
            assertInstanceOf(StoreFullException.class, assertThrows(IOException.class, () -> store.putIfAbsent("lease/1", bytes("v"))));
            proxy.inject((method, b, k, query) -> "PUT".equals(method) ? Answer.error(507, null) : null);
            assertThrows(StoreFullException.class, () -> store.put("chunk/2", bytes("v")), "507 without a body");
            proxy.inject((method, b, k, query) -> "PUT".equals(method) ? Answer.error(403, "QuotaExceeded") : null);
            assertThrows(StoreFullException.class, () -> store.put("chunk/3", bytes("v")), "a quota error");
        }
    }

    /**
     * The object is stored but the answer is lost (a 500): the SDK retries, the retry meets the
     * object and gets 412. It is our own object, so the conditional create succeeded.
     */
    @Test
    void aConditionalCreateWhoseAnswerWasLostStillWins() throws Exception {
        try (S3Store store = new S3Store(proxy.config(proxy.newBucket(), "").withMaxRetries(2))) {
            proxy.inject(first(1, "lease/7", Answer.lost(500, "InternalError")));
            assertTrue(store.putIfAbsent("lease/7", bytes("mine")));
            assertEquals("mine", StandardCharsets.UTF_8.decode(store.get("lease/7")).toString());
            // ... but another writer's object, met on a retry, is a loss
            store.delete("lease/8");
            proxy.inject((method, b, k, query) -> {
                if (k.endsWith("lease/8") && "PUT".equals(method) && proxy.blobStore().blobExists(b, k) == false) {
                    proxy.blobStore().putBlob(b, proxy.blobStore().blobBuilder(k).payload("theirs".getBytes(StandardCharsets.UTF_8)).build());
                    return Answer.error(503, "SlowDown");
                }
                return null;
            });
            assertFalse(store.putIfAbsent("lease/8", bytes("mine")));
            assertEquals("theirs", StandardCharsets.UTF_8.decode(store.get("lease/8")).toString());
        }
    }

    @Test
    void aDroppedConnectionIsRetriedBeforeAndAfterThePutWasStored() throws Exception {
        try (S3Store store = new S3Store(proxy.config(proxy.newBucket(), "").withMaxRetries(2))) {
            for (Answer drop : new Answer[] {Answer.drop(), Answer.dropAfterStore()}) {
                String key = "chunks/" + drop.kind();
                proxy.inject(first(1, key, drop));
                int before = proxy.requests();
                store.put(key, bytes("v-" + key));
                assertEquals(2, proxy.requests() - before, drop.kind() + ": the dropped attempt and its retry");
                proxy.inject(first(1, key, drop));
                assertEquals("v-" + key, StandardCharsets.UTF_8.decode(store.get(key)).toString(), "a GET whose connection dropped");
            }
            // a conditional create whose connection dropped after it was stored: the retry meets our own object
            proxy.inject(first(1, "lease/3", Answer.dropAfterStore()));
            assertTrue(store.putIfAbsent("lease/3", bytes("mine")));
            proxy.inject((method, b, k, query) -> Answer.drop());
            IOException e = assertThrows(IOException.class, () -> store.get("chunks/DROP"));
            assertTrue(e.getMessage().contains("reading chunks/DROP"), e.getMessage());
        }
    }

    @Test
    void anAnswerSlowerThanTheRequestTimeoutIsRetried() throws Exception {
        S3Config config = proxy.config(proxy.newBucket(), "").withTimeouts(java.time.Duration.ofSeconds(5), java.time.Duration.ofMillis(500))
                .withMaxRetries(2);
        try (S3Store store = new S3Store(config)) {
            store.put("k", bytes("v"));
            proxy.inject(first(1, "k", Answer.delay(java.time.Duration.ofMillis(100))));
            assertEquals("v", StandardCharsets.UTF_8.decode(store.get("k")).toString(), "a delay within the timeout");
            proxy.inject(first(1, "k", Answer.delay(java.time.Duration.ofMillis(1500))));
            int before = proxy.requests();
            long start = System.nanoTime();
            assertEquals("v", StandardCharsets.UTF_8.decode(store.get("k")).toString(), "after a timed-out attempt");
            assertEquals(2, proxy.requests() - before);
            assertTrue(System.nanoTime() - start < 1_400_000_000L, "the slow attempt was cut at the timeout");
        }
    }
}
