package io.viperblock.s3;

import io.viperblock.core.io.CrashFs;
import io.viperblock.core.volume.VolumePowerLossTest;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The engine's power-loss campaign with the store on S3 (s3proxy): the WAL's disk loses power at
 * random points of writes, recoveries, closes and takeovers; the store, being remote, keeps what
 * it acknowledged. Every flushed write must survive, and nothing else may appear.
 */
class S3PowerLossTest {
    @RegisterExtension
    static final S3ProxyFixture proxy = S3ProxyFixture.perClass();

    @ParameterizedTest
    @EnumSource(CrashFs.Mode.class)
    void flushedWritesSurvivePowerLoss(CrashFs.Mode mode) throws Exception {
        int points = Integer.getInteger("campaign.powerloss.s3points", 10);
        long seed = Long.getLong("campaign.seed", System.nanoTime());
        String bucket = proxy.newBucket();
        Map<Long, S3Store> worlds = new HashMap<>();
        try {
            VolumePowerLossTest.campaign(mode, seed, points, "s3proxy",
                    (fs, world) -> worlds.computeIfAbsent(world, w -> new S3Store(proxy.config(bucket, "world-" + w + "/"))));
        } finally {
            for (S3Store s : worlds.values()) {
                s.close();
            }
        }
    }
}
