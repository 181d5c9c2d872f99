package dexauth.cli;

import dexauth.kubectl.Kubeconfig;
import dexauth.kubectl.LoginMode;
import dexauth.kubectl.LoginSettings;
import dexauth.kubectl.UserHome;
import dexauth.pki.Pem;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "kubeconfig", mixinStandardHelpOptions = true,
        description = {"Write a kubeconfig that logs you in to the cluster with kubectl (no admin rights needed).",
                "",
                "Its user runs `authctl credential` (kubectl's exec plugin): the first kubectl call asks you",
                "to log in (password, browser or device code), later calls reuse and silently refresh the",
                "token. The apiserver URL and CA, Dex's issuer and CA are embedded; the file holds no token.",
                "",
                "What it needs: the issuer URL, Dex's CA, the apiserver URL and its CA, from --config (the",
                "authctl configuration the Salt states write on the bootstrap node) or from the flags.",
                "Without --output or --merge the kubeconfig goes to stdout."},
        footer = {"", "Examples:",
                "  authctl kubeconfig --config /etc/dexauth/authctl.yaml > lab.kubeconfig",
                "  authctl kubeconfig --username jane@example.com --merge      # adds a context to ~/.kube/config",
                "  authctl kubeconfig --issuer https://10.0.0.10:8443/oidc --issuer-ca dex-ca.crt \\",
                "      --apiserver https://10.0.0.10:6443 --apiserver-ca cluster-ca.crt --login device -o kc",
                "", "Then: kubectl --kubeconfig kc get pods    (or KUBECONFIG=kc kubectl ...)"})
final class KubeconfigCommand implements Callable<Integer> {
    @Option(names = "--config", description = "authctl configuration file to read the addresses and CAs from.")
    Path config;
    @Option(names = "--issuer", description = "Dex's issuer URL.") URI issuer;
    @Option(names = "--issuer-ca", description = "PEM file of the CA of Dex's certificate.") Path issuerCa;
    @Option(names = "--apiserver", description = "kube-apiserver's URL as the workstation reaches it.") URI apiserver;
    @Option(names = "--apiserver-ca", description = "PEM file of the cluster's CA (kube-apiserver's certificate).") Path apiserverCa;
    @Option(names = "--client-id", description = "Dex's public kubectl client (default: from the config, else kubectl).") String clientId;
    @Option(names = "--audience", description = "Dex client kube-apiserver accepts tokens for (default: from the config, else kubernetes).") String audience;
    @Option(names = "--username", description = "Your login name: prefilled at the password prompt; one token cache per user.") String username;
    @Option(names = "--login", defaultValue = "auto",
            description = "How to log in: auto (default), password, browser or device (for SSH sessions without a browser).")
    String login;
    @Option(names = "--cluster-name", description = "Name of the cluster entry (default: the configured cluster name).") String clusterName;
    @Option(names = "--context", description = "Name of the context (default: <username or oidc>@<cluster>).") String context;
    @Option(names = "--authctl", description = "Path of authctl to run (default: this authctl).") Path authctl;

    @ArgGroup(exclusive = true)
    Target target;

    static final class Target {
        @Option(names = {"-o", "--output"}, description = "Write the kubeconfig to this file (mode 0600).") Path output;
        @Option(names = "--merge", description = "Add the cluster, user and context to $KUBECONFIG (first file) or ~/.kube/config, and make the context current.")
        boolean merge;
    }

    @Override
    public Integer call() throws IOException {
        boolean flagsComplete = issuer != null && issuerCa != null && apiserver != null && apiserverCa != null;
        CliConfig cfg = flagsComplete && config == null ? new CliConfig() : CliConfig.load(config);
        URI iss = issuer != null ? issuer : uri(cfg.dex.issuer, "dex.issuer", "--issuer");
        Path issCa = issuerCa != null ? issuerCa : path(cfg.dex.caFile, "dex.caFile", "--issuer-ca");
        URI server = apiserver != null ? apiserver : uri(cfg.apiserver.url, "apiserver.url", "--apiserver");
        Path serverCa = apiserverCa != null ? apiserverCa : path(cfg.apiserver.caFile, "apiserver.caFile", "--apiserver-ca");
        String client = clientId != null ? clientId : cfg.dex.kubectlClientId;
        String aud = audience != null ? audience : cfg.dex.audienceClientId;
        LoginSettings login = new LoginSettings(iss, read(issCa), client, LoginSettings.defaultScopes(aud), username,
                LoginMode.parse(this.login));
        String cluster = clusterName != null ? clusterName : cfg.clusterName;
        String user = (username != null ? username : "oidc") + "@" + cluster;
        Kubeconfig.Entry entry = new Kubeconfig.Entry(cluster, server, read(serverCa), user,
                context != null ? context : user, authctlPath(), login);

        if (target == null) {
            System.out.print(Kubeconfig.standalone(entry));
            return 0;
        }
        Path file = target.merge ? UserHome.kubeconfig() : target.output;
        String existing = target.merge && Files.exists(file) ? Files.readString(file) : null;
        Pem.writePrivate(file, existing != null ? Kubeconfig.merged(existing, entry) : Kubeconfig.standalone(entry));
        System.err.println((existing != null ? "merged context " : "wrote context ") + entry.contextName() + " into "
                + file + "; try: kubectl" + (target.merge ? "" : " --kubeconfig " + file) + " get namespaces");
        return 0;
    }

    /** The launcher (bin/authctl) tells its own absolute path; kubectl needs it, not a PATH lookup. */
    private String authctlPath() {
        if (authctl != null) return authctl.toAbsolutePath().toString();
        String launcher = System.getenv("AUTHCTL_LAUNCHER");
        if (launcher == null || launcher.isBlank()) {
            throw new UserError("cannot tell where authctl is installed; pass --authctl /absolute/path/to/authctl");
        }
        return launcher;
    }

    private static URI uri(String value, String key, String flag) {
        if (value == null || value.isBlank()) throw new UserError(key + " is not in the configuration; pass " + flag);
        return URI.create(value);
    }

    private static Path path(String value, String key, String flag) {
        if (value == null || value.isBlank()) throw new UserError(key + " is not in the configuration; pass " + flag);
        return Path.of(value);
    }

    private static String read(Path pem) {
        try {
            String text = Files.readString(pem);
            if (!text.contains("BEGIN CERTIFICATE")) throw new UserError(pem + " holds no PEM certificate");
            return text;
        } catch (IOException e) {
            throw new UserError("cannot read " + pem + ": " + e.getMessage());
        }
    }
}
