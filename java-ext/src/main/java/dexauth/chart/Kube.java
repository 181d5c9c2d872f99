package dexauth.chart;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Opens a Kubernetes client from a kubeconfig file (TLS verified as the kubeconfig says). */
public final class Kube {
    private Kube() {}

    public static KubernetesClient client(Path kubeconfig) throws IOException {
        if (!Files.isReadable(kubeconfig)) {
            throw new IOException("kubeconfig " + kubeconfig + " is missing or unreadable");
        }
        Config config = Config.fromKubeconfig(Files.readString(kubeconfig));
        config.setRequestTimeout(30_000);
        config.setConnectionTimeout(5_000);
        return new KubernetesClientBuilder().withConfig(config).build();
    }
}
