package io.viperblock.nbd.server;

import java.time.Duration;

/**
 * Server limits. Immutable.
 *
 * @param handshakeTimeout   a client that has not finished negotiating by then is disconnected
 * @param maxRequestBytes    largest READ/WRITE/CACHE payload accepted (advertised as the maximum block size)
 * @param maxInFlight        requests of one connection being served at once; the reader waits beyond it
 * @param maxInFlightBytes   payload bytes of one connection held at once (bounds memory per client)
 * @param fastRead           small reads queued back to back are served together while those of their connection took less
 *                           than this on average lately (the page cache, not a disk or a network); zero never joins them
 */
public record NbdServerConfig(Duration handshakeTimeout, int maxRequestBytes, int maxInFlight, long maxInFlightBytes, Duration fastRead) {
    public static final int MIN_BLOCK = 1;
    public static final int PREFERRED_BLOCK = 4096;

    public static NbdServerConfig defaults() {
        return new NbdServerConfig(Duration.ofSeconds(30), 32 << 20, 128, 256L << 20, Duration.ofNanos(40_000));
    }

    public NbdServerConfig withHandshakeTimeout(Duration d) {
        return new NbdServerConfig(d, maxRequestBytes, maxInFlight, maxInFlightBytes, fastRead);
    }

    public NbdServerConfig withFastRead(Duration d) {
        return new NbdServerConfig(handshakeTimeout, maxRequestBytes, maxInFlight, maxInFlightBytes, d);
    }
}
