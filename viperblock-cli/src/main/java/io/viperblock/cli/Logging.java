package io.viperblock.cli;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.encoder.Encoder;
import org.slf4j.LoggerFactory;

/**
 * {@code --log-format}: log lines go to stderr, readable text by default or one JSON object per
 * line (logback's own {@link JsonEncoder}); the level stays as logback.xml set it
 * ({@code VB_LOG_LEVEL}, default WARN). Stdout is left to the command's output. Not thread-safe:
 * called once, before a command runs.
 */
final class Logging {
    enum Format { text, json }

    private static final String PATTERN = "%d{HH:mm:ss.SSS} %-5level %logger{0}: %msg%n";

    private Logging() {}

    static void configure(Format format) {
        if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext ctx)) {
            return; // another slf4j binding: it has its own configuration
        }
        Encoder<ILoggingEvent> encoder;
        if (format == Format.json) {
            JsonEncoder json = new JsonEncoder();
            json.setContext(ctx);
            json.setWithFormattedMessage(true); // the line as text reads it; "message" keeps the template
            json.setWithArguments(false);
            json.setWithContext(false);
            encoder = json;
        } else {
            PatternLayoutEncoder text = new PatternLayoutEncoder();
            text.setContext(ctx);
            text.setPattern(PATTERN);
            encoder = text;
        }
        encoder.start();
        ConsoleAppender<ILoggingEvent> appender = new ConsoleAppender<>();
        appender.setContext(ctx);
        appender.setName("STDERR");
        appender.setTarget("System.err");
        appender.setEncoder(encoder);
        appender.start();
        Logger root = ctx.getLogger(Logger.ROOT_LOGGER_NAME);
        root.detachAndStopAllAppenders();
        root.addAppender(appender);
    }
}
