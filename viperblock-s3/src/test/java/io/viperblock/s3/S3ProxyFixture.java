package io.viperblock.s3;

import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

import java.io.IOException;
import java.lang.reflect.Field;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

import org.gaul.s3proxy.AuthenticationType;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.shaded.org.eclipse.jetty.server.Request;
import org.gaul.shaded.org.eclipse.jetty.server.Server;
import org.gaul.shaded.org.eclipse.jetty.server.handler.HandlerWrapper;
import org.jclouds.ContextBuilder;
import org.jclouds.blobstore.BlobStore;
import org.jclouds.blobstore.BlobStoreContext;

/**
 * A real s3proxy 2.6.0 in this JVM on 127.0.0.1 and an ephemeral port, over jclouds' in-memory
 * "transient" blob store, with AWS V2/V4 authentication.
 *
 * <p>s3proxy 2.6.0 ignores {@code If-None-Match: *} on PUT: it overwrites and answers 200
 * ({@link S3RawProxyTest} pins that down). With {@code conditionalWrites}, a Jetty handler in
 * front of s3proxy's own gives such PUTs S3's semantics: under one lock, 412 PreconditionFailed if
 * the object exists, else s3proxy stores it. (The 412 is answered before s3proxy checks the
 * signature; nothing here depends on that order.) The handler is inserted through the private
 * {@code server} field of {@link S3Proxy}, as s3proxy offers no hook for it.
 */
final class S3ProxyFixture implements AutoCloseable {
    static final String IDENTITY = "vb-test-access";
    static final String CREDENTIAL = "vb-test-secret-Zq9xK2";

    private static final AtomicInteger BUCKETS = new AtomicInteger();

    private final BlobStoreContext context;
    private final BlobStore blobStore;
    private final S3Proxy proxy;
    private final URI endpoint;

    private S3ProxyFixture(boolean conditionalWrites) throws Exception {
        context = ContextBuilder.newBuilder("transient")
                .credentials("unused", "unused")
                .build(BlobStoreContext.class);
        blobStore = context.getBlobStore();
        proxy = S3Proxy.builder()
                .blobStore(blobStore)
                .endpoint(URI.create("http://127.0.0.1:0"))
                .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, IDENTITY, CREDENTIAL)
                .build();
        if (conditionalWrites) {
            Field f = S3Proxy.class.getDeclaredField("server");
            f.setAccessible(true);
            ((Server) f.get(proxy)).insertHandler(new ConditionalPutHandler(blobStore));
        }
        proxy.start();
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!"STARTED".equals(proxy.getState())) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("s3proxy did not start: " + proxy.getState());
            }
            Thread.sleep(5);
        }
        endpoint = URI.create("http://127.0.0.1:" + proxy.getPort());
    }

    /** s3proxy with S3's conditional-create semantics added in front. */
    static S3ProxyFixture start() throws Exception {
        return new S3ProxyFixture(true);
    }

    /** s3proxy exactly as released. */
    static S3ProxyFixture startRaw() throws Exception {
        return new S3ProxyFixture(false);
    }

    URI endpoint() {
        return endpoint;
    }

    BlobStore blobStore() {
        return blobStore;
    }

    /** Creates a new, empty bucket and returns its name. */
    String newBucket() {
        String name = "vb-test-" + BUCKETS.incrementAndGet();
        blobStore.createContainerInLocation(null, name);
        return name;
    }

    S3Config config(String bucket, String prefix) {
        return S3Config.of(bucket, prefix, endpoint, "us-east-1", IDENTITY, CREDENTIAL, true)
                .withTimeouts(Duration.ofSeconds(5), Duration.ofSeconds(30))
                .withMaxRetries(2);
    }

    @Override
    public void close() throws Exception {
        try {
            proxy.stop();
        } finally {
            context.close();
        }
    }

    /** If-None-Match: * on PUT, which s3proxy 2.6.0 ignores. Path-style requests only. */
    private static final class ConditionalPutHandler extends HandlerWrapper {
        private final BlobStore blobStore;
        private final Object lock = new Object();

        ConditionalPutHandler(BlobStore blobStore) {
            this.blobStore = blobStore;
        }

        @Override
        public void handle(String target, Request baseRequest, HttpServletRequest request, HttpServletResponse response)
                throws IOException, ServletException {
            if (!"PUT".equals(request.getMethod()) || !"*".equals(request.getHeader("If-None-Match"))) {
                super.handle(target, baseRequest, request, response);
                return;
            }
            String path = request.getRequestURI().substring(1);
            int slash = path.indexOf('/');
            String bucket = URLDecoder.decode(path.substring(0, slash), StandardCharsets.UTF_8);
            String key = URLDecoder.decode(path.substring(slash + 1), StandardCharsets.UTF_8);
            synchronized (lock) {
                if (blobStore.blobExists(bucket, key)) {
                    response.setStatus(412);
                    response.setContentType("application/xml");
                    response.getOutputStream().write(("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>PreconditionFailed</Code>"
                            + "<Message>At least one of the pre-conditions you specified did not hold</Message>"
                            + "<Condition>If-None-Match</Condition></Error>").getBytes(StandardCharsets.UTF_8));
                    baseRequest.setHandled(true);
                    return;
                }
                super.handle(target, baseRequest, request, response);
            }
        }
    }
}
