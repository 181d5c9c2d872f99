package dexauth.chart;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import com.marcnuri.helm.TemplateCommand;
import dexauth.config.Versions;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.Test;

/** Renders charts/dex with the embedded Helm (no helm binary needed) and checks what Dex gets. */
class DexChartTest {

  // Surefire runs in java-ext/, the chart lives at the repository root.
  private static final Path CHART = Path.of("..", "charts", "dex");
  private static final String ISSUER = "https://127.0.0.1:5556/oidc";
  private static final Pattern DOC_SEPARATOR = Pattern.compile("^---$", Pattern.MULTILINE);
  private static final YAMLMapper YAML = new YAMLMapper();

  @Test
  void lintsCleanInStrictMode() {
    assertTrue(Files.isDirectory(CHART), "chart not found at " + CHART.toAbsolutePath());
    LintResult result = new Helm(CHART).lint().strict().call();
    // Messages look like "[INFO] Chart.yaml: icon is recommended"; only INFO is acceptable.
    List<String> problems = result.getMessages().stream()
        .filter(m -> !m.startsWith("[INFO]"))
        .collect(Collectors.toList());
    assertFalse(result.isFailed(), () -> "lint failed: " + result.getMessages());
    assertEquals(List.of(), problems);
  }

  @Test
  void rendersDexWithMutualTlsClientsAndNoSecrets() throws Exception {
    List<JsonNode> docs = render(t -> t
        .set("clients.extra[0].id", "grafana")
        .set("clients.extra[0].name", "Grafana")
        .set("clients.extra[0].secretKey", "grafana-admin")
        .set("clients.extra[0].redirectURIs[0]", "https://grafana.example.invalid/login/generic_oauth"));

    JsonNode deployment = only(docs, "Deployment");
    JsonNode pod = deployment.path("spec").path("template");
    assertTrue(pod.path("metadata").path("annotations").path("checksum/config").asText().matches("[0-9a-f]{64}"));
    JsonNode container = pod.path("spec").path("containers").get(0);
    assertEquals(Versions.dexImage(), container.path("image").asText());
    Map<String, JsonNode> env = byName(container.path("env"));
    assertEquals("grafana-admin",
        env.get("DEX_CLIENT_SECRET_GRAFANA_ADMIN").at("/valueFrom/secretKeyRef/key").asText());
    assertEquals("dex-client-secrets",
        env.get("DEX_CLIENT_SECRET_KUBERNETES").at("/valueFrom/secretKeyRef/name").asText());
    assertEquals("true", env.get("DEX_API_CONNECTORS_CRUD").path("value").asText());

    JsonNode config = dexConfig(docs);
    assertEquals(ISSUER, config.path("issuer").asText());
    assertEquals("/etc/dex/tls/grpc/ca.crt", config.at("/grpc/tlsClientCA").asText());
    Map<String, JsonNode> clients = byId(config.path("staticClients"));
    assertTrue(clients.get("authctl").path("public").asBoolean());
    assertTrue(StreamSupport.stream(clients.get("kubernetes").path("trustedPeers").spliterator(), false)
        .anyMatch(p -> p.asText().equals("authctl")));
    assertEquals("DEX_CLIENT_SECRET_KUBERNETES", clients.get("kubernetes").path("secretEnv").asText());
    // kubectl's client: public, trusted by the apiserver's client, and without redirectURIs, so
    // that Dex accepts exactly loopback redirects (any port) and its own /device/callback.
    assertTrue(clients.get("kubectl").path("public").asBoolean());
    assertFalse(clients.get("kubectl").has("redirectURIs"), () -> "kubectl client: " + clients.get("kubectl"));
    assertTrue(StreamSupport.stream(clients.get("kubernetes").path("trustedPeers").spliterator(), false)
        .anyMatch(p -> p.asText().equals("kubectl")));
    assertEquals("720h", config.at("/expiry/refreshTokens/absoluteLifetime").asText());
    assertEquals("DEX_CLIENT_SECRET_GRAFANA_ADMIN", clients.get("grafana").path("secretEnv").asText());
    assertFalse(clients.get("grafana").has("secretKey"), "secretKey is a chart field, not Dex's");
    // Secrets reach Dex only through the environment, never inline in its config.
    clients.values().forEach(c -> assertFalse(c.has("secret"), () -> "inline secret in " + c));
    assertFalse(config.has("connectors"), "no connectors key when none are configured");
  }

