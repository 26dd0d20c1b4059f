package io.viperblock.s3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

/**
 * What s3proxy 2.6.0, as released, does with a conditional create. If this test starts failing
 * because s3proxy answers 412, s3proxy has learned If-None-Match on PUT: drop the handler in
 * {@link S3ProxyFixture} and use the raw proxy everywhere.
 */
class S3RawProxyTest {

    @Test
    void s3proxyIgnoresIfNoneMatchOnPutAndOverwrites() throws Exception {
        try (S3ProxyFixture proxy = S3ProxyFixture.startRaw();
                S3Store store = new S3Store(proxy.config(proxy.newBucket(), ""))) {
            assertTrue(store.putIfAbsent("lease/1", bytes("first")));
            boolean second = store.putIfAbsent("lease/1", bytes("second"));
            String now = StandardCharsets.UTF_8.decode(store.get("lease/1")).toString();
            System.out.println("s3proxy 2.6.0 raw: second putIfAbsent returned " + second + ", object now \"" + now + "\"");
            assertTrue(second, "s3proxy answered the second conditional PUT with 412: it supports If-None-Match now");
            assertEquals("second", now, "s3proxy overwrote the object despite If-None-Match: *");
        }
    }

    private static ByteBuffer bytes(String s) {
        return ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8));
    }
}
