package dexauth.adminui;

import dexauth.account.ForwardAuth;
import dexauth.chart.ChartSecrets;
import dexauth.errors.NotFound;
import dexauth.rbac.RoleAssignments;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.Ingress;
import io.fabric8.kubernetes.api.model.networking.v1.IngressBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Supplier;

/**
 * The Kubernetes objects of the admin UIs, all labelled {@value AdminUi#LABEL}=&lt;name&gt;:
 * each UI's Ingress on the control-plane class (forward-auth: ingress-nginx's auth annotations
 * towards the account service), for OIDC UIs their client secret (a key of Dex's client-secrets
 * Secret, created once) and the Secret in the UI's namespace, for Grafana its generated settings.
 * {@link #ensure} creates and updates (before the chart, whose Dex reads the client secrets);
 * {@link #prune} deletes what no UI of pillar needs any more (after the chart).
 */
public final class AdminUiObjects {
    /** Removes the console's session cookie from what the UI receives (a UI must never hold it). */
    public static final String STRIP_COOKIE_SNIPPET = """
            set $dexauth_cookie $http_cookie;
            if ($http_cookie ~ "^(.*?;\\s*)?dexauth_console=[^;]*(?:;\\s*)?(.*)$") {
              set $dexauth_cookie $1$2;
            }
            proxy_set_header Cookie $dexauth_cookie;
            """;
    static final String MANAGED_BY = "app.kubernetes.io/managed-by";

    /**
     * What the objects depend on besides the UIs: Dex's namespace (its client-secrets Secret and
     * the role store), the account service's in-cluster URL and public path, the admin host's
     * origin, the issuer and Dex's CA, the ingress class and hosts, the login pages' product name.
     */
    public record Context(String dexNamespace, URI accountServiceUrl, String consolePath, URI adminOrigin,
                          URI issuer, Supplier<String> dexCa, String ingressClass, List<String> hosts,
                          String productName) {}

    private AdminUiObjects() {}

    /** Creates or updates every object of every UI; returns what changed (empty when nothing did). */
    public static Map<String, String> ensure(KubernetesClient kube, Context ctx, List<AdminUi> uis,
                                             Supplier<RoleAssignments.Holders> holders, boolean dry) {
        Map<String, String> changes = new LinkedHashMap<>();
        List<String> clients = uis.stream().filter(u -> u.mode() == AdminUi.Mode.OIDC).map(AdminUi::clientId).toList();
        if (!clients.isEmpty()) ChartSecrets.ensureClientSecrets(kube, ctx.dexNamespace(), clients, changes, dry);
        String roleExpression = null;
        for (AdminUi ui : uis) {
            if (kube.namespaces().withName(ui.namespace()).get() == null) {
                throw new NotFound("namespace '" + ui.namespace() + "' of admin UI '" + ui.name()
                        + "' does not exist; create it (or fix dexauth:admin_uis) and apply again");
            }
            apply(kube, ingress(ui, ctx), changes, dry);
            if (ui.mode() == AdminUi.Mode.OIDC) {
                Map<String, String> data = new LinkedHashMap<>();
                data.put(OidcSecret.CLIENT_ID, ui.clientId());
                data.put(OidcSecret.CLIENT_SECRET, clientSecret(kube, ctx.dexNamespace(), ui.clientId()));
                data.put(OidcSecret.ISSUER, ctx.issuer().toString());
                data.put(OidcSecret.CA, ctx.dexCa().get());
                if (ui.app() == AdminUi.App.GRAFANA) {
                    if (roleExpression == null) roleExpression = RoleExpression.of(holders.get());
                    GrafanaSettings g = GrafanaSettings.genericOauth(ui, ctx.adminOrigin(), ctx.issuer(),
                            ctx.productName(), roleExpression);
                    data.put(OidcSecret.GRAFANA_INI, g.ini());
                    data.put(OidcSecret.HELM_VALUES, g.helmValues());
                }
                apply(kube, new SecretBuilder().withMetadata(meta(ui, ui.oidcSecretName())).withType("Opaque")
                        .withData(base64(data)).build(), changes, dry);
            } else if (ui.app() == AdminUi.App.GRAFANA) {
                GrafanaSettings g = GrafanaSettings.authProxy(ui, ctx.adminOrigin(), ctx.consolePath());
                apply(kube, new ConfigMapBuilder().withMetadata(meta(ui, ui.settingsConfigMapName()))
                        .withData(Map.of(OidcSecret.GRAFANA_INI, g.ini(), OidcSecret.HELM_VALUES, g.helmValues()))
                        .build(), changes, dry);
            }
        }
        return changes;
    }

