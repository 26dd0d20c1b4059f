package io.viperblock.bench;

import io.viperblock.s3.S3ProxyFixture;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * s3proxy (in-memory blob store, 127.0.0.1, a free port) as a process of its own, for
 * scripts/bench_nbd.py to serve a volume from S3 with {@code vblock serve}: writes the
 * {@code AWS_*} variables a client needs, as {@code NAME=value} lines, to the file named by its
 * argument (created with mode 600, so the keys never reach a command line or a log), prints
 * {@code ready BUCKET} and runs until its standard input closes.
 */
public final class S3ProxyMain {
    private S3ProxyMain() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: S3ProxyMain ENV_FILE (the AWS_* variables for clients are written there)");
            System.exit(2);
        }
        try (S3ProxyFixture proxy = S3ProxyFixture.start()) {
            String bucket = proxy.newBucket();
            String env = "AWS_ENDPOINT_URL=" + proxy.endpoint() + "\n"
                    + "AWS_REGION=us-east-1\n"
                    + "AWS_ACCESS_KEY_ID=" + S3ProxyFixture.IDENTITY + "\n"
                    + "AWS_SECRET_ACCESS_KEY=" + S3ProxyFixture.CREDENTIAL + "\n";
            Path file = Path.of(args[0]);
            Files.deleteIfExists(file);
            Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.writeString(file, env, StandardCharsets.UTF_8, StandardOpenOption.TRUNCATE_EXISTING);
            System.out.println("ready " + bucket);
            System.out.flush();
            drain(System.in);
        }
    }

    /** Returns when the parent closes our standard input (or dies). */
    private static void drain(InputStream in) throws IOException {
        byte[] b = new byte[256];
        while (in.read(b) >= 0) {
            // nothing to do: we only wait for the end
        }
    }
}
