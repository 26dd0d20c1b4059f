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
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A real s3proxy 2.6.0 in this JVM on 127.0.0.1 and an ephemeral port, over jclouds' in-memory
 * "transient" blob store, with AWS V2/V4 authentication.
 *
 * <p>A handler in front of s3proxy's own meets chosen requests with faults ({@link #inject}):
 * errors, lost answers, delays and dropped connections (see {@link Kind}); it counts requests.
 *
 * <p>s3proxy 2.6.0 ignores {@code If-None-Match: *} on PUT: it overwrites and answers 200
 * ({@link S3RawProxyTest} pins that down). Unless started raw, the handler gives such PUTs S3's
 * semantics: under one lock, 412 PreconditionFailed if
 * the object exists, else s3proxy stores it. (The 412 is answered before s3proxy checks the
 * signature, and injected faults before it too; nothing here depends on that order.) The handler is inserted through the private
 * {@code server} field of {@link S3Proxy}, as s3proxy offers no hook for it.
 */
public final class S3ProxyFixture implements AutoCloseable, BeforeAllCallback, AfterEachCallback, AfterAllCallback {
    public static final String IDENTITY = "vb-test-access";
    public static final String CREDENTIAL = "vb-test-secret-Zq9xK2";

    private static final AtomicInteger BUCKETS = new AtomicInteger();

    private final boolean conditionalWrites;
    private BlobStoreContext context;
    private BlobStore blobStore;
    private S3Proxy proxy;
    private URI endpoint;
    private FixtureHandler handler;

    private S3ProxyFixture(boolean conditionalWrites) {
        this.conditionalWrites = conditionalWrites;
    }