    /**
     * Deletes the labelled objects no UI of {@code uis} needs (a UI removed from pillar, or whose
     * mode changed) and the client secrets of UIs that are no longer OIDC clients. An empty list
     * removes everything made for admin UIs.
     */
    public static Map<String, String> prune(KubernetesClient kube, String dexNamespace, List<AdminUi> uis, boolean dry) {
        Set<String> wanted = new HashSet<>();
        for (AdminUi ui : uis) {
            wanted.add("ingress/" + ui.namespace() + "/" + ui.ingressName());
            if (ui.mode() == AdminUi.Mode.OIDC) wanted.add("secret/" + ui.namespace() + "/" + ui.oidcSecretName());
            else if (ui.app() == AdminUi.App.GRAFANA) {
                wanted.add("configmap/" + ui.namespace() + "/" + ui.settingsConfigMapName());
            }
        }
        Map<String, String> changes = new LinkedHashMap<>();
        var ingresses = kube.network().v1().ingresses();
        for (Ingress i : ingresses.inAnyNamespace().withLabel(AdminUi.LABEL).list().getItems()) {
            delete(ingresses.inNamespace(i.getMetadata().getNamespace()).withName(i.getMetadata().getName()),
                    "ingress", i, wanted, changes, dry);
        }
        for (Secret s : kube.secrets().inAnyNamespace().withLabel(AdminUi.LABEL).list().getItems()) {
            delete(kube.secrets().inNamespace(s.getMetadata().getNamespace()).withName(s.getMetadata().getName()),
                    "secret", s, wanted, changes, dry);
        }
        for (ConfigMap c : kube.configMaps().inAnyNamespace().withLabel(AdminUi.LABEL).list().getItems()) {
            delete(kube.configMaps().inNamespace(c.getMetadata().getNamespace()).withName(c.getMetadata().getName()),
                    "configmap", c, wanted, changes, dry);
        }
        Set<String> clients = new HashSet<>();
        uis.stream().filter(u -> u.mode() == AdminUi.Mode.OIDC).forEach(u -> clients.add(u.clientId()));
        ChartSecrets.removeClientSecrets(kube, dexNamespace, k -> k.startsWith("admin-ui-") && !clients.contains(k),
                changes, dry);
        return changes;
    }

    private static void delete(io.fabric8.kubernetes.client.dsl.Resource<?> resource, String kind, HasMetadata o,
                               Set<String> wanted, Map<String, String> changes, boolean dry) {
        String key = kind + "/" + o.getMetadata().getNamespace() + "/" + o.getMetadata().getName();
        if (wanted.contains(key)) return;
        changes.put(key, "deleted (admin UI '" + o.getMetadata().getLabels().get(AdminUi.LABEL) + "' no longer needs it)");
        if (!dry) resource.delete();
    }

