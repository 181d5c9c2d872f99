package dexauth.cli;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * authctl's own configuration file (written by the Salt states on the bootstrap node,
 * and by the lab). It holds addresses and file paths only, never a secret.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public final class CliConfig {
    public static final Path DEFAULT = Path.of("/etc/dexauth/authctl.yaml");

    @JsonIgnoreProperties(ignoreUnknown = true)
    public static final class SaltApi {
        public String url;
        public String username = "root";
        public String eauth = "pam";
        public String caFile;
        /** Grain (key:value) of the minions that deploy Dex: `authctl idp` re-applies the Dex states there. */
        public String target = "dexauth_roles:bootstrap";
        /** Which base pillar root holds the operator's files (dexauth_idps.sls); upgrades never replace it. */
        public int pillarRootIndex = 0;
    }

    @JsonIgnoreProperties(ignoreUnknown = true)
    public static final class Dex {
        public String issuer;
        public String grpcAddress;
        public String caFile;
        public String clientCert;
        public String clientKey;
        public String clientId = "authctl";
        public String audienceClientId = "kubernetes";
        /** Public client of workstation kubectl logins (`authctl kubeconfig`, `authctl credential`). */
        public String kubectlClientId = "kubectl";
    }

    @JsonIgnoreProperties(ignoreUnknown = true)
    public static final class Apiserver {
        public String url;
        public String caFile;
    }

    @JsonIgnoreProperties(ignoreUnknown = true)
    public static final class Users {
        public String namespace = "dexauth";
        public int bcryptCost = 12;
        public int passwordMinLength = 12;
        public String superadminEmail;
    }

    @JsonIgnoreProperties(ignoreUnknown = true)
    public static final class Account {
        /** The account service (console and JSON API); default: the issuer's host, path /account. */
        public String url;
    }

    public SaltApi saltApi = new SaltApi();
    public Account account = new Account();
    public Apiserver apiserver = new Apiserver();
    public Users users = new Users();
    public Dex dex = new Dex();
    public String kubeconfig;
    /** The cluster's name (pillar dexauth:cluster_name): names the kubeconfig's cluster and context. */
    public String clusterName = "kubernetes";

    static CliConfig load(Path explicit) {
        Path path = explicit;
        if (path == null && System.getenv("AUTHCTL_CONFIG") != null) path = Path.of(System.getenv("AUTHCTL_CONFIG"));
        if (path == null) path = DEFAULT;
        if (!Files.exists(path)) {
            throw new UserError("configuration file " + path + " not found; pass --config FILE or set AUTHCTL_CONFIG"
                    + " (the Salt states write it to " + DEFAULT + " on the bootstrap node)");
        }
        try {
            return new ObjectMapper(new YAMLFactory()).readValue(path.toFile(), CliConfig.class);
        } catch (IOException e) {
            throw new UserError("cannot read " + path + ": " + e.getMessage());
        }
    }
}
