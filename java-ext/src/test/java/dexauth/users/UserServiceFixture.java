package dexauth.users;

import io.fabric8.kubernetes.client.KubernetesClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

import java.io.IOException;

/** A user service over a mock Kubernetes API and an in-process Dex gRPC server, fresh for each test. */
abstract class UserServiceFixture {
    static final String NS = "dexauth";
    static final String ADMIN = "admin@lab.local";

    MockCluster cluster;
    KubernetesClient kube;
    FakeDex dex;
    UserService users;

    @BeforeEach
    void startCluster() throws IOException {
        cluster = new MockCluster();
        kube = cluster.kube;
        dex = new FakeDex();
        users = new UserService(kube, dex.api, NS, PasswordPolicy.defaults(), 10, ADMIN); // 10: the lowest allowed
    }

    @AfterEach
    void stopCluster() {
        dex.close();
        cluster.close();
    }
}
