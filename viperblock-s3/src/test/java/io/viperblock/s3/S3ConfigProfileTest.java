package io.viperblock.s3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** {@link S3Config#fromUri} with keys from AWS profiles in temporary shared files. */
class S3ConfigProfileTest {
    @RegisterExtension
    static final S3ProxyFixture proxy = S3ProxyFixture.perClass();

    static final String CREDENTIALS = """
            [default]
            aws_access_key_id = DEFAULTKEY
            aws_secret_access_key = default-secret-Hh3

            [dev]
            aws_access_key_id=DEVKEY
            aws_secret_access_key=dev-secret-Kk8

            [half]
            aws_access_key_id = HALFKEY

            [temporary]
            aws_access_key_id = TMPKEY
            aws_secret_access_key = tmp-secret-Tt1
            aws_session_token = token-Zz0
            """;
    static final String CONFIG = """
            [default]
            region = us-west-2

            [profile dev]
            region = EU-Central-1

            [profile cfgonly]
            aws_access_key_id = CFGKEY
            aws_secret_access_key = cfg-secret-Cc4
            region = ap-south-1

            [profile role]
            role_arn = arn:aws:iam::123456789012:role/r
            source_profile = default
            """;

    @TempDir
    Path home;

    private Map<String, String> env(String... kv) throws IOException {
        Files.createDirectories(home.resolve(".aws"));
        Files.writeString(home.resolve(".aws/credentials"), CREDENTIALS);
        Files.writeString(home.resolve(".aws/config"), CONFIG);
        Map<String, String> m = new HashMap<>();
        m.put("HOME", home.toString());
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return m;
    }

    @Test
    void aNamedProfileGivesKeysAndRegion() throws Exception {
        S3Config c = S3Config.fromUri("s3://bkt/p", env("AWS_PROFILE", "dev"));
        assertEquals("DEVKEY", c.accessKey());
        assertEquals("dev-secret-Kk8", c.secretKey());
        assertEquals("eu-central-1", c.region(), "from [profile dev] of the config file");
        assertFalse(c.toString().contains("dev-secret-Kk8"), c.toString());
        assertEquals("eu-west-3", S3Config.fromUri("s3://bkt/p", env("AWS_PROFILE", "dev", "AWS_REGION", "eu-west-3")).region(),
                "AWS_REGION wins over the profile");
    }

    @Test
    void withoutAwsProfileTheDefaultProfileIsUsed() throws Exception {
        S3Config c = S3Config.fromUri("s3://bkt", env());
        assertEquals("DEFAULTKEY", c.accessKey());
        assertEquals("default-secret-Hh3", c.secretKey());
        assertEquals("us-west-2", c.region());
    }

    @Test
    void keysInTheEnvironmentWinOverProfiles() throws Exception {
        S3Config c = S3Config.fromUri("s3://bkt", env("AWS_PROFILE", "dev", "AWS_ACCESS_KEY_ID", "ENVKEY", "AWS_SECRET_ACCESS_KEY", "env-secret"));
        assertEquals("ENVKEY", c.accessKey());
        assertEquals("env-secret", c.secretKey());
        assertEquals("us-east-1", c.region(), "no region is taken from a profile whose keys are not used");
    }

    @Test
    void keysMayBeInTheConfigFileAndFilesMayBeNamed() throws Exception {
        assertEquals("CFGKEY", S3Config.fromUri("s3://bkt", env("AWS_PROFILE", "cfgonly")).accessKey());
        Path creds = Files.writeString(home.resolve("elsewhere-creds"), "[ci]\naws_access_key_id = CIKEY\naws_secret_access_key = ci-secret\n");
        Path cfg = Files.writeString(home.resolve("elsewhere-config"), "[profile ci]\nregion = sa-east-1\n");
        S3Config c = S3Config.fromUri("s3://bkt", Map.of("AWS_PROFILE", "ci", "AWS_SHARED_CREDENTIALS_FILE", creds.toString(),
                "AWS_CONFIG_FILE", cfg.toString()));
        assertEquals("CIKEY", c.accessKey());
        assertEquals("sa-east-1", c.region());
        assertEquals("CIKEY", S3Config.fromUri("s3://bkt", Map.of("AWS_PROFILE", "ci", "HOME", home.toString(),
                "AWS_SHARED_CREDENTIALS_FILE", "~/elsewhere-creds")).accessKey(), "~ is $HOME");
    }

    @Test
    void aMissingProfileIsOneErrorNamingItAndTheFiles() throws Exception {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> S3Config.fromUri("s3://bkt", env("AWS_PROFILE", "prod")));
        System.out.println("missing profile: " + e.getMessage());
        assertTrue(e.getMessage().contains("\"prod\"") && e.getMessage().contains(home.resolve(".aws/credentials").toString())
                && e.getMessage().contains(home.resolve(".aws/config").toString()), e.getMessage());
        noSecretIn(e);
        // AWS_PROFILE named but no file at all
        e = assertThrows(IllegalArgumentException.class,
                () -> S3Config.fromUri("s3://bkt", Map.of("AWS_PROFILE", "dev", "HOME", home.resolve("nowhere").toString())));
        assertTrue(e.getMessage().contains("\"dev\"") && e.getMessage().contains("nowhere"), e.getMessage());
    }

    @Test
    void aProfileWithoutKeysIsOneErrorNamingTheMissingKey() throws Exception {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> S3Config.fromUri("s3://bkt", env("AWS_PROFILE", "half")));
        System.out.println("half a profile: " + e.getMessage());
        assertTrue(e.getMessage().contains("\"half\"") && e.getMessage().contains("aws_secret_access_key")
                && e.getMessage().contains(home.resolve(".aws/credentials").toString()), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> S3Config.fromUri("s3://bkt", env("AWS_PROFILE", "role")));
        assertTrue(e.getMessage().contains("\"role\"") && e.getMessage().contains("role"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> S3Config.fromUri("s3://bkt", env("AWS_PROFILE", "temporary")));
        assertTrue(e.getMessage().contains("aws_session_token"), e.getMessage());
        noSecretIn(e);
    }

    @Test
    void noProfileAndNoKeysIsTheUsualError() throws Exception {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> S3Config.fromUri("s3://bkt", Map.of("HOME", home.resolve("empty").toString())));
        assertTrue(e.getMessage().contains("AWS_ACCESS_KEY_ID") && e.getMessage().contains("AWS_PROFILE"), e.getMessage());
    }

    @Test
    void aBrokenFileIsNamed() throws Exception {
        Path bad = Files.writeString(home.resolve("bad"), "[dev]\nthis line has no equals sign\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> S3Config.fromUri("s3://bkt", Map.of("AWS_PROFILE", "dev", "AWS_SHARED_CREDENTIALS_FILE", bad.toString())));
        System.out.println("broken file: " + e.getMessage());
        assertTrue(e.getMessage().contains(bad.toString()), e.getMessage());
    }

    @Test
    void keysFromAProfileWorkAgainstS3proxy() throws Exception {
        Path creds = Files.writeString(home.resolve("proxy-creds"), "[proxy]\naws_access_key_id = " + S3ProxyFixture.IDENTITY
                + "\naws_secret_access_key = " + S3ProxyFixture.CREDENTIAL + "\n");
        S3Config c = S3Config.fromUri("s3://" + proxy.newBucket() + "/vb", Map.of("AWS_PROFILE", "proxy",
                "AWS_SHARED_CREDENTIALS_FILE", creds.toString(), "AWS_ENDPOINT_URL", proxy.endpoint().toString()));
        try (S3Store store = new S3Store(c)) {
            store.put("k", ByteBuffer.wrap(new byte[] {1, 2, 3}));
            assertEquals(ByteBuffer.wrap(new byte[] {1, 2, 3}), store.get("k"));
        }
    }

    private static void noSecretIn(Exception e) {
        for (String secret : new String[] {"default-secret-Hh3", "dev-secret-Kk8", "tmp-secret-Tt1", "token-Zz0", "cfg-secret-Cc4"}) {
            assertFalse(e.getMessage().contains(secret), e.getMessage());
        }
    }
}
