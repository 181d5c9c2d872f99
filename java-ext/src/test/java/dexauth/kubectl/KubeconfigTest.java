package dexauth.kubectl;

import dexauth.errors.Invalid;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.net.URI;
import java.util.List;
import org.junit.jupiter.api.Test;

class KubeconfigTest {
    private static final String PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    private static final LoginSettings LOGIN = new LoginSettings(URI.create("https://10.0.0.10:8443/oidc"), PEM,
            "kubectl", LoginSettings.defaultScopes("kubernetes"), "jane@example.com", LoginMode.DEVICE);
    private static final Kubeconfig.Entry ENTRY = new Kubeconfig.Entry("prod", URI.create("https://10.0.0.10:6443"), PEM,
            "jane@example.com@prod", "jane@example.com@prod", "/opt/dexauth/bin/authctl", LOGIN);

    @Test
    void theUserRunsAuthctlCredentialWithEverythingEmbedded() throws Exception {
        JsonNode kc = new YAMLMapper().readTree(Kubeconfig.standalone(ENTRY));
        assertEquals("jane@example.com@prod", kc.path("current-context").asText());
        JsonNode exec = kc.at("/users/0/user/exec");
        assertEquals("client.authentication.k8s.io/v1", exec.path("apiVersion").asText());
        assertEquals("IfAvailable", exec.path("interactiveMode").asText());
        assertEquals("/opt/dexauth/bin/authctl", exec.path("command").asText());
        assertFalse(exec.path("installHint").asText().isBlank());
        List<String> args = new YAMLMapper().convertValue(exec.path("args"), List.class);
        assertEquals("credential", args.get(0));
        assertEquals("https://10.0.0.10:8443/oidc", args.get(args.indexOf("--issuer") + 1));
        assertEquals("device", args.get(args.indexOf("--login") + 1));
        assertTrue(args.get(args.indexOf("--scopes") + 1).contains("audience:server:client_id:kubernetes"));
        assertEquals("https://10.0.0.10:6443", kc.at("/clusters/0/cluster/server").asText());
        assertFalse(kc.at("/clusters/0/cluster/certificate-authority-data").asText().isEmpty());
    }

    @Test
    void mergeKeepsOtherEntriesAndReplacesItsOwn() throws Exception {
        String existing = """
                apiVersion: v1
                kind: Config
                clusters: [{name: other, cluster: {server: https://other:6443}}]
                users: [{name: other, user: {token: keep-me}}]
                contexts: [{name: other, context: {cluster: other, user: other}}]
                current-context: other
                """;
        String once = Kubeconfig.merged(existing, ENTRY);
        String twice = Kubeconfig.merged(once, ENTRY);
        assertEquals(once, twice, "merging the same entry again changes nothing");
        JsonNode kc = new YAMLMapper().readTree(twice);
        assertEquals(2, kc.path("clusters").size());
        assertEquals(2, kc.path("users").size());
        assertEquals("keep-me", kc.at("/users/0/user/token").asText());
        assertEquals("jane@example.com@prod", kc.path("current-context").asText());
    }

    @Test
    void aBrokenKubeconfigIsRefusedNotOverwritten() {
        assertThrows(Invalid.class, () -> Kubeconfig.merged("- just\n- a list\n", ENTRY));
    }

    @Test
    void settingsAreCheckedWhereTheyAreMade() {
        assertThrows(Invalid.class, () -> new LoginSettings(URI.create("http://10.0.0.10/oidc"), PEM,
                "kubectl", LoginSettings.defaultScopes("kubernetes"), null, null));
        assertThrows(Invalid.class, () -> LoginMode.parse("telepathy"));
        assertEquals("kubernetes", LOGIN.audience());
    }
}
