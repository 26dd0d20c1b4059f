package io.viperblock.s3;

import io.viperblock.core.store.ObjectKeys;

import java.net.URI;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Where an {@link S3Store} keeps its objects and how it reaches them. Immutable.
 *
 * <p>The secret key is never printed: {@link #toString()} masks it, and no message of the store
 * contains it.
 *
 * @param bucket          the bucket (must exist)
 * @param prefix          prepended to every key: empty, or a valid key prefix such as {@code "vb/"}
 * @param endpoint        the S3 endpoint (an S3-compatible server), or null for AWS's own endpoint of the region
 * @param region          the signing region, e.g. {@code us-east-1}
 * @param accessKey       the access key id
 * @param secretKey       the secret access key (never printed)
 * @param pathStyle       address buckets as {@code endpoint/bucket/key} rather than {@code bucket.endpoint/key};
 *                        most S3-compatible servers need this
 * @param connectTimeout  to open a TCP connection
 * @param requestTimeout  one attempt of one request, including the transfer of a 4 MiB chunk
 * @param maxRetries      retries after the first attempt of a request that failed with a 5xx, a
 *                        throttling error or an I/O error (the SDK's standard backoff between them)
 * @param multipartThreshold objects larger than this many bytes are stored by a multipart upload
 *                        (a checkpoint of a big volume's map can be hundreds of MiB); at most this
 *                        many bytes go in one PUT
 * @param partSize        bytes per part of a multipart upload (the last part may be smaller); at least
 *                        {@link #MIN_PART_SIZE}, S3's minimum
 */
public record S3Config(
        String bucket,
        String prefix,
        URI endpoint,
        String region,
        String accessKey,
        String secretKey,
        boolean pathStyle,
        Duration connectTimeout,
        Duration requestTimeout,
        int maxRetries,
        long multipartThreshold,
        int partSize) {

    public static final String DEFAULT_REGION = "us-east-1";
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(10);
    public static final Duration DEFAULT_REQUEST_TIMEOUT = Duration.ofSeconds(60);
    public static final int DEFAULT_MAX_RETRIES = 5;
    public static final long DEFAULT_MULTIPART_THRESHOLD = 64L << 20;
    public static final int DEFAULT_PART_SIZE = 16 << 20;
    /** S3's smallest part, except for the last part of an upload. */
    public static final int MIN_PART_SIZE = 5 << 20;

    public S3Config {
        if (bucket == null || bucket.isBlank()) {
            throw new IllegalArgumentException("S3 bucket is empty");
        }
        prefix = prefix == null ? "" : prefix;
        try {
            ObjectKeys.checkPrefix(prefix);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("invalid S3 key prefix \"" + prefix + "\": " + e.getMessage(), e);
        }
        if (region == null || region.isBlank()) {
            region = DEFAULT_REGION;
        }
        if (accessKey == null || accessKey.isEmpty() || secretKey == null || secretKey.isEmpty()) {
            throw new IllegalArgumentException("S3 credentials are missing: give both an access key and a secret key");
        }
        if (endpoint != null && (endpoint.getScheme() == null || endpoint.getHost() == null
                || !(endpoint.getScheme().equals("http") || endpoint.getScheme().equals("https")))) {
            throw new IllegalArgumentException("S3 endpoint must be an http:// or https:// URL with a host, got " + endpoint);
        }
        connectTimeout = positive("connectTimeout", connectTimeout == null ? DEFAULT_CONNECT_TIMEOUT : connectTimeout);
        requestTimeout = positive("requestTimeout", requestTimeout == null ? DEFAULT_REQUEST_TIMEOUT : requestTimeout);
        if (maxRetries < 0) {
            throw new IllegalArgumentException("maxRetries must be >= 0, got " + maxRetries);
        }
        if (multipartThreshold < 1) {
            throw new IllegalArgumentException("multipartThreshold must be at least 1 byte, got " + multipartThreshold);
        }
        if (partSize < MIN_PART_SIZE) {
            throw new IllegalArgumentException("partSize must be at least " + MIN_PART_SIZE
                    + " bytes (5 MiB, S3's smallest part), got " + partSize);
        }
    }

    /** The default multipart threshold and part size. */
    public S3Config(String bucket, String prefix, URI endpoint, String region, String accessKey, String secretKey,
            boolean pathStyle, Duration connectTimeout, Duration requestTimeout, int maxRetries) {
        this(bucket, prefix, endpoint, region, accessKey, secretKey, pathStyle, connectTimeout, requestTimeout, maxRetries,
                DEFAULT_MULTIPART_THRESHOLD, DEFAULT_PART_SIZE);
    }

    private static Duration positive(String what, Duration d) {
        if (d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(what + " must be positive, got " + d);
        }
        return d;
    }

    /** A configuration with the default region handling, timeouts and retries. */
    public static S3Config of(String bucket, String prefix, URI endpoint, String region, String accessKey,
            String secretKey, boolean pathStyle) {
        return new S3Config(bucket, prefix, endpoint, region, accessKey, secretKey, pathStyle,
                DEFAULT_CONNECT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT, DEFAULT_MAX_RETRIES);
    }

    public S3Config withPrefix(String p) {
        return new S3Config(bucket, p, endpoint, region, accessKey, secretKey, pathStyle, connectTimeout, requestTimeout, maxRetries,
                multipartThreshold, partSize);
    }

    public S3Config withSecretKey(String s) {
        return new S3Config(bucket, prefix, endpoint, region, accessKey, s, pathStyle, connectTimeout, requestTimeout, maxRetries,
                multipartThreshold, partSize);
    }

    public S3Config withTimeouts(Duration connect, Duration request) {
        return new S3Config(bucket, prefix, endpoint, region, accessKey, secretKey, pathStyle, connect, request, maxRetries,
                multipartThreshold, partSize);
    }

    public S3Config withMaxRetries(int n) {
        return new S3Config(bucket, prefix, endpoint, region, accessKey, secretKey, pathStyle, connectTimeout, requestTimeout, n,
                multipartThreshold, partSize);
    }

    /** Objects above {@code threshold} bytes go up in parts of {@code partSize} bytes. */
    public S3Config withMultipart(long threshold, int partSize) {
        return new S3Config(bucket, prefix, endpoint, region, accessKey, secretKey, pathStyle, connectTimeout, requestTimeout,
                maxRetries, threshold, partSize);
    }

    /** {@code s3://bucket/prefix (endpoint ...)}, for messages; no credentials. */
    public String describe() {
        return "s3://" + bucket + "/" + prefix + " (endpoint " + (endpoint == null ? "AWS " + region : endpoint) + ")";
    }

    /** Masks the secret key. */
    @Override
    public String toString() {
        return "S3Config[bucket=" + bucket + ", prefix=" + prefix + ", endpoint=" + endpoint + ", region=" + region
                + ", accessKey=" + accessKey + ", secretKey=****, pathStyle=" + pathStyle + ", connectTimeout="
                + connectTimeout + ", requestTimeout=" + requestTimeout + ", maxRetries=" + maxRetries
                + ", multipartThreshold=" + multipartThreshold + ", partSize=" + partSize + "]";
    }

    /**
     * Parses {@code s3://bucket/prefix} and takes the rest from the environment:
     * <ul>
     * <li>endpoint: {@code AWS_ENDPOINT_URL}, else {@code AWS_HOST} (a URL, or a host[:port] taken as
     *     https); none means AWS itself. With an endpoint, path-style addressing is used (what
     *     S3-compatible servers expect); without, virtual-hosted style.</li>
     * <li>region: {@code AWS_REGION}, else {@code AWS_DEFAULT_REGION}, else us-east-1</li>
     * <li>access key: {@code AWS_ACCESS_KEY_ID}, else {@code AWS_ACCESS_KEY}</li>
     * <li>secret key: {@code AWS_SECRET_ACCESS_KEY}, else {@code AWS_SECRET_KEY}</li>
     * <li>when neither key is in the environment: both keys, and the region if none is set above,
     *     from the profile {@code AWS_PROFILE} (else {@code default}) of the shared credentials file
     *     ({@code AWS_SHARED_CREDENTIALS_FILE}, default {@code $HOME/.aws/credentials}) or config
     *     file ({@code AWS_CONFIG_FILE}, default {@code $HOME/.aws/config}); a profile named in
     *     {@code AWS_PROFILE} that is missing or has no keys is an error naming it and the files.
     *     Only static keys: role, SSO, credential-process and session-token profiles are refused.</li>
     * <li>bucket: {@code AWS_BUCKET} when the URI names none ({@code s3://} or {@code s3:///prefix})</li>
     * <li>timeouts and retries: {@code VB_S3_CONNECT_TIMEOUT} (default 10s), {@code VB_S3_REQUEST_TIMEOUT}
     *     (one attempt, default 60s), as 500ms, 30s or 2m; {@code VB_S3_MAX_RETRIES} (default 5)</li>
     * </ul>
     * Instance roles and SSO are a later option. Paths and {@code HOME} are taken from {@code env}
     * too, never from the process. The prefix gets a trailing '/' if it has none.
     */
    public static S3Config fromUri(String uri, Map<String, String> env) {
        Objects.requireNonNull(uri, "uri");
        if (!uri.regionMatches(true, 0, "s3://", 0, 5)) {
            throw new IllegalArgumentException("not an S3 store URI (expected s3://bucket/prefix): " + uri);
        }
        String rest = uri.substring(5);
        int slash = rest.indexOf('/');
        String bucket = slash < 0 ? rest : rest.substring(0, slash);
        String prefix = slash < 0 ? "" : rest.substring(slash + 1);
        if (bucket.isEmpty()) {
            bucket = get(env, "AWS_BUCKET");
            if (bucket == null) {
                throw new IllegalArgumentException("the S3 URI " + uri + " names no bucket: use s3://bucket/prefix or set AWS_BUCKET");
            }
        }
        if (!bucket.matches("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")) {
            throw new IllegalArgumentException("invalid S3 bucket name \"" + bucket
                    + "\": 3 to 63 characters of a-z 0-9 . -, starting and ending with a letter or digit");
        }
        if (!prefix.isEmpty() && !prefix.endsWith("/")) {
            prefix = prefix + "/";
        }
        String endpointText = get(env, "AWS_ENDPOINT_URL");
        if (endpointText == null) {
            endpointText = get(env, "AWS_HOST");
        }
        URI endpoint = null;
        if (endpointText != null) {
            if (!endpointText.contains("://")) {
                endpointText = "https://" + endpointText;
            }
            try {
                endpoint = URI.create(endpointText);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("invalid S3 endpoint in AWS_ENDPOINT_URL/AWS_HOST: " + endpointText, e);
            }
        }
        String region = get(env, "AWS_REGION");
        if (region == null) {
            region = get(env, "AWS_DEFAULT_REGION");
        }
        String accessKey = get(env, "AWS_ACCESS_KEY_ID");
        if (accessKey == null) {
            accessKey = get(env, "AWS_ACCESS_KEY");
        }
        String secretKey = get(env, "AWS_SECRET_ACCESS_KEY");
        if (secretKey == null) {
            secretKey = get(env, "AWS_SECRET_KEY");
        }
        if (accessKey == null && secretKey == null) {
            String name = get(env, "AWS_PROFILE");
            Optional<AwsProfile> profile = AwsProfile.read(name == null ? "default" : name, name != null, env);
            if (profile.isPresent()) {
                accessKey = profile.get().accessKey();
                secretKey = profile.get().secretKey();
                region = region == null ? profile.get().region() : region;
            }
        }
        if (accessKey == null || secretKey == null) {
            String missing = accessKey == null && secretKey == null ? "access key and secret key"
                    : accessKey == null ? "access key" : "secret key";
            throw new IllegalArgumentException("no S3 " + missing + " for " + uri + ": set AWS_ACCESS_KEY_ID (or AWS_ACCESS_KEY)"
                    + " and AWS_SECRET_ACCESS_KEY (or AWS_SECRET_KEY), or AWS_PROFILE to a profile of ~/.aws/credentials");
        }
        return new S3Config(bucket, prefix, endpoint, region == null ? DEFAULT_REGION : region.toLowerCase(Locale.ROOT),
                accessKey, secretKey, endpoint != null, duration(env, "VB_S3_CONNECT_TIMEOUT", DEFAULT_CONNECT_TIMEOUT),
                duration(env, "VB_S3_REQUEST_TIMEOUT", DEFAULT_REQUEST_TIMEOUT), retries(env));
    }

    /** A timeout from the environment: a number with ms, s or m (e.g. 500ms, 30s, 2m). */
    private static Duration duration(Map<String, String> env, String name, Duration dflt) {
        String v = get(env, name);
        if (v == null) {
            return dflt;
        }
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d{1,9})(ms|s|m)").matcher(v);
        if (!m.matches() || Long.parseLong(m.group(1)) == 0) {
            throw new IllegalArgumentException(name + "=" + v + " is not a timeout: give a positive number with ms, s or m, e.g. 30s");
        }
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2)) {
            case "ms" -> Duration.ofMillis(n);
            case "s" -> Duration.ofSeconds(n);
            default -> Duration.ofMinutes(n);
        };
    }

    private static int retries(Map<String, String> env) {
        String v = get(env, "VB_S3_MAX_RETRIES");
        if (v == null) {
            return DEFAULT_MAX_RETRIES;
        }
        if (!v.matches("\\d{1,2}")) {
            throw new IllegalArgumentException("VB_S3_MAX_RETRIES=" + v + " is not a retry count: give 0 to 99");
        }
        return Integer.parseInt(v);
    }

    static String get(Map<String, String> env, String name) {
        String v = env.get(name);
        return v == null || v.isBlank() ? null : v.trim();
    }
}
