package dexauth.cli;

import io.fabric8.kubernetes.api.model.authentication.SelfSubjectReview;
import io.fabric8.kubernetes.api.model.authentication.UserInfo;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "whoami", mixinStandardHelpOptions = true,
        description = {"Show who kube-apiserver takes you for: your Kubernetes username and groups",
                "(a SelfSubjectReview with your kubeconfig's credentials, logging in first if needed).",
                "Role bindings name these: local users are oidc:<email>, directory users oidc:<idp>:<email>."})
final class WhoamiCommand implements Callable<Integer> {
    @Option(names = "--kubeconfig", description = "Kubeconfig to use (default: $KUBECONFIG, else ~/.kube/config).")
    Path kubeconfig;
    @Option(names = "--context", description = "Context to use (default: the current context).")
    String context;

    @Override
    public Integer call() throws IOException {
        Config cfg = config();
        try (KubernetesClient kube = new KubernetesClientBuilder().withConfig(cfg).build()) {
            UserInfo me = kube.resource(new SelfSubjectReview()).create().getStatus().getUserInfo();
            System.out.println("username: " + me.getUsername());
            System.out.println("groups:   " + String.join(", ", me.getGroups()));
            return 0;
        } catch (KubernetesClientException e) {
            throw new UserError("kube-apiserver did not say who you are: " + Errors.describe(e), ExitCode.KUBERNETES);
        }
    }

    private Config config() throws IOException {
        Path file = kubeconfig != null ? kubeconfig : dexauth.kubectl.UserHome.kubeconfig();
        if (!Files.isReadable(file)) {
            throw new UserError("no kubeconfig at " + file + "; write one with `authctl kubeconfig --merge`");
        }
        return Config.fromKubeconfig(context, Files.readString(file), file.toString());
    }
}