    /** The UI's Ingress: its path on the admin host; in forward-auth mode, each request checked by the account service. */
    static Ingress ingress(AdminUi ui, Context ctx) {
        Map<String, String> annotations = new LinkedHashMap<>();
        if (ui.mode() == AdminUi.Mode.FORWARD_AUTH) {
            annotations.put("nginx.ingress.kubernetes.io/auth-url", ctx.accountServiceUrl() + "/auth/verify");
            annotations.put("nginx.ingress.kubernetes.io/auth-signin",
                    "https://$host" + ctx.consolePath() + "/login?return=$escaped_request_uri");
            annotations.put("nginx.ingress.kubernetes.io/auth-response-headers", String.join(",", ForwardAuth.USER,
                    ForwardAuth.EMAIL, ForwardAuth.NAME, ForwardAuth.GROUPS, ForwardAuth.ROLE, ForwardAuth.GRAFANA_ROLE));
            annotations.put("nginx.ingress.kubernetes.io/configuration-snippet", STRIP_COOKIE_SNIPPET);
        }
        IngressBuilder b = new IngressBuilder().withMetadata(meta(ui, ui.ingressName()));
        b.editMetadata().withAnnotations(annotations).endMetadata();
        var spec = b.withNewSpec().withIngressClassName(ctx.ingressClass());
        for (String host : ctx.hosts().isEmpty() ? java.util.Collections.<String>singletonList(null) : ctx.hosts()) {
            spec = spec.addNewRule().withHost(host).withNewHttp().addNewPath().withPath(ui.path()).withPathType("Prefix")
                    .withNewBackend().withNewService().withName(ui.serviceName()).withNewPort()
                    .withNumber(ui.servicePort()).endPort().endService().endBackend().endPath().endHttp().endRule();
        }
        return spec.endSpec().build();
    }

    private static io.fabric8.kubernetes.api.model.ObjectMeta meta(AdminUi ui, String name) {
        return new io.fabric8.kubernetes.api.model.ObjectMetaBuilder().withName(name).withNamespace(ui.namespace())
                .addToLabels(MANAGED_BY, "dexauth").addToLabels(AdminUi.LABEL, ui.name()).build();
    }

    private static void apply(KubernetesClient kube, HasMetadata want, Map<String, String> changes, boolean dry) {
        String ns = want.getMetadata().getNamespace();
        String name = want.getMetadata().getName();
        HasMetadata have = kube.resources(want.getClass()).inNamespace(ns).withName(name).get();
        if (have != null && same(have, want)) return;
        changes.put(want.getKind().toLowerCase(java.util.Locale.ROOT) + "/" + ns + "/" + name,
                have == null ? "created" : "updated");
        if (!dry) kube.resource(want).forceConflicts().serverSideApply();
    }

    private static boolean same(HasMetadata have, HasMetadata want) {
        if (!Objects.equals(have.getMetadata().getLabels(), want.getMetadata().getLabels())) return false;
        Map<String, String> a = have.getMetadata().getAnnotations() == null ? Map.of() : have.getMetadata().getAnnotations();
        Map<String, String> b = want.getMetadata().getAnnotations() == null ? Map.of() : want.getMetadata().getAnnotations();
        if (!a.equals(b)) return false;
        if (have instanceof Secret h && want instanceof Secret w) return Objects.equals(h.getData(), w.getData());
        if (have instanceof ConfigMap h && want instanceof ConfigMap w) return Objects.equals(h.getData(), w.getData());
        if (have instanceof Ingress h && want instanceof Ingress w) return Objects.equals(h.getSpec(), w.getSpec());
        return false;
    }

    /** The client's secret from Dex's client-secrets Secret (created just before, or once long ago). */
    private static String clientSecret(KubernetesClient kube, String dexNamespace, String clientId) {
        Secret s = kube.secrets().inNamespace(dexNamespace).withName(ChartSecrets.CLIENT_SECRETS).get();
        String b64 = s == null || s.getData() == null ? null : s.getData().get(clientId);
        return b64 == null ? "" : new String(Base64.getDecoder().decode(b64), StandardCharsets.UTF_8);
    }

    private static Map<String, String> base64(Map<String, String> plain) {
        Map<String, String> out = new LinkedHashMap<>();
        plain.forEach((k, v) -> out.put(k, Base64.getEncoder().encodeToString(v.getBytes(StandardCharsets.UTF_8))));
        return out;
    }
}
