package io.viperblock.s3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.viperblock.core.store.StoreFullException;
import io.viperblock.core.testing.Seeds;
import io.viperblock.s3.S3ProxyFixture.Answer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Objects above the multipart threshold (lowered to 5 MiB here, with 5 MiB parts) against a real
 * s3proxy: byte-for-byte round trips, ranges across part boundaries, and failed uploads that
 * leave neither an object nor an upload in progress.
 */
class S3MultipartTest {
    static final int PART = S3Config.MIN_PART_SIZE;

    @RegisterExtension
    static final S3ProxyFixture proxy = S3ProxyFixture.perClass();


    private static S3Store store(String prefix) {
        return new S3Store(proxy.config(proxy.newBucket(), prefix).withMultipart(PART, PART));
    }

    private static byte[] random(SplittableRandom rnd, int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }

    /** Records the method and query of every request, serving all of them. */
    private static List<String> watch() {
        List<String> seen = new CopyOnWriteArrayList<>();
        proxy.inject((method, bucket, key, query) -> {
            seen.add(method + " " + query);
            return null;
        });
        return seen;
    }

    private static long count(List<String> seen, String what) {
        return seen.stream().filter(r -> r.contains(what)).count();
    }

    private static List<String> uploadsInProgress(S3Store store) {
        return store.client().listMultipartUploads(b -> b.bucket(store.config().bucket())).uploads().stream()
                .map(u -> u.key() + " " + u.uploadId()).toList();
    }

    @Test
    void aLargeObjectRoundTripsAndRangesCrossPartBoundaries() throws Exception {
        SplittableRandom rnd = Seeds.random("aLargeObjectRoundTripsAndRangesCrossPartBoundaries");
        byte[] data = random(rnd, 3 * PART + 12345); // three whole parts and a short last one
        try (S3Store store = store("mp/")) {
            List<String> seen = watch();
            ByteBuffer direct = ByteBuffer.allocateDirect(data.length + 100).position(100);
            direct.put(data).position(100);
            store.put("map/checkpoint-1", direct);
            assertEquals(100, direct.position(), "put must not consume the caller's buffer");
            assertEquals(1, count(seen, "POST uploads"), "one CreateMultipartUpload: " + seen);
            assertEquals(4, count(seen, "partNumber="), "four UploadParts: " + seen);
            assertEquals(1, seen.stream().filter(r -> r.startsWith("POST uploadId=")).count(), "one Complete: " + seen);
            proxy.inject(null);

            assertEquals(ByteBuffer.wrap(data), store.get("map/checkpoint-1"));
            assertEquals(Optional.of((long) data.length), store.head("map/checkpoint-1").map(i -> i.size()));
            for (long boundary : new long[] {PART, 2L * PART, 3L * PART}) {
                assertEquals(ByteBuffer.wrap(data, (int) boundary - 4096, 8192), store.get("map/checkpoint-1", boundary - 4096, 8192),
                        "8 KiB across the boundary at " + boundary);
                assertEquals(ByteBuffer.wrap(data, (int) boundary - 1, 2), store.get("map/checkpoint-1", boundary - 1, 2));
            }
            for (int i = 0; i < 20; i++) {
                int len = 1 + rnd.nextInt(2 * PART);
                int off = rnd.nextInt(data.length);
                int expect = Math.min(len, data.length - off);
                ByteBuffer dst = ByteBuffer.allocateDirect(len);
                assertEquals(expect, store.read("map/checkpoint-1", off, dst), "read of " + len + " at " + off);
                assertEquals(ByteBuffer.wrap(data, off, expect), dst.flip(), "read of " + len + " at " + off);
            }
            assertEquals(List.of(), uploadsInProgress(store));
        }
    }

    @Test
    void anObjectAtTheThresholdIsOnePut() throws Exception {
        byte[] data = random(new SplittableRandom(7), PART);
        try (S3Store store = store("")) {
            List<String> seen = watch();
            store.put("chunks/1", ByteBuffer.wrap(data));
            assertEquals(List.of("PUT "), seen);
            proxy.inject(null);
            assertEquals(ByteBuffer.wrap(data), store.get("chunks/1"));
        }
    }

