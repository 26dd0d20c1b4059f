package io.viperblock.cli.metrics;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves {@code GET /metrics} in the Prometheus text format on one address, with the JDK's HTTP
 * server: 404 for any other path, 405 for any other method. Scrapes run one at a time on one
 * daemon thread. Thread-safe: {@link #close} may be called from any thread (a shutdown hook).
 */
public final class MetricsServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(MetricsServer.class);
    static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    private final HttpServer http;
    private final ExecutorService executor;

    private MetricsServer(HttpServer http, ExecutorService executor) {
        this.http = http;
        this.executor = executor;
    }

    /** Listens on {@code host:port} (port 0 picks a free one) and serves what {@code scrape} renders. */
    public static MetricsServer start(String host, int port, Supplier<String> scrape) throws IOException {
        HttpServer http;
        try {
            http = HttpServer.create(new InetSocketAddress(host, port), 16);
        } catch (IOException e) {
            throw new IOException("cannot serve metrics on " + host + ":" + port + ": " + e.getMessage()
                    + (e instanceof BindException ? " (is another server running there? pick another port with --metrics)" : ""), e);
        }
        ExecutorService executor = Executors.newSingleThreadExecutor(Thread.ofPlatform().daemon().name("metrics-http").factory());
        http.setExecutor(executor);
        http.createContext("/", exchange -> handle(exchange, scrape));
        http.start();
        return new MetricsServer(http, executor);
    }

    private static void handle(HttpExchange ex, Supplier<String> scrape) throws IOException {
        try (ex) {
            if (!ex.getRequestURI().getPath().equals("/metrics")) {
                reply(ex, 404, "text/plain; charset=utf-8", "not found: metrics are at /metrics\n");
            } else if (!ex.getRequestMethod().equals("GET")) {
                ex.getResponseHeaders().set("Allow", "GET");
                reply(ex, 405, "text/plain; charset=utf-8", "method " + ex.getRequestMethod() + " not allowed: use GET\n");
            } else {
                String body;
                try {
                    body = scrape.get();
                } catch (RuntimeException e) {
                    log.warn("metrics scrape failed", e);
                    reply(ex, 500, "text/plain; charset=utf-8", "scrape failed: " + e + "\n");
                    return;
                }
                reply(ex, 200, CONTENT_TYPE, body);
            }
        }
    }

    private static void reply(HttpExchange ex, int status, String contentType, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", contentType);
        if (ex.getRequestMethod().equals("HEAD")) {
            ex.sendResponseHeaders(status, -1); // a HEAD answer has no body
            return;
        }
        ex.sendResponseHeaders(status, b.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(b);
        }
    }

    /** The address bound. */
    public InetSocketAddress address() {
        return http.getAddress();
    }

    /** Stops listening and drops any scrape in progress. */
    @Override
    public void close() {
        http.stop(0);
        executor.shutdownNow();
    }
}
