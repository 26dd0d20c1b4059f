package io.viperblock.s3;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.read.ListAppender;
import io.viperblock.core.format.WalHeader;
import io.viperblock.core.io.NioFs;
import io.viperblock.core.testing.Seeds;
import io.viperblock.core.volume.Volume;
import io.viperblock.core.volume.VolumeConfig;
import io.viperblock.core.volume.VolumeManager;
import io.viperblock.core.volume.VolumeScenarios;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * A steady write and flush load while a tenth of all S3 requests meet a fault (500 and 503
 * errors, answers delayed by up to a third of a second, connections dropped before the request
 * is served or after a PUT was stored, and PUTs whose answer is lost after the object was
 * stored): nothing acknowledged is lost, consolidation catches up once the faults stop (the WAL
 * empties), a reopen on this node and an open on another see everything, and no log line of the
 * whole run carries the secret key.
 */
class S3FaultLoadTest {
    @RegisterExtension
    static final S3ProxyFixture proxy = S3ProxyFixture.perClass();

    @TempDir
    Path tmp;


    static final S3ProxyFixture.Kind[] PUT_FAULTS = S3ProxyFixture.Kind.values();
    static final S3ProxyFixture.Kind[] OTHER_FAULTS = {S3ProxyFixture.Kind.ERROR, S3ProxyFixture.Kind.DELAY, S3ProxyFixture.Kind.DROP};

    private static int kindsInjected(Map<S3ProxyFixture.Kind, Integer> injected, Object lock) {
        synchronized (lock) {
            return injected.size();
        }
    }

    @Test
    void randomFaultsLoseNothingAndNoLogShowsTheSecret() throws Exception {
        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        ListAppender<ILoggingEvent> logs = new ListAppender<>();
        logs.setContext((LoggerContext) LoggerFactory.getILoggerFactory());
        logs.start();
        root.addAppender(logs);
        SplittableRandom rnd = Seeds.random("randomFaultsLoseNothingAndNoLogShowsTheSecret");
        SplittableRandom faults = rnd.split();
        Map<String, Integer> seen = new java.util.TreeMap<>();
        int[] faultyPuts = {0};
        long loadMillis;
        Map<S3ProxyFixture.Kind, Integer> injected = new EnumMap<>(S3ProxyFixture.Kind.class);
        int size = VolumeScenarios.SIZE;
        byte[] model = new byte[size];
        // enough SDK retries that a request failing every attempt (0.1^9) does not happen; with the
        // fixture's 3 attempts, reads during the faults fail now and then with EIO, as they should
        try (S3Store store = new S3Store(proxy.config(proxy.newBucket(), "load/").withMaxRetries(8))) {
            VolumeManager mgr = new VolumeManager(store, tmp.resolve("node1"), NioFs.INSTANCE, VolumeScenarios.smallConfig());
            mgr.create("v", size);
            Volume v = mgr.open("v");
            proxy.inject((method, bucket, key, query) -> {
                synchronized (faults) {
                    seen.merge(method, 1, Integer::sum);
                    if (faults.nextInt(10) != 0) {
                        return null;
                    }
                    // PUTs take every kind in turn (which PUTs is random), so a short run has them all
                    S3ProxyFixture.Kind kind = "PUT".equals(method) ? PUT_FAULTS[faultyPuts[0]++ % PUT_FAULTS.length]
                            : OTHER_FAULTS[faults.nextInt(OTHER_FAULTS.length)];
                    S3ProxyFixture.Answer a = switch (kind) {
                        case ERROR -> faults.nextBoolean() ? S3ProxyFixture.Answer.error(500, "InternalError")
                                : S3ProxyFixture.Answer.error(503, "SlowDown");
                        case LOST -> S3ProxyFixture.Answer.lost(500, "InternalError");
                        case DELAY -> S3ProxyFixture.Answer.delay(Duration.ofMillis(20 + faults.nextInt(300)));
                        case DROP -> S3ProxyFixture.Answer.drop();
                        case DROP_AFTER_STORE -> S3ProxyFixture.Answer.dropAfterStore();
                    };
                    injected.merge(a.kind(), 1, Integer::sum);
                    return a;
                }
            });
            long t0 = System.nanoTime();
            try {
                // 200 writes, and more (for up to 60 s) until every kind of fault has been met: the
                // faults come with the consolidator's PUTs, which fewer and faster writes may outrun
                for (int i = 0; i < 200 || (kindsInjected(injected, faults) < S3ProxyFixture.Kind.values().length
                        && System.nanoTime() - t0 < 60_000_000_000L); i++) {
                    long[] r = VolumeScenarios.randomRange(rnd, 256 << 10);
                    byte[] d = new byte[(int) r[1]];
                    rnd.nextBytes(d);
                    v.write(r[0], d, false); // the WAL takes it whatever the store does
                    System.arraycopy(d, 0, model, (int) r[0], d.length);
                    if (i % 10 == 9) {
                        v.flush();
                    }
                    if (i % 50 == 49) {
                        Thread.sleep(50); // let consolidation run into the faults
                    }
                }
                assertArrayEquals(model, v.read(0, size), "while the store fails");
            } finally {
                proxy.inject(null);
            }
            loadMillis = (System.nanoTime() - t0) / 1_000_000;
            assertEquals(S3ProxyFixture.Kind.values().length, injected.size(), "every kind of fault was injected: " + injected);
            v.drain(); // the faults stopped: consolidation catches up
            assertEquals(0, v.stats().dirtyExtents());
            assertEquals(WalHeader.LENGTH, v.stats().pendingWalBytes(), "the WAL is empty: one new segment, only its header");
            assertEquals(1, v.stats().walSegments());
            v.close();
            VolumeConfig config = VolumeScenarios.smallConfig();
            try (Volume again = new VolumeManager(store, tmp.resolve("node1"), NioFs.INSTANCE, config).open("v")) {
                assertArrayEquals(model, again.read(0, size), "reopened on this node, after the faults");
            }
            try (Volume other = new VolumeManager(store, tmp.resolve("node2"), NioFs.INSTANCE, config).open("v")) {
                assertArrayEquals(model, other.read(0, size), "on another node, after the faults");
            }
        } finally {
            root.detachAppender(logs);
        }
        for (ILoggingEvent e : logs.list) {
            String text = e.getFormattedMessage() + (e.getThrowableProxy() == null ? "" : ThrowableProxyUtil.asString(e.getThrowableProxy()));
            assertFalse(text.contains(S3ProxyFixture.CREDENTIAL), "a log line carries the secret: " + text);
        }
        System.out.println("S3FaultLoadTest: requests " + seen + ", faults " + injected + ", load " + loadMillis + " ms, " + logs.list.size() + " log lines checked");
    }
}