    @Test
    void aFailedPartFailsThePutAndLeavesNoObjectAndNoUpload() throws Exception {
        byte[] old = random(new SplittableRandom(1), 1000);
        byte[] data = random(new SplittableRandom(2), 2 * PART + 1);
        try (S3Store store = store("p/")) {
            store.put("map/big", ByteBuffer.wrap(old));
            // the check below can see an upload left in progress
            String bkt = store.config().bucket();
            String id = store.client().createMultipartUpload(b -> b.bucket(bkt).key("p/left")).uploadId();
            assertEquals(List.of("p/left " + id), uploadsInProgress(store));
            store.client().abortMultipartUpload(b -> b.bucket(bkt).key("p/left").uploadId(id));
            assertEquals(List.of(), uploadsInProgress(store));

            // the second part fails on every attempt
            proxy.inject((method, bucket, key, query) -> query.contains("partNumber=2") ? Answer.error(500, "InternalError") : null);
            IOException e = assertThrows(IOException.class, () -> store.put("map/big", ByteBuffer.wrap(data)));
            assertTrue(e.getMessage().contains("storing map/big") && e.getMessage().contains("500"), e.getMessage());
            proxy.inject(null);
            assertEquals(ByteBuffer.wrap(old), store.get("map/big"), "a failed put leaves the old object");
            assertEquals(List.of(), uploadsInProgress(store), "the failed upload was aborted");

            proxy.inject((method, bucket, key, query) -> query.contains("partNumber=1") ? Answer.error(500, "InternalError") : null);
            assertThrows(IOException.class, () -> store.put("map/new", ByteBuffer.wrap(data)));
            proxy.inject(null);
            assertEquals(Optional.empty(), store.head("map/new"));
            assertEquals(List.of(), uploadsInProgress(store));
        }
    }

    @Test
    void aFailedCompleteLeavesNoObjectAndNoUpload() throws Exception {
        IOException e = failedUpload((method, bucket, key, query) -> "POST".equals(method) && query.startsWith("uploadId=")
                ? Answer.error(500, "InternalError") : null);
        assertTrue(e.getMessage().contains("500"), e.getMessage());
    }

    @Test
    void insufficientStorageOnAPartIsStoreFull() throws Exception {
        IOException e = failedUpload((method, bucket, key, query) -> query.contains("partNumber=")
                ? Answer.error(507, "InsufficientStorage") : null);
        assertTrue(e instanceof StoreFullException && e.getMessage().contains("map/f"), e.toString());
    }

    /** A put of two parts under {@code fault} fails, and leaves no object and no upload. */
    private static IOException failedUpload(S3ProxyFixture.Fault fault) throws Exception {
        byte[] data = random(new SplittableRandom(3), PART + 1);
        try (S3Store store = store("")) {
            proxy.inject(fault);
            IOException e = assertThrows(IOException.class, () -> store.put("map/f", ByteBuffer.wrap(data)));
            proxy.inject(null);
            assertEquals(Optional.empty(), store.head("map/f"));
            assertEquals(List.of(), uploadsInProgress(store));
            return e;
        }
    }

    @Test
    void transientPartErrorsAreRetried() throws Exception {
        byte[] data = random(new SplittableRandom(5), 2 * PART + 7);
        try (S3Store store = store("")) {
            java.util.concurrent.atomic.AtomicInteger left = new java.util.concurrent.atomic.AtomicInteger(2);
            proxy.inject((method, bucket, key, query) -> query.contains("partNumber=2") && left.getAndDecrement() > 0
                    ? Answer.error(503, "SlowDown") : null);
            store.put("map/r", ByteBuffer.wrap(data));
            proxy.inject(null);
            assertEquals(ByteBuffer.wrap(data), store.get("map/r"));
        }
    }

    @Test
    void partSizeAndThresholdAreValidated() {
        S3Config c = proxy.config("b", "");
        assertEquals(64L << 20, c.multipartThreshold());
        assertEquals(16 << 20, c.partSize());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> c.withMultipart(64 << 20, PART - 1));
        assertTrue(e.getMessage().contains("partSize") && e.getMessage().contains("5 MiB"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> c.withMultipart(0, PART));
        assertTrue(e.getMessage().contains("multipartThreshold"), e.getMessage());
        assertTrue(c.withMultipart(1 << 20, PART).toString().contains("partSize=" + PART));
    }
}
