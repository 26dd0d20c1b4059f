package io.viperblock.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class HostPortTest {
    @Test
    void parsesHostAndPort() {
        assertEquals(new HostPort("127.0.0.1", 0), HostPort.parse("--metrics", "127.0.0.1:0"));
        assertEquals(new HostPort("localhost", 65535), HostPort.parse("--listen", "localhost:65535"));
        assertEquals(new HostPort("[::1]", 9100), HostPort.parse("--metrics", "[::1]:9100"));
    }

    @Test
    void badValuesAreOneLineNamingTheOption() {
        for (String bad : new String[] {"9100", ":9100", "host:", "host:x", "host:-1", "host:65536", "host:99999999999"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> HostPort.parse("--metrics", bad), bad);
            assertEquals(true, e.getMessage().startsWith("--metrics wants HOST:PORT") && e.getMessage().contains("\"" + bad + "\""), e.getMessage());
            assertEquals(-1, e.getMessage().indexOf('\n'));
        }
    }
}
