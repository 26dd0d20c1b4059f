package io.viperblock.core.io;

import java.lang.invoke.MethodHandle;
import java.lang.reflect.Array;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Drops a file's pages from the kernel's page cache: {@code posix_fadvise(POSIX_FADV_DONTNEED)},
 * which the JDK has no API for. It is called through the JDK's foreign function API
 * ({@code java.lang.foreign}, final since JDK 22). The project builds at Java 21, where that API
 * is a preview, so it is reached by reflection; on a JDK without it (21), or off Linux, the drop
 * does nothing and {@link #available()} says false. Advice only: it never changes a file's
 * contents, and a failure is ignored.
 *
 * <p>Why: a WAL segment that consolidation made a chunk (Consolidator.link) keeps its pages in
 * the cache after the volume stops serving reads from it, as long as the chunk lives. On a
 * virtual machine whose free memory goes back to the host, a page cache that keeps growing has
 * every new page touched for the first time, at a fifth of the speed of a page used before
 * (docs/PERFORMANCE.md).
 */
public final class PageCache {
    private static final Logger log = LoggerFactory.getLogger(PageCache.class);
    private static final int O_RDONLY_CLOEXEC = 0x80000;
    private static final int POSIX_FADV_DONTNEED = 4;

    private static final Native NATIVE = Native.load();

    private PageCache() {}

    /** Whether {@link #drop} does anything on this JDK and system. */
    public static boolean available() {
        return NATIVE != null;
    }

    /** Asks the kernel to drop the cached pages of {@code file} (a best effort; never throws). */
    public static void drop(Path file) {
        if (NATIVE != null) {
            NATIVE.drop(file.toString());
        }
    }

    /** The three C functions, bound through java.lang.foreign by reflection. */
    private record Native(MethodHandle open, MethodHandle fadvise, MethodHandle close, java.lang.reflect.Method arenaOfConfined,
            java.lang.reflect.Method allocateFrom) {

        static Native load() {
            if (!System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).contains("linux")) {
                return null;
            }
            try {
                Class<?> linkerClass = Class.forName("java.lang.foreign.Linker");
                Class<?> layoutClass = Class.forName("java.lang.foreign.MemoryLayout");
                Class<?> valueLayout = Class.forName("java.lang.foreign.ValueLayout");
                Class<?> descriptorClass = Class.forName("java.lang.foreign.FunctionDescriptor");
                Class<?> segmentClass = Class.forName("java.lang.foreign.MemorySegment");
                Class<?> optionClass = Class.forName("java.lang.foreign.Linker$Option");
                Class<?> lookupClass = Class.forName("java.lang.foreign.SymbolLookup");
                Class<?> arenaClass = Class.forName("java.lang.foreign.Arena");
                Object linker = linkerClass.getMethod("nativeLinker").invoke(null);
                Object lookup = linkerClass.getMethod("defaultLookup").invoke(linker);
                Object javaInt = valueLayout.getField("JAVA_INT").get(null);
                Object javaLong = valueLayout.getField("JAVA_LONG").get(null);
                Object address = valueLayout.getField("ADDRESS").get(null);
                java.lang.reflect.Method of = descriptorClass.getMethod("of", layoutClass, layoutClass.arrayType());
                java.lang.reflect.Method find = lookupClass.getMethod("find", String.class);
                java.lang.reflect.Method downcall = linkerClass.getMethod("downcallHandle", segmentClass, descriptorClass, optionClass.arrayType());
                Object noOptions = Array.newInstance(optionClass, 0);
                java.util.function.BiFunction<String, Object[], MethodHandle> bind = (name, args) -> {
                    try {
                        Object symbol = ((java.util.Optional<?>) find.invoke(lookup, name)).orElseThrow();
                        Object params = Array.newInstance(layoutClass, args.length);
                        for (int i = 0; i < args.length; i++) {
                            Array.set(params, i, args[i]);
                        }
                        return (MethodHandle) downcall.invoke(linker, symbol, of.invoke(null, javaInt, params), noOptions);
                    } catch (ReflectiveOperationException e) {
                        throw new IllegalStateException(e);
                    }
                };
                return new Native(bind.apply("open", new Object[] {address, javaInt}),
                        bind.apply("posix_fadvise", new Object[] {javaInt, javaLong, javaLong, javaInt}),
                        bind.apply("close", new Object[] {javaInt}),
                        arenaClass.getMethod("ofConfined"), arenaClass.getMethod("allocateFrom", String.class));
            } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
                log.debug("dropping files from the page cache is not available on this JDK: {}", e.toString());
                return null;
            }
        }

        void drop(String path) {
            try (AutoCloseable arena = (AutoCloseable) arenaOfConfined.invoke(null)) {
                Object cPath = allocateFrom.invoke(arena, path);
                int fd = (int) open.invoke(cPath, O_RDONLY_CLOEXEC);
                if (fd < 0) {
                    return; // gone, or not a file of this system's (a test's in-memory file system)
                }
                try {
                    int advised = (int) fadvise.invoke(fd, 0L, 0L, POSIX_FADV_DONTNEED); // an errno, or 0
                    if (advised != 0) {
                        log.debug("posix_fadvise of {} failed with errno {}", path, advised);
                    }
                } finally {
                    int closed = (int) close.invoke(fd);
                }
            } catch (Throwable e) {
                log.debug("dropping {} from the page cache failed: {}", path, e.toString());
            }
        }
    }
}
