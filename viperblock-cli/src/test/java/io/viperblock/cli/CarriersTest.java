package io.viperblock.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * {@link Vblock#carriersForFileIo()} gives the virtual threads of a fresh JVM enough carriers to
 * hold that many in system calls at once. The test JVM's scheduler started long ago, so each case
 * runs {@link #main} in a child JVM: {@code THREADS} virtual threads each hold their carrier (as a
 * blocking file read does) until all of them have started. With 2 carriers, the JDK's default on
 * a 2-core machine, they never all start, and the child gives up after 5 s.
 */
class CarriersTest {
    private static final int THREADS = 8;

    /** Child: sets the carriers (to args[0] if given, as -D would), then holds THREADS carriers at once; exit 0 if they all ran. */
    public static void main(String[] args) throws Exception {
        if (args.length > 0) {
            System.setProperty("jdk.virtualThreadScheduler.parallelism", args[0]);
        }
        Vblock.carriersForFileIo();
        AtomicInteger started = new AtomicInteger();
        AtomicInteger atOnce = new AtomicInteger(); // how many had started when the first one stopped
        List<Thread> threads = new ArrayList<>();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        for (int i = 0; i < THREADS; i++) {
            threads.add(Thread.ofVirtual().start(() -> {
                started.incrementAndGet();
                while (started.get() < THREADS && System.nanoTime() < deadline) {
                    Thread.onSpinWait(); // never parks: the carrier stays taken, as in a pread
                }
                atOnce.compareAndSet(0, started.get());
            }));
        }
        for (Thread t : threads) {
            t.join();
        }
        System.out.println("started " + atOnce.get() + " of " + THREADS + " at once, parallelism "
                + System.getProperty("jdk.virtualThreadScheduler.parallelism"));
        System.exit(atOnce.get() == THREADS ? 0 : 1);
    }

    private static Result child(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), CarriersTest.class.getName()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "child JVM did not end");
        return new Result(p.exitValue(), out);
    }

    private record Result(int exit, String out) {}

    @Test
    void manyVirtualThreadsHoldTheirCarriersAtOnce() throws Exception {
        Result r = child();
        assertEquals(0, r.exit(), r.out());
        assertTrue(r.out().contains("parallelism " + Math.max(Vblock.CARRIERS, Runtime.getRuntime().availableProcessors())), r.out());
    }

    @Test
    void aValueGivenOnTheCommandLineWinsAndTwoCarriersHoldOnlyTwo() throws Exception {
        // also the control: with the JDK's default on a 2-core machine the same child fails, so the case above can fail
        Result r = child("2");
        assertEquals(1, r.exit(), r.out());
        assertTrue(r.out().contains("started 2 of " + THREADS + " at once, parallelism 2"), r.out());
    }
}
