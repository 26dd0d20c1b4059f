package io.viperblock.s3;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import software.amazon.awssdk.profiles.Profile;
import software.amazon.awssdk.profiles.ProfileFile;

/**
 * Keys (and a region) from a profile of the AWS shared files: the credentials file
 * ({@code AWS_SHARED_CREDENTIALS_FILE}, default {@code $HOME/.aws/credentials}) and the config file
 * ({@code AWS_CONFIG_FILE}, default {@code $HOME/.aws/config}), parsed by the SDK's
 * {@link ProfileFile}. A property in the credentials file wins over the same one in the config
 * file, as in the AWS CLI. Only static keys are read: profiles that assume a role, use SSO or a
 * credential process, or carry a session token are refused with a message saying so.
 *
 * <p>Paths and the home directory come from the environment map given, never from the process,
 * so tests can point at temporary files. Messages name the profile and the files, never a key.
 * Immutable.
 *
 * @param accessKey the access key id
 * @param secretKey the secret access key (never printed)
 * @param region    the profile's region, or null
 */
record AwsProfile(String accessKey, String secretKey, String region) {

    @Override
    public String toString() {
        return "AwsProfile[accessKey=" + accessKey + ", secretKey=****, region=" + region + "]";
    }

    /**
     * The keys of profile {@code name}, or empty when {@code explicit} is false (the implied
     * {@code default} profile) and no file holds that profile.
     *
     * @throws IllegalArgumentException naming the profile and the files, when the profile was
     *         asked for by name and is absent, lacks a key, or a file cannot be parsed
     */
    static Optional<AwsProfile> read(String name, boolean explicit, Map<String, String> env) {
        Path credentials = path(env, "AWS_SHARED_CREDENTIALS_FILE", "credentials");
        Path config = path(env, "AWS_CONFIG_FILE", "config");
        List<String> searched = new ArrayList<>();
        List<String> holding = new ArrayList<>();
        List<Profile> found = new ArrayList<>(); // credentials file first: it wins
        for (Path file : new Path[] {credentials, config}) {
            if (file == null) {
                continue;
            }
            searched.add(file.toString());
            Optional<Profile> p = load(file, file == credentials ? ProfileFile.Type.CREDENTIALS : ProfileFile.Type.CONFIGURATION, name);
            if (p.isPresent()) {
                found.add(p.get());
                holding.add(file.toString());
            }
        }
        if (found.isEmpty()) {
            if (!explicit) {
                return Optional.empty();
            }
            throw new IllegalArgumentException("AWS profile \"" + name + "\" (AWS_PROFILE) is not in "
                    + (searched.isEmpty() ? "any file: HOME, AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE are unset"
                            : String.join(" or ", searched))
                    + ": add it there, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
        }
        String where = String.join(" and ", holding);
        String accessKey = property(found, "aws_access_key_id");
        String secretKey = property(found, "aws_secret_access_key");
        if (property(found, "aws_session_token") != null) {
            throw new IllegalArgumentException("AWS profile \"" + name + "\" in " + where + " has temporary credentials"
                    + " (aws_session_token), which the S3 store does not support: use a profile with long-term keys");
        }
        if (accessKey == null || secretKey == null) {
            String missing = accessKey == null && secretKey == null ? "aws_access_key_id and aws_secret_access_key"
                    : accessKey == null ? "aws_access_key_id" : "aws_secret_access_key";
            throw new IllegalArgumentException("AWS profile \"" + name + "\" in " + where + " has no " + missing
                    + " (role, SSO and credential_process profiles are not supported): add the keys to the profile,"
                    + " or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
        }
        return Optional.of(new AwsProfile(accessKey, secretKey, property(found, "region")));
    }

    private static Optional<Profile> load(Path file, ProfileFile.Type type, String name) {
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        try {
            return ProfileFile.builder().content(file).type(type).build().profile(name);
        } catch (RuntimeException e) { // the parser's IllegalStateException, an SdkClientException, an UncheckedIOException

            throw new IllegalArgumentException("cannot read the AWS " + (type == ProfileFile.Type.CREDENTIALS
                    ? "credentials" : "config") + " file " + file + ": " + e.getMessage(), e);
        }
    }

    private static String property(List<Profile> profiles, String key) {
        for (Profile p : profiles) {
            Optional<String> v = p.property(key).map(String::trim).filter(s -> !s.isEmpty());
            if (v.isPresent()) {
                return v.get();
            }
        }
        return null;
    }

    /** The file named by {@code variable}, else {@code $HOME/.aws/<name>}, else null. */
    private static Path path(Map<String, String> env, String variable, String name) {
        String home = S3Config.get(env, "HOME");
        String file = S3Config.get(env, variable);
        if (file != null) {
            return Path.of(file.startsWith("~/") && home != null ? home + file.substring(1) : file);
        }
        return home == null ? null : Path.of(home, ".aws", name);
    }
}
