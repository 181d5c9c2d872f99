package dexauth.kubectl;

import dexauth.errors.Invalid;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * A kubeconfig whose user runs {@code authctl credential}: the apiserver's URL and CA, Dex's
 * issuer and CA, all embedded, so the file works on any workstation that has authctl. It holds
 * no token and no secret.
 */
public final class Kubeconfig {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory()
            .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER).enable(YAMLGenerator.Feature.MINIMIZE_QUOTES));

    /** One cluster, one user, one context, named as given. */
    public record Entry(String clusterName, URI server, String serverCaPem, String userName, String contextName,
                        String authctlPath, LoginSettings login) {}

    static final String INSTALL_HINT = String.join("\n",
            "This kubeconfig logs in with authctl (dexauth's CLI), which was not found.",
            "Install authctl from your cluster's bootstrap node (bin/authctl and its jar; Java 17),",
            "or ask your cluster operator; then run `authctl kubeconfig` again.");

    private Kubeconfig() {}

    /** The exec plugin's arguments: nothing secret, since they are visible to every local user. */
    public static List<String> execArgs(LoginSettings s) {
        List<String> args = new ArrayList<>(List.of("credential", "--issuer", s.issuer().toString(),
                "--issuer-ca-data", b64(s.caPem()), "--client-id", s.clientId(), "--scopes", String.join(",", s.scopes())));
        if (s.username() != null) args.addAll(List.of("--username", s.username()));
        if (s.mode() != LoginMode.AUTO) args.addAll(List.of("--login", s.mode().flag()));
        return args;
    }

    /** A whole kubeconfig holding only {@code e}, its context current. */
    public static String standalone(Entry e) {
        return merged(null, e);
    }

    /**
     * {@code existing} (a kubeconfig's text, or null) with {@code e}'s cluster, user and context
     * added or replaced by name, and its context made current; everything else is kept.
     */
    public static String merged(String existing, Entry e) {
        ObjectNode root;
        try {
            JsonNode parsed = existing == null || existing.isBlank() ? null : YAML.readTree(existing);
            if (parsed != null && !parsed.isObject()) throw new Invalid("existing kubeconfig", "is not a YAML map");
            root = parsed == null ? YAML.createObjectNode() : (ObjectNode) parsed;
        } catch (IOException ex) {
            throw new Invalid("existing kubeconfig", "is not valid YAML: " + ex.getMessage());
        }
        root.put("apiVersion", "v1");
        root.put("kind", "Config");

        ObjectNode cluster = YAML.createObjectNode();
        cluster.put("server", e.server().toString());
        cluster.put("certificate-authority-data", b64(e.serverCaPem()));
        upsert(root, "clusters", e.clusterName(), "cluster", cluster);

        ObjectNode exec = YAML.createObjectNode();
        exec.put("apiVersion", ExecCredential.API_V1);
        exec.put("command", e.authctlPath());
        ArrayNode args = exec.putArray("args");
        execArgs(e.login()).forEach(args::add);
        exec.put("interactiveMode", "IfAvailable");
        exec.put("provideClusterInfo", false);
        exec.put("installHint", INSTALL_HINT);
        ObjectNode user = YAML.createObjectNode();
        user.set("exec", exec);
        upsert(root, "users", e.userName(), "user", user);

        ObjectNode context = YAML.createObjectNode();
        context.put("cluster", e.clusterName());
        context.put("user", e.userName());
        upsert(root, "contexts", e.contextName(), "context", context);
        root.put("current-context", e.contextName());
        if (!root.has("preferences")) root.putObject("preferences");
        try {
            return YAML.writeValueAsString(root);
        } catch (IOException ex) {
            throw new IllegalStateException(ex);
        }
    }

    private static void upsert(ObjectNode root, String list, String name, String field, ObjectNode value) {
        JsonNode current = root.get(list);
        ArrayNode items = current instanceof ArrayNode a ? a : root.putArray(list);
        ObjectNode item = YAML.createObjectNode();
        item.put("name", name);
        item.set(field, value);
        for (int i = 0; i < items.size(); i++) {
            if (name.equals(items.get(i).path("name").asText(null))) {
                items.set(i, item);
                return;
            }
        }
        items.add(item);
    }

    private static String b64(String pem) {
        return Base64.getEncoder().encodeToString(pem.getBytes(StandardCharsets.UTF_8));
    }
}
