package io.viperblock.s3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.core.store.NoSuchObjectException;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** S3-specific behaviour: credentials, errors, descriptions, configuration from a URI. */
class S3StoreTest {
    @RegisterExtension
    static final S3ProxyFixture proxy = S3ProxyFixture.perClass();


    private static String everything(Throwable t) {
        StringWriter w = new StringWriter();
        t.printStackTrace(new PrintWriter(w));
        return w.toString();
    }

    @Test
    void aWrongSecretFailsAtTheFirstRequestWithOneClearMessageAndNoSecret() throws Exception {
        String bucket = proxy.newBucket();
        String wrongSecret = "wrong-secret-Pq7Rt5Xy";
        S3Config config = proxy.config(bucket, "vb/").withSecretKey(wrongSecret);
        try (S3Store store = new S3Store(config)) {
            assertFalse(store.describe().contains(wrongSecret));
            assertFalse(store.toString().contains(wrongSecret));
            assertFalse(config.toString().contains(wrongSecret), config.toString());
            for (ThrowingRequest r : new ThrowingRequest[] {
                    () -> store.put("k", ByteBuffer.wrap(new byte[] {1})),
                    () -> store.get("k"),
                    () -> store.head("k"),
                    () -> store.list(""),
                    () -> store.putIfAbsent("k2", ByteBuffer.wrap(new byte[] {1})),
                    () -> store.delete("k")}) {
                IOException e = assertThrows(IOException.class, r::run);
                String msg = e.getMessage();
                System.out.println("wrong secret: " + msg);
                assertTrue(msg.contains(bucket), msg);
                assertTrue(msg.contains(proxy.endpoint().toString()), msg);
                assertTrue(msg.contains("check the credentials"), msg);
                assertFalse(everything(e).contains(wrongSecret), "the secret appears in the exception: " + everything(e));
                assertFalse(everything(e).contains(S3ProxyFixture.CREDENTIAL));
            }
        }
    }

    @Test
    void aWrongSecretReachesTheVolumeManagerAsTheSameMessage(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) throws Exception {
        String bucket = proxy.newBucket();
        try (S3Store store = new S3Store(proxy.config(bucket, "").withSecretKey("wrong-secret-Pq7Rt5Xy"))) {
            var mgr = new io.viperblock.core.volume.VolumeManager(store, tmp);
            IOException e = assertThrows(IOException.class, () -> mgr.create("vol", 1 << 20));
            System.out.println("create with a wrong secret: " + e);
            assertTrue(e.getMessage().contains("check the credentials") && e.getMessage().contains(bucket), e.getMessage());
            assertFalse(everything(e).contains("wrong-secret-Pq7Rt5Xy"));
        }
    }

    interface ThrowingRequest {
        void run() throws Exception;
    }

    @Test
    void aWrongAccessKeyIsACredentialsError() throws Exception {
        S3Config good = proxy.config(proxy.newBucket(), "");
        S3Config bad = new S3Config(good.bucket(), "", good.endpoint(), good.region(), "no-such-key", good.secretKey(),
                true, good.connectTimeout(), good.requestTimeout(), 0);
        try (S3Store store = new S3Store(bad)) {
            IOException e = assertThrows(IOException.class, () -> store.get("k"));
            assertTrue(e.getMessage().contains("check the credentials"), e.getMessage());
            assertFalse(everything(e).contains(good.secretKey()));
        }
    }

    @Test
    void aMissingBucketIsNamed() throws Exception {
        try (S3Store store = new S3Store(proxy.config("no-such-bucket", ""))) {
            IOException e = assertThrows(IOException.class, () -> store.put("k", ByteBuffer.wrap(new byte[] {1})));
            assertFalse(e instanceof NoSuchObjectException, e.toString());
            assertTrue(e.getMessage().contains("no-such-bucket") && e.getMessage().contains("does not exist"), e.getMessage());
            // a HEAD answer has no body, so a missing bucket's 404 cannot be told from a missing
            // object's: head() says empty; every other operation names the bucket
            assertEquals(Optional.empty(), store.head("k"));
            IOException l = assertThrows(IOException.class, () -> store.list(""));
            assertTrue(l.getMessage().contains("no-such-bucket") && l.getMessage().contains("does not exist"), l.getMessage());
            IOException g = assertThrows(IOException.class, () -> store.get("k"));
            assertFalse(g instanceof NoSuchObjectException, "a missing bucket is not a missing object: " + g);
        }
    }