  @Test
  void configChangeChangesChecksum() throws Exception {
    String before = checksum(render(t -> t));
    String after = checksum(render(t -> t.set("expiry.idTokens", "2h")));
    assertNotEquals(before, after);
  }

  @Test
  void schemaRejectsPlainHttpIssuer() {
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> template().set("issuer", "http://x").call());
    assertTrue(e.getMessage().contains("issuer"), e::getMessage);
  }

  @Test
  void dexGetsTheChartsLoginPagesFromOneConfigMap() throws Exception {
    List<JsonNode> docs = render(t -> t.set("frontend.issuerName", "Acme, Inc. login")
        .set("frontend.primaryColor", "#0b7a75"));
    JsonNode frontend = dexConfig(docs).path("frontend");
    assertEquals("/srv/dex/web", frontend.path("dir").asText());
    assertEquals("dexauth", frontend.path("theme").asText());
    assertEquals("Acme, Inc. login", frontend.path("issuer").asText());
    assertEquals("#0b7a75", frontend.at("/extra/primaryColor").asText());

    // Every file under web/ is a key of the ConfigMap, and a volume item puts it back at its path.
    JsonNode web = kinds(docs, "ConfigMap").stream()
        .filter(c -> c.at("/metadata/name").asText().equals("dex-web")).findFirst().orElseThrow();
    Path root = CHART.resolve("web");
    List<String> files;
    try (var walk = Files.walk(root)) {
      files = walk.filter(Files::isRegularFile).map(f -> root.relativize(f).toString()).sorted().toList();
    }
    for (String required : List.of("robots.txt", "templates/login.html", "templates/password.html",
        "templates/header.html", "templates/footer.html", "themes/dexauth/styles.css", "themes/dexauth/logo.svg")) {
      assertTrue(files.contains(required), required);
    }
    JsonNode pod = only(docs, "Deployment").at("/spec/template/spec");
    JsonNode volume = byName(pod.path("volumes")).get("web");
    assertEquals("dex-web", volume.at("/configMap/name").asText());
    Map<String, String> pathByKey = StreamSupport.stream(volume.at("/configMap/items").spliterator(), false)
        .collect(Collectors.toMap(i -> i.path("key").asText(), i -> i.path("path").asText()));
    assertEquals(files, pathByKey.values().stream().sorted().toList());
    for (Map.Entry<String, String> item : pathByKey.entrySet()) {
      assertEquals(Files.readString(root.resolve(item.getValue())), web.path("data").path(item.getKey()).asText(),
          item.getValue());
    }
    JsonNode mount = byName(pod.at("/containers/0/volumeMounts")).get("web");
    assertEquals("/srv/dex/web", mount.path("mountPath").asText());
    assertTrue(only(docs, "Deployment").at("/spec/template/metadata/annotations").path("checksum/web").asText()
        .matches("[0-9a-f]{64}"));
  }

  @Test
  void schemaRejectsAColourThatIsNotRrggbb() {
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> template().set("frontend.primaryColor", "red;}body{display:none").call());
    assertTrue(e.getMessage().contains("primaryColor"), e::getMessage);
  }

  @Test
  void aThemeTheChartDoesNotShipFailsTheRender() {
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> template().set("frontend.theme", "light").call());
    assertTrue(e.getMessage().contains("web/themes/light/styles.css"), e::getMessage);
  }

  @Test
  void objectsTakeTheNameTheEngineGives() throws Exception {
    List<JsonNode> docs = render(t -> t.withName("auth").set("fullname", ChartValues.fullname("auth")));
    for (String kind : List.of("Deployment", "Service", "ServiceAccount")) {
      assertEquals("auth-dex", only(docs, kind).at("/metadata/name").asText(), kind);
    }
    assertTrue(configSecretName(docs).startsWith("auth-dex-config-"), configSecretName(docs));
    assertEquals("auth", only(docs, "Deployment").at("/metadata/labels/app.kubernetes.io~1instance").asText());
  }

  /** The config Secret Dex's pods mount, checked to be one the chart renders, immutable. */
  private static String configSecretName(List<JsonNode> docs) {
    String mounted = null;
    for (JsonNode v : only(docs, "Deployment").at("/spec/template/spec/volumes")) {
      if (v.path("name").asText().equals("config")) mounted = v.at("/secret/secretName").asText();
    }
    String name = mounted;
    JsonNode secret = kinds(docs, "Secret").stream().filter(s -> s.at("/metadata/name").asText().equals(name))
        .findFirst().orElseThrow(() -> new AssertionError("Dex mounts config Secret " + name + ", not rendered"));
    assertTrue(secret.at("/immutable").asBoolean(), "a new config is a new Secret, never an edit");
    return name;
  }

  @Test
  void aChangedConfigIsANewSecretAndTheSameConfigTheSameSecret() throws Exception {
    // kubelet may start a pod with its cached copy of a Secret edited in place: never edit Dex's.
    String one = configSecretName(render(t -> t));
    assertEquals(one, configSecretName(render(t -> t)));
    assertNotEquals(one, configSecretName(render(t -> t.set("issuer", "https://login.example.org/other"))));
  }

  @Test
  void ingressOnlyWhenEnabled() throws Exception {
    assertEquals(2, kinds(render(t -> t), "Ingress").size()); // Dex's and the console's
    assertEquals(List.of(), kinds(render(t -> t.set("ingress.enabled", "false")), "Ingress"));
  }

  @Test
  void dexIsReachedOnlyThroughTheLoginGuardInItsPod() throws Exception {
    List<JsonNode> docs = render(t -> t.set("loginGuard.dexPort", "6001").set("loginGuard.maxFailures", "7"));
    assertEquals("127.0.0.1:6001", dexConfig(docs).at("/web/https").asText());
    JsonNode pod = only(docs, "Deployment").at("/spec/template/spec");
    Map<String, JsonNode> containers = byName(pod.path("containers"));
    assertFalse(containers.get("dex").path("ports").findValuesAsText("name").contains("https"), "Dex has no pod port for HTTPS");
    JsonNode guard = containers.get("login-guard");
    assertEquals(List.of("https"), guard.path("ports").findValuesAsText("name"));
    assertEquals(List.of("authctl", "guard", "--config", "/etc/dexauth/guard/guard.yaml"), texts(guard.path("command")));
    assertTrue(guard.at("/securityContext/readOnlyRootFilesystem").asBoolean());
    assertEquals("https", only(docs, "Service").at("/spec/ports/0/targetPort").asText());
    JsonNode guardConfig = guardConfig(docs);
    assertEquals("https://127.0.0.1:6001", guardConfig.at("/dex/url").asText());
    assertEquals(7, guardConfig.at("/policy/maxFailures").asInt());
    assertEquals(dexConfig(docs).at("/oauth2/passwordConnector").asText(), guardConfig.path("passwordConnector").asText());
    String rules = only(docs, "Role").toString();
    assertTrue(rules.contains("leases") && !rules.contains("configmaps"), "the guard's counters, and no user record");
  }

  @Test
  void theGuardKnowsDexsServiceAddressForKubeApiserversDiscovery() throws Exception {
    // The same URL as DeploymentConfig.discoveryUrl() without its /.well-known/openid-configuration.
    assertEquals("https://10.96.0.56:5556/oidc", guardConfig(render(t -> t.set("serviceIP", "10.96.0.56")
        .set("ports.https", "5556"))).path("serviceUrl").asText());
    assertEquals("https://[fd00::56]:5556/oidc", guardConfig(render(t -> t.set("serviceIP", "fd00::56")
        .set("ports.https", "5556"))).path("serviceUrl").asText());
    assertEquals("", guardConfig(render(t -> t)).path("serviceUrl").asText());
  }

  private static JsonNode guardConfig(List<JsonNode> docs) throws Exception {
    return YAML.readTree(kinds(docs, "ConfigMap").stream()
        .filter(c -> c.path("data").has("guard.yaml")).findFirst().orElseThrow().at("/data/guard.yaml").asText());
  }

  @Test
  void rendersTheAccountServiceBesideDex() throws Exception {
    List<JsonNode> docs = render(t -> t
        .set("account.image.tag", "0.1.0")
        .set("account.dexGrpcAddress", "") // what the engine passes by default: Dex's Service
        .set("account.trustedProxies[0]", "10.0.0.5")
        .set("account.publicUrl", "https://10.0.0.10:8443/account")
        .set("clients.console.redirectURIs[0]", "https://10.0.0.10:8443/account/callback"));
    JsonNode deployment = account(docs, "Deployment");
    assertEquals("dex-account", deployment.at("/metadata/name").asText());
    JsonNode pod = deployment.at("/spec/template");
    assertTrue(pod.at("/metadata/annotations").path("checksum/config").asText().matches("[0-9a-f]{64}"));
    JsonNode c = pod.at("/spec/containers/0");
    assertEquals("dexauth/account-service:0.1.0", c.path("image").asText());
    assertEquals(List.of("authctl", "serve", "--config", "/etc/dexauth/account/service.yaml"), texts(c.path("command")));
    assertEquals("dexauth-console", byName(c.path("env")).get("DEXAUTH_CONSOLE_CLIENT_SECRET")
        .at("/valueFrom/secretKeyRef/key").asText());
    for (String probe : List.of("readinessProbe", "livenessProbe")) {
      assertEquals("HTTPS", c.at("/" + probe + "/httpGet/scheme").asText());
      assertEquals("/account/healthz", c.at("/" + probe + "/httpGet/path").asText());
    }
    assertTrue(c.at("/securityContext/readOnlyRootFilesystem").asBoolean());
    assertEquals(List.of("ALL"), texts(c.at("/securityContext/capabilities/drop")));
    assertEquals("RuntimeDefault", pod.at("/spec/securityContext/seccompProfile/type").asText());
    assertTrue(pod.at("/spec/affinity/podAntiAffinity").has("preferredDuringSchedulingIgnoredDuringExecution"));
    Map<String, JsonNode> volumes = byName(pod.at("/spec/volumes"));
    assertEquals("dex-grpc-client", volumes.get("grpc-client").at("/secret/secretName").asText());
    assertEquals("dex-account-tls", volumes.get("tls").at("/secret/secretName").asText());
    // Dex's HTTPS Secret: its CA only, never Dex's key.
    assertEquals(List.of("ca.crt"), texts(volumes.get("dex-ca").at("/secret/items").findValues("key")));
    // The gRPC client certificate is the account pod's alone.
    assertFalse(only(docs, "Deployment").toString().contains("dex-grpc-client"));

    assertEquals("https", account(docs, "Service").at("/spec/ports/0/targetPort").asText());
    assertEquals("dex-account", account(docs, "ServiceAccount").at("/metadata/name").asText());
    JsonNode ingress = account(docs, "Ingress");
    assertEquals("/account", ingress.at("/spec/rules/0/http/paths/0/path").asText());
    assertEquals("HTTPS", ingress.at("/metadata/annotations").path("nginx.ingress.kubernetes.io/backend-protocol").asText());
    assertEquals(only(docs, "Ingress").at("/spec/ingressClassName"), ingress.at("/spec/ingressClassName"));

    JsonNode service = YAML.readTree(account(docs, "ConfigMap").at("/data/service.yaml").asText());
    assertEquals("https://10.0.0.10:8443/account", service.path("publicUrl").asText());
    assertEquals("dex.dex.svc:5557", service.at("/dexGrpc/address").asText());
    assertEquals("/etc/dexauth/account/grpc/tls.crt", service.at("/dexGrpc/certFile").asText());
    assertEquals("DEXAUTH_CONSOLE_CLIENT_SECRET", service.path("clientSecretEnv").asText());
    assertEquals("dex", service.path("namespace").asText());
    assertEquals(ISSUER, service.path("issuer").asText());
    assertEquals(List.of("10.0.0.5"), texts(service.path("trustedProxies")));
    assertEquals("#1f5fae", service.path("primaryColor").asText());

    Map<String, JsonNode> clients = byId(dexConfig(docs).path("staticClients"));
    JsonNode console = clients.get("dexauth-console");
    assertEquals(List.of("https://10.0.0.10:8443/account/callback"), texts(console.path("redirectURIs")));
    assertEquals("DEX_CLIENT_SECRET_DEXAUTH_CONSOLE", console.path("secretEnv").asText());
    assertTrue(texts(clients.get("kubernetes").path("trustedPeers")).contains("dexauth-console"));
    assertEquals("dexauth-console", byName(only(docs, "Deployment").at("/spec/template/spec/containers/0/env"))
        .get("DEX_CLIENT_SECRET_DEXAUTH_CONSOLE").at("/valueFrom/secretKeyRef/key").asText());
  }

  @Test
  void accountServiceRbacBindsOnlyTheProjectRolesAndNeverReadsSecrets() throws Exception {
    List<JsonNode> docs = render(t -> t);
    String rbac = account(docs, "Role").toString() + account(docs, "ClusterRole");
    assertFalse(rbac.contains("secrets"), rbac);
    JsonNode bind = StreamSupport.stream(account(docs, "ClusterRole").path("rules").spliterator(), false)
        .filter(r -> texts(r.path("verbs")).contains("bind")).findFirst().orElseThrow();
    assertEquals(List.of("bind"), texts(bind.path("verbs")));
    assertEquals(List.of("cluster-admin", "dexauth:solution-admin", "dexauth:solution-admin-cluster",
        "dexauth:read-only"), texts(bind.path("resourceNames")));
    assertEquals("dex-account", account(docs, "ClusterRoleBinding").at("/subjects/0/name").asText());
    assertEquals("dex-account", account(docs, "RoleBinding").at("/subjects/0/name").asText());
  }

  @Test
  void accountDisruptionBudgetOnlyWithSeveralReplicas() throws Exception {
    assertTrue(kinds(render(t -> t), "PodDisruptionBudget").stream().noneMatch(DexChartTest::isAccount));
    JsonNode pdb = account(render(t -> t.set("account.replicas", "3")), "PodDisruptionBudget");
    assertEquals(1, pdb.at("/spec/maxUnavailable").asInt());
  }

  @Test
  void dexDisruptionBudgetOnlyWithSeveralReplicas() throws Exception {
    assertTrue(kinds(render(t -> t), "PodDisruptionBudget").stream().allMatch(DexChartTest::isAccount));
    JsonNode pdb = kinds(render(t -> t.set("replicaCount", "2")), "PodDisruptionBudget").stream()
        .filter(b -> !isAccount(b)).findFirst().orElseThrow();
    assertEquals(1, pdb.at("/spec/maxUnavailable").asInt());
    assertTrue(pdb.at("/spec/minAvailable").isMissingNode());
  }

  @Test
  void dexAndAccountReplicasPreferDifferentNodes() throws Exception {
    for (JsonNode deployment : kinds(render(t -> t.set("replicaCount", "3").set("account.replicas", "3")), "Deployment")) {
      String name = deployment.at("/metadata/name").asText();
      JsonNode term = deployment.at("/spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/0/podAffinityTerm");
      assertEquals("kubernetes.io/hostname", term.path("topologyKey").asText(), name);
      // The term selects this Deployment's own pods, and only them.
      assertEquals(deployment.at("/spec/selector/matchLabels"), term.at("/labelSelector/matchLabels"), name);
    }
  }

  @Test
  void accountConfigChangeRollsItsPods() throws Exception {
    String before = account(render(t -> t), "Deployment").at("/spec/template/metadata/annotations/checksum~1config").asText();
    String after = account(render(t -> t.set("account.session.idleMinutes", "5")), "Deployment")
        .at("/spec/template/metadata/annotations/checksum~1config").asText();
    assertNotEquals(before, after);
  }

  @Test
  void accountDisabledLeavesOnlyDexAndNoConsoleClient() throws Exception {
    List<JsonNode> docs = render(t -> t.set("account.enabled", "false"));
    assertTrue(docs.stream().noneMatch(DexChartTest::isAccount));
    Map<String, JsonNode> clients = byId(dexConfig(docs).path("staticClients"));
    assertFalse(clients.containsKey("dexauth-console"));
    assertFalse(texts(clients.get("kubernetes").path("trustedPeers")).contains("dexauth-console"));
  }

  private static List<String> texts(JsonNode list) {
    List<String> out = new ArrayList<>();
    list.forEach(n -> out.add(n.asText()));
    return out;
  }

  private static List<String> texts(List<JsonNode> list) {
    return list.stream().map(JsonNode::asText).collect(Collectors.toList());
  }

  @Test
  void hostNetworkAndApiserverAddressOnlyWhenAsked() throws Exception {
    List<JsonNode> plainDocs = render(t -> t);
    List<JsonNode> labDocs = render(t -> t.set("hostNetwork", "true").set("apiServer.host", "127.0.0.1")
        .set("apiServer.port", "6443"));
    // Dex and the account service alike: both must reach kube-apiserver from a real pod.
    for (boolean isAccount : List.of(false, true)) {
      JsonNode plain = one(plainDocs, "Deployment", isAccount);
      assertTrue(plain.at("/spec/template/spec/hostNetwork").isMissingNode());
      assertFalse(plain.at("/spec/template/spec/containers").toString().contains("KUBERNETES_SERVICE_HOST"));
      assertTrue(plain.at("/spec/strategy").isMissingNode());
      JsonNode lab = one(labDocs, "Deployment", isAccount);
      JsonNode pod = lab.at("/spec/template/spec");
      assertTrue(pod.path("hostNetwork").asBoolean());
      assertEquals("ClusterFirstWithHostNet", pod.path("dnsPolicy").asText());
      // Every container: Dex's login guard keeps its records in Leases too.
      for (JsonNode container : pod.path("containers")) {
        Map<String, String> env = new java.util.HashMap<>();
        container.path("env").forEach(e -> env.put(e.path("name").asText(), e.path("value").asText()));
        assertEquals("127.0.0.1", env.get("KUBERNETES_SERVICE_HOST"), container.path("name").asText());
        assertEquals("6443", env.get("KUBERNETES_SERVICE_PORT"), container.path("name").asText());
      }
      // On the node's ports a surge pod cannot start beside the old one: replace, never surge.
      JsonNode strategy = lab.at("/spec/strategy/rollingUpdate");
      assertEquals(0, strategy.path("maxSurge").asInt(-1));
      assertEquals(1, strategy.path("maxUnavailable").asInt());
    }
  }

  private static TemplateCommand template() {
    return new Helm(CHART).template().withName("dex").withNamespace("dex").set("issuer", ISSUER)
        .set("image.tag", Versions.dex());
  }

  private static List<JsonNode> render(UnaryOperator<TemplateCommand> values) throws Exception {
    List<JsonNode> docs = new ArrayList<>();
    for (String doc : DOC_SEPARATOR.split(values.apply(template()).call())) {
      JsonNode node = YAML.readTree(doc);
      if (node != null && node.isObject()) { // skips comment-only and empty documents
        docs.add(node);
      }
    }
    return docs;
  }

  private static List<JsonNode> kinds(List<JsonNode> docs, String kind) {
    return docs.stream().filter(d -> kind.equals(d.path("kind").asText())).collect(Collectors.toList());
  }

  /** The one object of this kind of Dex itself (the account service's are left out). */
  private static JsonNode only(List<JsonNode> docs, String kind) {
    return one(docs, kind, false);
  }

  /** The one object of this kind of the account service. */
  private static JsonNode account(List<JsonNode> docs, String kind) {
    return one(docs, kind, true);
  }

  private static JsonNode one(List<JsonNode> docs, String kind, boolean account) {
    List<JsonNode> found = kinds(docs, kind).stream()
        .filter(d -> account == isAccount(d)).collect(Collectors.toList());
    assertEquals(1, found.size(), "one " + kind + (account ? " of the account service" : ""));
    return found.get(0);
  }

  private static boolean isAccount(JsonNode doc) {
    return "account-service".equals(doc.at("/metadata/labels/app.kubernetes.io~1component").asText());
  }

  private static String checksum(List<JsonNode> docs) {
    return only(docs, "Deployment").at("/spec/template/metadata/annotations").path("checksum/config").asText();
  }

  private static JsonNode dexConfig(List<JsonNode> docs) throws Exception {
    Optional<JsonNode> secret = kinds(docs, "Secret").stream()
        .filter(s -> s.path("data").has("config.yaml")).findFirst();
    assertTrue(secret.isPresent(), "config Secret");
    String encoded = secret.get().path("data").path("config.yaml").asText();
    return YAML.readTree(new String(Base64.getDecoder().decode(encoded), StandardCharsets.UTF_8));
  }

  private static Map<String, JsonNode> byName(JsonNode list) {
    return index(list, "name");
  }

  private static Map<String, JsonNode> byId(JsonNode list) {
    return index(list, "id");
  }

  private static Map<String, JsonNode> index(JsonNode list, String field) {
    return StreamSupport.stream(list.spliterator(), false)
        .collect(Collectors.toMap(n -> n.path(field).asText(), n -> n));
  }
}
