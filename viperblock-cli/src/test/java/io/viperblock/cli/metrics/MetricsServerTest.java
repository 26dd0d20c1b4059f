package io.viperblock.cli.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The HTTP side: GET /metrics, 404 elsewhere, 405 for other methods, nothing after close. */
class MetricsServerTest {
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private HttpResponse<String> send(String method, URI uri) throws IOException, InterruptedException {
        HttpRequest req = HttpRequest.newBuilder(uri).method(method, HttpRequest.BodyPublishers.noBody())
                .timeout(Duration.ofSeconds(10)).build();
        return client.send(req, HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void servesOnlyGetMetrics() throws Exception {
        AtomicInteger scrapes = new AtomicInteger();
        MetricsServer server = MetricsServer.start("127.0.0.1", 0, () -> "# HELP a_total x\n# TYPE a_total counter\na_total "
                + scrapes.incrementAndGet() + "\n");
        URI base = URI.create("http://127.0.0.1:" + server.address().getPort());
        try {
            HttpResponse<String> ok = send("GET", base.resolve("/metrics"));
            assertEquals(200, ok.statusCode());
            assertEquals(MetricsServer.CONTENT_TYPE, ok.headers().firstValue("Content-Type").orElse(""));
            assertEquals(1, PromParser.value(PromParser.parse(ok.body()), "a_total"));
            assertEquals(2, PromParser.value(PromParser.parse(send("GET", base.resolve("/metrics?x=1")).body()), "a_total"),
                    "each scrape renders afresh");

            assertEquals(404, send("GET", base.resolve("/")).statusCode());
            assertEquals(404, send("GET", base.resolve("/metrics/x")).statusCode());
            HttpResponse<String> post = send("POST", base.resolve("/metrics"));
            assertEquals(405, post.statusCode());
            assertEquals("GET", post.headers().firstValue("Allow").orElse(""));
            assertEquals(405, send("DELETE", base.resolve("/metrics")).statusCode());
            assertEquals(2, scrapes.get(), "only the GETs of /metrics scraped");
        } finally {
            server.close();
        }
        assertThrows(IOException.class, () -> send("GET", base.resolve("/metrics")));
    }

    @Test
    void aTakenPortIsOneClearError() throws Exception {
        try (MetricsServer first = MetricsServer.start("127.0.0.1", 0, () -> "")) {
            IOException e = assertThrows(IOException.class, () -> MetricsServer.start("127.0.0.1", first.address().getPort(), () -> ""));
            assertEquals(true, e.getMessage().startsWith("cannot serve metrics on 127.0.0.1:" + first.address().getPort()), e.getMessage());
        }
    }
}
