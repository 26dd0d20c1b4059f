package io.viperblock.cli;

/** A {@code HOST:PORT} option value ({@code --listen}, {@code --metrics}). Immutable. */
record HostPort(String host, int port) {

    /** Parses {@code value} of the option {@code option}; port 0 means any free port. */
    static HostPort parse(String option, String value) {
        int colon = value.lastIndexOf(':');
        if (colon <= 0) {
            throw new IllegalArgumentException(option + " wants HOST:PORT (e.g. 127.0.0.1:9100), not \"" + value + "\"");
        }
        int port;
        try {
            port = Integer.parseInt(value.substring(colon + 1));
        } catch (NumberFormatException e) {
            port = -1;
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException(option + " wants HOST:PORT with a port from 0 to 65535, not \"" + value + "\"");
        }
        return new HostPort(value.substring(0, colon), port);
    }
}