    private S3ProxyFixture startNow() throws Exception {
        context = ContextBuilder.newBuilder("transient")
                .credentials("unused", "unused")
                .build(BlobStoreContext.class);
        blobStore = context.getBlobStore();
        proxy = S3Proxy.builder()
                .blobStore(blobStore)
                .endpoint(URI.create("http://127.0.0.1:0"))
                .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, IDENTITY, CREDENTIAL)
                .build();
        handler = new FixtureHandler(blobStore, conditionalWrites);
        Field f = S3Proxy.class.getDeclaredField("server");
        f.setAccessible(true);
        ((Server) f.get(proxy)).insertHandler(handler);
        proxy.start();
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!"STARTED".equals(proxy.getState())) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("s3proxy did not start: " + proxy.getState());
            }
            Thread.sleep(5);
        }
        endpoint = URI.create("http://127.0.0.1:" + proxy.getPort());
        return this;
    }

    /** s3proxy with S3's conditional-create semantics added in front. */
    public static S3ProxyFixture start() throws Exception {
        return new S3ProxyFixture(true).startNow();
    }

    /** s3proxy exactly as released. */
    public static S3ProxyFixture startRaw() throws Exception {
        return new S3ProxyFixture(false).startNow();
    }

    /**
     * A fixture for {@code @RegisterExtension static final}: started before the class's tests,
     * stopped after them; each test's injected fault is cleared after it.
     */
    public static S3ProxyFixture perClass() {
        return new S3ProxyFixture(true);
    }

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        startNow();
    }

    @Override
    public void afterEach(ExtensionContext context) {
        inject(null);
    }

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        close();
    }

    public URI endpoint() {
        return endpoint;
    }

    public BlobStore blobStore() {
        return blobStore;
    }

    /** Creates a new, empty bucket and returns its name. */
    public String newBucket() {
        String name = "vb-test-" + BUCKETS.incrementAndGet();
        blobStore.createContainerInLocation(null, name);
        return name;
    }

    /** Answers requests with errors chosen by {@code fault}, or clears it (null). */
    public void inject(Fault fault) {
        handler.fault = fault;
    }

    /** Requests that reached this proxy (with or without an injected fault). */
    public int requests() {
        return handler.requests.get();
    }

    /** A fault to meet a request with. */
    public interface Fault {
        /**
         * The answer for this request, or null to serve it.
         *
         * @param query the URL's query string, e.g. {@code partNumber=2&uploadId=...} for an
         *              UploadPart; empty if none
         */
        Answer answer(String method, String bucket, String key, String query);
    }

    /** What the handler does instead of (or before) letting s3proxy answer. */
    public enum Kind {
        /** answer with an error */
        ERROR,
        /** let s3proxy serve the request (a PUT is stored), then answer with an error: a lost answer */
        LOST,
        /** wait, then let s3proxy serve the request */
        DELAY,
        /** close the TCP connection without an answer, before s3proxy sees the request */
        DROP,
        /** let s3proxy serve the request (a PUT is stored), then close the connection without an answer */
        DROP_AFTER_STORE
    }

    /**
     * @param status the HTTP status of {@link Kind#ERROR} and {@link Kind#LOST}
     * @param code   their S3 error code, or null for no body
     * @param delay  the wait of {@link Kind#DELAY}
     */
    public record Answer(Kind kind, int status, String code, Duration delay) {
        public static Answer error(int status, String code) {
            return new Answer(Kind.ERROR, status, code, Duration.ZERO);
        }

        public static Answer lost(int status, String code) {
            return new Answer(Kind.LOST, status, code, Duration.ZERO);
        }

        public static Answer delay(Duration delay) {
            return new Answer(Kind.DELAY, 0, null, delay);
        }

        public static Answer drop() {
            return new Answer(Kind.DROP, 0, null, Duration.ZERO);
        }

        public static Answer dropAfterStore() {
            return new Answer(Kind.DROP_AFTER_STORE, 0, null, Duration.ZERO);
        }
    }

    public S3Config config(String bucket, String prefix) {
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

    /**
     * In front of s3proxy: injected faults, and If-None-Match: * on PUT (which s3proxy 2.6.0
     * ignores) when asked for. Path-style requests only.
     */
    private static final class FixtureHandler extends HandlerWrapper {
        private final BlobStore blobStore;
        private final boolean conditionalWrites;
        private final Object lock = new Object();
        final java.util.concurrent.atomic.AtomicInteger requests = new java.util.concurrent.atomic.AtomicInteger();
        volatile Fault fault;

        FixtureHandler(BlobStore blobStore, boolean conditionalWrites) {
            this.blobStore = blobStore;
            this.conditionalWrites = conditionalWrites;
        }

        @Override
        public void handle(String target, Request baseRequest, HttpServletRequest request, HttpServletResponse response)
                throws IOException, ServletException {
            requests.incrementAndGet();
            String path = request.getRequestURI().substring(1);
            int slash = path.indexOf('/');
            String bucket = URLDecoder.decode(slash < 0 ? path : path.substring(0, slash), StandardCharsets.UTF_8);
            String key = slash < 0 ? "" : URLDecoder.decode(path.substring(slash + 1), StandardCharsets.UTF_8);
            Fault f = fault;
            String query = request.getQueryString() == null ? "" : request.getQueryString();
            Answer answer = f == null ? null : f.answer(request.getMethod(), bucket, key, query);
            if (answer != null) {
                switch (answer.kind()) {
                    case ERROR -> {
                        error(baseRequest, response, answer.status(), answer.code(), "injected by the test");
                        return;
                    }
                    case LOST -> {
                        serveDiscarding(target, baseRequest, request, response);
                        error(baseRequest, response, answer.status(), answer.code(), "injected by the test");
                        return;
                    }
                    case DELAY -> sleep(answer.delay());
                    case DROP -> {
                        drop(baseRequest);
                        return;
                    }
                    case DROP_AFTER_STORE -> {
                        serveDiscarding(target, baseRequest, request, response);
                        drop(baseRequest);
                        return;
                    }
                }
            }
            if (!conditionalWrites || !"PUT".equals(request.getMethod()) || !"*".equals(request.getHeader("If-None-Match"))) {
                super.handle(target, baseRequest, request, response);
                return;
            }
            synchronized (lock) {
                if (blobStore.blobExists(bucket, key)) {
                    error(baseRequest, response, 412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold");
                    return;
                }
                super.handle(target, baseRequest, request, response);
            }
        }

        /** s3proxy serves the request (it decodes the signed aws-chunked body of a PUT); its answer is dropped. */
        private void serveDiscarding(String target, Request baseRequest, HttpServletRequest request, HttpServletResponse response)
                throws IOException, ServletException {
            super.handle(target, baseRequest, request, new DiscardingResponse(response));
        }

        /** Closes the TCP connection: the client sees it end (or reset) with no answer. */
        private static void drop(Request baseRequest) {
            baseRequest.setHandled(true);
            baseRequest.getHttpChannel().abort(new IOException("connection dropped by the test"));
        }

        private static void sleep(Duration d) throws IOException {
            try {
                Thread.sleep(d);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted during an injected delay");
            }
        }

        /** Takes a whole answer and sends none of it. */
        private static final class DiscardingResponse extends jakarta.servlet.http.HttpServletResponseWrapper {
            private final jakarta.servlet.ServletOutputStream sink = new jakarta.servlet.ServletOutputStream() {
                @Override
                public boolean isReady() {
                    return true;
                }

                @Override
                public void setWriteListener(jakarta.servlet.WriteListener listener) {}

                @Override
                public void write(int b) {}

                @Override
                public void write(byte[] b, int off, int len) {}
            };

            DiscardingResponse(HttpServletResponse response) {
                super(response);
            }

            @Override
            public jakarta.servlet.ServletOutputStream getOutputStream() {
                return sink;
            }

            @Override
            public java.io.PrintWriter getWriter() {
                return new java.io.PrintWriter(java.io.Writer.nullWriter());
            }

            @Override
            public void setStatus(int sc) {}

            @Override
            public void sendError(int sc) {}

            @Override
            public void sendError(int sc, String msg) {}

            @Override
            public void setHeader(String name, String value) {}

            @Override
            public void addHeader(String name, String value) {}

            @Override
            public void setContentType(String type) {}

            @Override
            public void setContentLength(int len) {}

            @Override
            public void setContentLengthLong(long len) {}

            @Override
            public void flushBuffer() {}
        }

        private static void error(Request baseRequest, HttpServletResponse response, int status, String code, String message)
                throws IOException {
            response.setStatus(status);
            if (code != null) {
                response.setContentType("application/xml");
                response.getOutputStream().write(("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + code
                        + "</Code><Message>" + message + "</Message></Error>").getBytes(StandardCharsets.UTF_8));
            }
            baseRequest.setHandled(true);
        }
    }
}
