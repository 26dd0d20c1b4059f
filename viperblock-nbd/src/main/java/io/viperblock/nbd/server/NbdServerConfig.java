package io.viperblock.nbd.server;

import java.time.Duration;

/**
 * Server limits. Immutable.
 *
 * @param handshakeTimeout   a client that has not finished negotiating by then is disconnected
 * @param maxRequestBytes    largest READ/WRITE/CACHE payload accepted (advertised as the maximum block size)
 * @param maxInFlight        requests of one connection being served at once; the reader waits beyond it
 * @param maxInFlightBytes   payload bytes of one connection held at once (bounds memory per client)
 */
public record NbdServerConfig(Duration handshakeTimeout, int maxRequestBytes, int maxInFlight, long maxInFlightBytes) {
    public static final int MIN_BLOCK = 1;
    public static final int PREFERRED_BLOCK = 4096;

    public static NbdServerConfig defaults() {
        return new NbdServerConfig(Duration.ofSeconds(30), 32 << 20, 128, 256L << 20);
    }

    public NbdServerConfig withHandshakeTimeout(Duration d) {
        return new NbdServerConfig(d, maxRequestBytes, maxInFlight, maxInFlightBytes);
    }
}