    @Test
    void anUnreachableEndpointIsAnIOExceptionNamingIt() throws Exception {
        S3Config config = S3Config.of("bucket", "", URI.create("http://127.0.0.1:1"), null, "a", "s3cr3t-value", true)
                .withMaxRetries(0);
        try (S3Store store = new S3Store(config)) {
            IOException e = assertThrows(IOException.class, () -> store.get("k"));
            assertTrue(e.getMessage().contains("127.0.0.1:1") && e.getMessage().contains("bucket"), e.getMessage());
            assertFalse(everything(e).contains("s3cr3t-value"));
        }
    }

    @Test
    void describeNamesBucketPrefixAndEndpoint() {
        try (S3Store store = new S3Store(proxy.config("some-bucket", "vb/x/"))) {
            assertEquals("s3://some-bucket/vb/x/ (endpoint " + proxy.endpoint() + ")", store.describe());
        }
    }

    @Test
    void putIfAbsentTwiceOnTheSameKey() throws Exception {
        try (S3Store store = new S3Store(proxy.config(proxy.newBucket(), "p/"))) {
            assertTrue(store.putIfAbsent("lease/1", ByteBuffer.wrap("first".getBytes(StandardCharsets.UTF_8))));
            assertFalse(store.putIfAbsent("lease/1", ByteBuffer.wrap("second".getBytes(StandardCharsets.UTF_8))));
            assertEquals("first", StandardCharsets.UTF_8.decode(store.get("lease/1")).toString());
            assertEquals(Optional.of(5L), store.head("lease/1").map(i -> i.size()));
        }
    }

    @Test
    void largeObjectsAndRanges() throws Exception {
        byte[] data = new byte[(4 << 20) + 123];
        new java.util.Random(42).nextBytes(data);
        try (S3Store store = new S3Store(proxy.config(proxy.newBucket(), ""))) {
            store.put("chunk", ByteBuffer.wrap(data));
            assertEquals(ByteBuffer.wrap(data), store.get("chunk"));
            assertEquals(ByteBuffer.wrap(data, 4096 * 3, 8192), store.get("chunk", 4096 * 3, 8192));
            assertEquals(ByteBuffer.wrap(data, data.length - 10, 10), store.get("chunk", data.length - 10, 4096));
            assertEquals(0, store.get("chunk", data.length, 1).remaining());
            assertEquals(0, store.get("chunk", Long.MAX_VALUE - 1, 4096).remaining());
        }
    }

    // ---- S3Config.fromUri

    private static final Map<String, String> KEYS = Map.of("AWS_ACCESS_KEY_ID", "AKID", "AWS_SECRET_ACCESS_KEY", "SECRET1");

    @Test
    void fromUriWithEndpointAndKeys() {
        S3Config c = S3Config.fromUri("s3://my-bucket/vb/volumes", with(KEYS, "AWS_ENDPOINT_URL", "http://minio:9000", "AWS_REGION", "eu-west-1"));
        assertEquals("my-bucket", c.bucket());
        assertEquals("vb/volumes/", c.prefix());
        assertEquals(URI.create("http://minio:9000"), c.endpoint());
        assertEquals("eu-west-1", c.region());
        assertEquals("AKID", c.accessKey());
        assertEquals("SECRET1", c.secretKey());
        assertTrue(c.pathStyle());
        assertFalse(c.toString().contains("SECRET1"), c.toString());
        assertFalse(c.describe().contains("SECRET1"));
    }

    @Test
    void fromUriDefaultsAndAlternativeNames() {
        S3Config c = S3Config.fromUri("s3://bkt", Map.of("AWS_ACCESS_KEY", "A", "AWS_SECRET_KEY", "S", "AWS_HOST", "s3.example.com:8443"));
        assertEquals("", c.prefix());
        assertEquals(URI.create("https://s3.example.com:8443"), c.endpoint());
        assertEquals("us-east-1", c.region());
        assertEquals("A", c.accessKey());
        assertEquals("S", c.secretKey());

        S3Config aws = S3Config.fromUri("s3://bkt/p/", KEYS);
        assertNull(aws.endpoint());
        assertFalse(aws.pathStyle());
        assertEquals("p/", aws.prefix());

        S3Config fromEnvBucket = S3Config.fromUri("s3://", with(KEYS, "AWS_BUCKET", "env-bucket"));
        assertEquals("env-bucket", fromEnvBucket.bucket());
        assertEquals("x/", S3Config.fromUri("s3:///x", with(KEYS, "AWS_BUCKET", "env-bucket")).prefix());
    }

