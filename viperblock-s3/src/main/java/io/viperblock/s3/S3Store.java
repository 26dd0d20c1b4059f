package io.viperblock.s3;

import io.viperblock.core.store.NoSuchObjectException;
import io.viperblock.core.store.ObjectInfo;
import io.viperblock.core.store.ObjectKeys;
import io.viperblock.core.store.ObjectStore;
import io.viperblock.core.store.StoreFullException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.ResponseBytes;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.SdkHttpClient;
import software.amazon.awssdk.http.apache5.Apache5HttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.GetObjectRequest;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * An {@link ObjectStore} on S3 or an S3-compatible server, through the AWS SDK for Java v2: a
 * synchronous {@link S3Client} on the Apache 5 HTTP client. (Neither the CRT nor the URLConnection
 * client was consistently faster for 4 MiB PUTs on the development machine; docs/DESIGN.md has the
 * numbers. A zero-copy request body is a later option.)
 *
 * <p>Object {@code key} is S3 key {@code prefix + key}. Requests the SDK may retry (5xx,
 * throttling, I/O errors) are retried with its standard backoff, at most
 * {@link S3Config#maxRetries()} times; then the failure is mapped:
 * <ul>
 * <li>404 on an object: {@link NoSuchObjectException}</li>
 * <li>507, or an error code or message saying storage or quota is exhausted: {@link StoreFullException}</li>
 * <li>403, InvalidAccessKeyId, SignatureDoesNotMatch: an IOException naming the bucket and the
 *     endpoint, saying to check the credentials</li>
 * <li>anything else: an IOException naming the operation, key and bucket</li>
 * </ul>
 * No message, log line or {@code toString} contains the secret key.
 *
 * <p>{@link #put} of an object larger than {@link S3Config#multipartThreshold()} (default 64 MiB)
 * is a multipart upload in {@link S3Config#partSize()} parts, aborted on any failure.
 *
 * <p>{@link #putIfAbsent} is always a single PutObject with {@code If-None-Match: *}, answered 412 when the key
 * exists (it writes leases, a few hundred bytes; a conditional CompleteMultipartUpload is not
 * offered by every S3-compatible server). A server that ignores the header (s3proxy 2.6.0 does, as do some older S3-compatible
 * servers) silently overwrites instead: such a server cannot give leases their exclusivity.
 *
 * <p>Checksums: chunks and map objects carry their own CRC32C, so the SDK's extra request
 * checksums (trailing aws-chunked checksums, which several S3-compatible servers reject) are only
 * sent where S3 requires them.
 *
 * <p>Thread-safe: the S3 client is.
 */
public final class S3Store implements ObjectStore {
    private static final Logger log = LoggerFactory.getLogger(S3Store.class);

    private static final Set<String> CREDENTIAL_CODES = Set.of("InvalidAccessKeyId", "SignatureDoesNotMatch",
            "AccessDenied", "InvalidToken", "ExpiredToken", "AuthorizationHeaderMalformed", "InvalidSecurity",
            "TokenRefreshRequired", "RequestTimeTooSkewed");
    private static final Set<String> FULL_CODES = Set.of("InsufficientStorage", "QuotaExceeded",
            "XMinioStorageFull", "StorageFull", "EntityTooLarge_QuotaExceeded", "XAmzQuotaExceeded");

    private final S3Config config;
    private final S3Client s3;
    private final String describe;

    public S3Store(S3Config config) {
        this(config, apache5(config));
    }

    /**
     * The store on another of the SDK's synchronous HTTP clients (benchmarks compare them); the
     * builder's own connect and socket timeouts apply, the request timeout and retries are the
     * configuration's.
     */
    public S3Store(S3Config config, SdkHttpClient.Builder<?> http) {
        this.config = config;
        this.describe = config.describe();
        S3ClientBuilder b = S3Client.builder()
                .region(Region.of(config.region()))
                .credentialsProvider(StaticCredentialsProvider.create(
                        AwsBasicCredentials.create(config.accessKey(), config.secretKey())))
                .forcePathStyle(config.pathStyle())
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
                .httpClientBuilder(http)
                .overrideConfiguration(o -> o
                        .retryStrategy(AwsRetryStrategy.standardRetryStrategy().toBuilder()
                                .maxAttempts(config.maxRetries() + 1)
                                .build())
                        .apiCallAttemptTimeout(config.requestTimeout()));
        if (config.endpoint() != null) {
            b.endpointOverride(config.endpoint());
        }
        this.s3 = b.build();
        log.debug("opened S3 store {}", describe);
    }

    /** The HTTP client the store uses by default, with the configuration's timeouts. */
    public static Apache5HttpClient.Builder apache5(S3Config config) {
        return Apache5HttpClient.builder()
                .connectionTimeout(config.connectTimeout())
                .socketTimeout(config.requestTimeout())
                .maxConnections(64);
    }

    public S3Config config() {
        return config;
    }

    /** The SDK client, for tests that look at the bucket through requests the store does not make. */
    S3Client client() {
        return s3;
    }

    @Override
    public String describe() {
        return describe;
    }

    @Override
    public String toString() {
        return "S3Store[" + describe + "]";
    }

    private String s3Key(String key) {
        return config.prefix() + ObjectKeys.check(key);
    }

    /**
     * One PutObject, or above {@link S3Config#multipartThreshold()} a multipart upload of
     * {@link S3Config#partSize()} parts (see {@link #putMultipart}).
     */
    @Override
    public void put(String key, ByteBuffer data) throws IOException {
        String k = s3Key(key);
        ByteBuffer body = data.duplicate();
        if (body.remaining() > config.multipartThreshold()) {
            putMultipart(key, k, body);
            return;
        }
        try {
            s3.putObject(PutObjectRequest.builder().bucket(config.bucket()).key(k)
                    .contentLength((long) body.remaining()).build(), RequestBody.fromRemainingByteBuffer(body));
        } catch (SdkException e) {
            throw translate("storing", key, e);
        }
    }

    /**
     * CreateMultipartUpload, UploadPart for each part in order, CompleteMultipartUpload: the object
     * appears whole at the end or not at all. Any failure aborts the upload, so no parts are left
     * behind (unless the abort fails too: then it is logged with the upload id, and the parts stay
     * until a bucket lifecycle rule for incomplete uploads removes them), and the error is mapped
     * as a single PUT's is. Each attempt of a part is retried by the SDK like any request.
     */
    private void putMultipart(String key, String k, ByteBuffer body) throws IOException {
        String uploadId;
        try {
            uploadId = s3.createMultipartUpload(b -> b.bucket(config.bucket()).key(k)).uploadId();
        } catch (SdkException e) {
            throw translate("storing", key, e);
        }
        boolean done = false;
        try {
            List<CompletedPart> parts = new ArrayList<>();
            int partSize = config.partSize();
            for (int number = 1; body.hasRemaining(); number++) {
                ByteBuffer part = body.slice(body.position(), Math.min(partSize, body.remaining()));
                body.position(body.position() + part.remaining());
                int n = number;
                String etag = s3.uploadPart(b -> b.bucket(config.bucket()).key(k).uploadId(uploadId).partNumber(n)
                        .contentLength((long) part.remaining()), RequestBody.fromRemainingByteBuffer(part)).eTag();
                parts.add(CompletedPart.builder().partNumber(n).eTag(etag).build());
            }
            s3.completeMultipartUpload(b -> b.bucket(config.bucket()).key(k).uploadId(uploadId)
                    .multipartUpload(m -> m.parts(parts)));
            done = true;
        } catch (SdkException e) {
            throw translate("storing", key, e);
        } finally {
            if (!done) {
                abort(key, k, uploadId);
            }
        }
    }

    private void abort(String key, String k, String uploadId) {
        try {
            s3.abortMultipartUpload(b -> b.bucket(config.bucket()).key(k).uploadId(uploadId));
        } catch (SdkException e) {
            if (e instanceof AwsServiceException se && se.statusCode() == 404) {
                return; // the upload is gone already, and its parts with it
            }
            log.warn("could not abort the failed multipart upload {} of {} in {}; its parts stay until a lifecycle rule"
                    + " removes them: {}", uploadId, key, describe, translate("aborting the upload of", key, e).getMessage());
        }
    }

    /**
     * A 412 answer means the key exists. If the SDK retried the request (the first attempt may have
     * created the object and then lost its answer), a 412 may be our own object: it counts as
     * created when the stored bytes are exactly ours.
     */
    @Override
    public boolean putIfAbsent(String key, ByteBuffer data) throws IOException {
        String k = s3Key(key);
        PutObjectRequest request = PutObjectRequest.builder().bucket(config.bucket()).key(k)
                .contentLength((long) data.remaining()).ifNoneMatch("*").build();
        for (int attempt = 0; ; attempt++) {
            try {
                s3.putObject(request, RequestBody.fromRemainingByteBuffer(data.duplicate()));
                return true;
            } catch (AwsServiceException e) {
                if (e.statusCode() == 412) {
                    Integer attempts = e.numAttempts();
                    if (attempts != null && attempts > 1) {
                        return ownObject(key, data);
                    }
                    return false;
                }
                // AWS answers 409 ConditionalRequestConflict while another conditional write of the
                // key is in flight; the documented remedy is to try again.
                if (e.statusCode() == 409 && attempt < config.maxRetries()) {
                    sleepBeforeRetry(attempt);
                    continue;
                }
                throw translate("storing (if absent)", key, e);
            } catch (SdkException e) {
                throw translate("storing (if absent)", key, e);
            }
        }
    }

    private boolean ownObject(String key, ByteBuffer data) throws IOException {
        try {
            return get(key).equals(data.duplicate());
        } catch (NoSuchObjectException e) {
            return false;
        }
    }

    private static void sleepBeforeRetry(int attempt) throws IOException {
        try {
            Thread.sleep(Math.min(1000, 20L << Math.min(attempt, 6)));
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while retrying a conditional S3 write");
        }
    }

    @Override
    public ByteBuffer get(String key) throws IOException {
        String k = s3Key(key);
        try {
            ResponseBytes<GetObjectResponse> r = s3.getObjectAsBytes(
                    GetObjectRequest.builder().bucket(config.bucket()).key(k).build());
            return ByteBuffer.wrap(r.asByteArrayUnsafe());
        } catch (SdkException e) {
            throw translate("reading", key, e);
        }
    }

    @Override
    public ByteBuffer get(String key, long offset, int length) throws IOException {
        if (offset < 0 || length < 0) {
            throw new IllegalArgumentException("invalid range of object " + key + ": offset " + offset
                    + " and length " + length + " must not be negative");
        }
        String k = s3Key(key);
        if (length == 0) {
            if (head(key).isEmpty()) {
                throw new NoSuchObjectException(describe, key);
            }
            return ByteBuffer.allocate(0);
        }
        try {
            ResponseBytes<GetObjectResponse> r = s3.getObjectAsBytes(GetObjectRequest.builder()
                    .bucket(config.bucket()).key(k).range("bytes=" + offset + "-" + (offset > Long.MAX_VALUE - length ? Long.MAX_VALUE : offset + length - 1)).build());
            byte[] b = r.asByteArrayUnsafe();
            if (r.response().contentRange() == null && b.length > length) {
                // a server that ignored the Range header sent the whole object
                if (offset >= b.length) {
                    return ByteBuffer.allocate(0);
                }
                int from = (int) offset;
                return ByteBuffer.wrap(java.util.Arrays.copyOfRange(b, from, from + Math.min(length, b.length - from)));
            }
            return ByteBuffer.wrap(b);
        } catch (AwsServiceException e) {
            if (e.statusCode() == 416) {
                return ByteBuffer.allocate(0); // InvalidRange: the offset is at or past the end
            }
            throw translate("reading", key, e);
        } catch (SdkException e) {
            throw translate("reading", key, e);
        }
    }

    @Override
    public Optional<ObjectInfo> head(String key) throws IOException {
        String k = s3Key(key);
        try {
            HeadObjectResponse r = s3.headObject(b -> b.bucket(config.bucket()).key(k));
            return Optional.of(new ObjectInfo(key, r.contentLength()));
        } catch (AwsServiceException e) {
            if (e.statusCode() == 404 && !"NoSuchBucket".equals(code(e))) {
                return Optional.empty();
            }
            throw translate("reading the size of", key, e);
        } catch (SdkException e) {
            throw translate("reading the size of", key, e);
        }
    }

    @Override
    public List<ObjectInfo> list(String prefix, String startAfter) throws IOException {
        ObjectKeys.checkPrefix(prefix);
        String p = config.prefix();
        ListObjectsV2Request.Builder request = ListObjectsV2Request.builder().bucket(config.bucket()).prefix(p + prefix);
        if (startAfter != null && (p + startAfter).compareTo(p + prefix) >= 0) {
            request.startAfter(p + startAfter);
        }
        List<ObjectInfo> out = new ArrayList<>();
        try {
            for (ListObjectsV2Response page : s3.listObjectsV2Paginator(request.build())) {
                for (S3Object o : page.contents()) {
                    String key = o.key().substring(p.length());
                    if (startAfter != null && key.compareTo(startAfter) <= 0) {
                        continue;
                    }
                    if (isKey(key)) {
                        out.add(new ObjectInfo(key, o.size()));
                    }
                }
            }
        } catch (SdkException e) {
            throw translate("listing", prefix + "*", e);
        }
        out.sort(Comparator.comparing(ObjectInfo::key));
        return out;
    }

    /** Objects under the prefix that are not valid keys were not written by a store: skip them. */
    private static boolean isKey(String key) {
        try {
            ObjectKeys.check(key);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    @Override
    public void delete(String key) throws IOException {
        String k = s3Key(key);
        try {
            s3.deleteObject(b -> b.bucket(config.bucket()).key(k));
        } catch (AwsServiceException e) {
            if (e.statusCode() == 404 && !"NoSuchBucket".equals(code(e))) {
                return;
            }
            throw translate("deleting", key, e);
        } catch (SdkException e) {
            throw translate("deleting", key, e);
        }
    }

    @Override
    public void close() {
        s3.close();
    }

    private static String code(AwsServiceException e) {
        return e.awsErrorDetails() == null ? null : e.awsErrorDetails().errorCode();
    }

    private static String serverMessage(AwsServiceException e) {
        return e.awsErrorDetails() == null ? null : e.awsErrorDetails().errorMessage();
    }

    /** The IOException for a failed request; never contains the secret key. */
    IOException translate(String operation, String key, SdkException e) {
        String where = "bucket " + config.bucket() + " at " + endpointText();
        if (e instanceof AwsServiceException se) {
            int status = se.statusCode();
            String code = code(se);
            String message = serverMessage(se);
            String detail = "HTTP " + status + (code == null ? "" : " " + code) + (message == null ? "" : ": " + message);
            String lower = ((code == null ? "" : code) + " " + (message == null ? "" : message)).toLowerCase(Locale.ROOT);
            if ("NoSuchUpload".equals(code)) { // a multipart put's upload, not an object, is gone
                return new IOException("S3 " + operation + " " + key + " in " + describe + " failed: its multipart upload"
                        + " is gone (aborted elsewhere, or removed by a lifecycle rule for incomplete uploads): " + detail, e);
            }
            if (status == 404 && !"NoSuchBucket".equals(code)) {
                NoSuchObjectException nse = new NoSuchObjectException(describe, key);
                nse.initCause(e);
                return nse;
            }
            if ("NoSuchBucket".equals(code)) {
                return new IOException("S3 " + operation + " " + key + " failed: the bucket " + config.bucket()
                        + " does not exist at " + endpointText() + "; create it or fix the store URI (" + detail + ")", e);
            }
            if (status == 507 || (code != null && FULL_CODES.contains(code)) || lower.contains("insufficient storage")
                    || lower.contains("quota") || lower.contains("storage full") || lower.contains("no space")) {
                return new StoreFullException("no room for object " + key + " in " + describe + ": the S3 server says "
                        + detail, e);
            }
            if (status == 403 || (code != null && CREDENTIAL_CODES.contains(code))) {
                return new IOException("S3 access to " + where + " was refused (" + detail + ") while " + operation
                        + " " + key + ": check the credentials (access key id " + config.accessKey()
                        + "; AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or the AWS_PROFILE profile), the region (" + config.region()
                        + ") and the bucket's permissions", e);
            }
            return new IOException("S3 " + operation + " " + key + " in " + describe + " failed: " + detail, e);
        }
        return new IOException("S3 " + operation + " " + key + " in " + where + " failed: " + e.getMessage(), e);
    }

    private String endpointText() {
        return config.endpoint() == null ? "AWS (" + config.region() + ")" : config.endpoint().toString();
    }
}