    @Test
    void fromUriTakesTimeoutsAndRetriesFromTheEnvironment() {
        S3Config d = S3Config.fromUri("s3://bkt/p", KEYS);
        assertEquals(S3Config.DEFAULT_CONNECT_TIMEOUT, d.connectTimeout());
        assertEquals(S3Config.DEFAULT_REQUEST_TIMEOUT, d.requestTimeout());
        assertEquals(S3Config.DEFAULT_MAX_RETRIES, d.maxRetries());
        S3Config c = S3Config.fromUri("s3://bkt/p", with(KEYS, "VB_S3_CONNECT_TIMEOUT", "500ms", "VB_S3_REQUEST_TIMEOUT", "2m", "VB_S3_MAX_RETRIES", "0"));
        assertEquals(java.time.Duration.ofMillis(500), c.connectTimeout());
        assertEquals(java.time.Duration.ofMinutes(2), c.requestTimeout());
        assertEquals(0, c.maxRetries());
        for (String bad : new String[] {"0s", "10", "5h", "-1s", "1.5s"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> S3Config.fromUri("s3://bkt/p", with(KEYS, "VB_S3_REQUEST_TIMEOUT", bad)));
            assertTrue(e.getMessage().startsWith("VB_S3_REQUEST_TIMEOUT=" + bad + " is not a timeout"), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> S3Config.fromUri("s3://bkt/p", with(KEYS, "VB_S3_MAX_RETRIES", "many")));
    }

    @Test
    void fromUriRejectsWhatItCannotUse() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> S3Config.fromUri("s3://bkt/p", Map.of("AWS_ACCESS_KEY_ID", "A")));
        assertTrue(e.getMessage().contains("AWS_SECRET_ACCESS_KEY") && e.getMessage().contains("AWS_ACCESS_KEY_ID"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> S3Config.fromUri("s3://bkt/p", Map.of()));
        assertTrue(e.getMessage().contains("AWS_SECRET_ACCESS_KEY"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> S3Config.fromUri("s3://", KEYS));
        assertTrue(e.getMessage().contains("AWS_BUCKET"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> S3Config.fromUri("file:/x", KEYS));
        assertThrows(IllegalArgumentException.class, () -> S3Config.fromUri("s3://Bad_Bucket/x", KEYS));
        assertThrows(IllegalArgumentException.class, () -> S3Config.fromUri("s3://bkt/a//b", KEYS));
        assertThrows(IllegalArgumentException.class, () -> S3Config.fromUri("s3://bkt/../b", KEYS));
        e = assertThrows(IllegalArgumentException.class,
                () -> S3Config.fromUri("s3://bkt/p", with(KEYS, "AWS_ENDPOINT_URL", "ftp://x")));
        assertFalse(e.getMessage().contains("SECRET1"), e.getMessage());
    }

    private static Map<String, String> with(Map<String, String> base, String... kv) {
        java.util.HashMap<String, String> m = new java.util.HashMap<>(base);
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return m;
    }

    @Test
    void storeFullIsAStoreFullException() {
        // 507 from a real server needs fault injection (later); the mapping itself:
        try (S3Store store = new S3Store(proxy.config("b-full", ""))) {
            var e = software.amazon.awssdk.services.s3.model.S3Exception.builder().statusCode(507)
                    .awsErrorDetails(software.amazon.awssdk.awscore.exception.AwsErrorDetails.builder()
                            .errorCode("InsufficientStorage").errorMessage("Insufficient Storage").build())
                    .build();
            assertInstanceOf(io.viperblock.core.store.StoreFullException.class, store.translate("storing", "k", e));
            var quota = software.amazon.awssdk.services.s3.model.S3Exception.builder().statusCode(403)
                    .awsErrorDetails(software.amazon.awssdk.awscore.exception.AwsErrorDetails.builder()
                            .errorCode("QuotaExceeded").errorMessage("Bucket quota exceeded").build())
                    .build();
            assertInstanceOf(io.viperblock.core.store.StoreFullException.class, store.translate("storing", "k", quota));
        }
    }
}
