{{/* Chart name, used for the app.kubernetes.io/name label. */}}
{{- define "dex.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Object name: given by the engine as value "fullname", from the release name with the one naming
rule (dexauth.chart.ChartValues.fullname); the chart does not compute it a second time.
*/}}
{{- define "dex.fullname" -}}
{{- .Values.fullname -}}
{{- end -}}

{{- define "dex.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dex.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "dex.labels" -}}
{{ include "dex.selectorLabels" . }}
{{- with .Values.image.tag }}
app.kubernetes.io/version: {{ . | quote }}
{{- end }}
app.kubernetes.io/component: identity-provider
app.kubernetes.io/part-of: dexauth
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* The account service: its objects' name and its own selector (Dex's Service must not select it). */}}
{{- define "dex.accountName" -}}
{{- printf "%s-account" .Values.fullname -}}
{{- end -}}

{{- define "dex.accountSelectorLabels" -}}
app.kubernetes.io/name: {{ include "dex.name" . }}-account
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "dex.accountLabels" -}}
{{ include "dex.accountSelectorLabels" . }}
{{- with .Values.account.image.tag }}
app.kubernetes.io/version: {{ . | quote }}
{{- end }}
app.kubernetes.io/component: account-service
app.kubernetes.io/part-of: dexauth
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* The account service's service.yaml (no secret: the client secret comes from its environment). */}}
{{- define "dex.accountConfig" -}}
{{- $v := .Values -}}
{{- $a := $v.account -}}
{{- $dir := "/etc/dexauth/account" -}}
{{- $grpc := $a.dexGrpcAddress | default (printf "%s.%s.svc:%d" $v.fullname .Release.Namespace (int $v.ports.grpc)) -}}
{{- $cfg := dict
      "publicUrl" $a.publicUrl
      "listen" (dict "address" $a.listenAddress "port" (int $a.port))
      "tls" (dict "certFile" (printf "%s/tls/tls.crt" $dir) "keyFile" (printf "%s/tls/tls.key" $dir))
      "issuer" $v.issuer
      "dexCaFile" (printf "%s/dex-ca/ca.crt" $dir)
      "clientId" $v.clients.console.id
      "clientSecretEnv" "DEXAUTH_CONSOLE_CLIENT_SECRET"
      "audienceClientId" $v.clients.apiserver.id
      "kubectlClientId" $v.clients.kubectl.id
      "cliClientId" $v.clients.cli.id
      "dexGrpc" (dict
        "address" $grpc
        "caFile" (printf "%s/grpc/ca.crt" $dir)
        "certFile" (printf "%s/grpc/tls.crt" $dir)
        "keyFile" (printf "%s/grpc/tls.key" $dir))
      "namespace" .Release.Namespace
      "users" (dict "bcryptCost" (int $a.users.bcryptCost) "passwordMinLength" (int $a.users.passwordMinLength))
      "session" (dict "idleMinutes" (int $a.session.idleMinutes) "absoluteMinutes" (int $a.session.absoluteMinutes))
      "productName" $v.frontend.issuerName
      "primaryColor" $v.frontend.primaryColor
      "trustedProxies" $a.trustedProxies -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* The connector of Dex's password grant: Dex's config and the login guard (which counts its failures) agree. */}}
{{- define "dex.passwordConnector" -}}local{{- end -}}

{{/* Dex at its fixed Service address (kube-apiserver's discovery and keys), "" without one. */}}
{{- define "dex.serviceUrl" -}}
{{- with .Values.serviceIP -}}
{{- printf "https://%s:%d%s" (contains ":" . | ternary (printf "[%s]" .) .) (int $.Values.ports.https) (urlParse $.Values.issuer).path -}}
{{- end -}}
{{- end -}}

{{/* The login guard's guard.yaml (no secret). */}}
{{- define "dex.guardConfig" -}}
{{- $v := .Values -}}
{{- $g := $v.loginGuard -}}
{{- $cfg := dict
      "listen" (dict "address" $v.listenAddress "port" (int $v.ports.https))
      "tls" (dict "certFile" "/etc/dex/tls/https/tls.crt" "keyFile" "/etc/dex/tls/https/tls.key")
      "dex" (dict "url" (printf "https://127.0.0.1:%d" (int $g.dexPort)) "caFile" "/etc/dex/tls/https/ca.crt")
      "issuerPath" (urlParse $v.issuer).path
      "serviceUrl" (include "dex.serviceUrl" .)
      "passwordConnector" (include "dex.passwordConnector" .)
      "namespace" .Release.Namespace
      "trustedProxies" $v.account.trustedProxies
      "policy" (dict
        "maxFailures" (int $g.maxFailures)
        "windowSeconds" (int $g.windowSeconds)
        "lockoutSeconds" (int $g.lockoutSeconds)
        "addressMaxFailures" (int $g.addressMaxFailures)
        "addressWindowSeconds" (int $g.addressWindowSeconds)
        "responseMillis" (int $g.responseMillis)) -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/*
Environment variable carrying a client secret, from its key in clientSecrets.secretName:
"grafana-admin" and "grafanaAdmin" both give DEX_CLIENT_SECRET_GRAFANA_ADMIN.
The config (secretEnv) and the Deployment (env) must agree, hence one helper.
*/}}
{{- define "dex.secretEnv" -}}
{{- printf "DEX_CLIENT_SECRET_%s" (regexReplaceAll "[^A-Za-z0-9]+" (snakecase .) "_" | trimAll "_" | upper) -}}
{{- end -}}

{{/*
Key in the web ConfigMap of a file under web/ ("web/templates/login.html" gives
"templates_login.html"; ConfigMap keys hold no "/"). The ConfigMap and the Deployment's volume
items, which put each key back at its path, must agree, hence one helper.
*/}}
{{- define "dex.webKey" -}}
{{- trimPrefix "web/" . | replace "/" "_" -}}
{{- end -}}

{{/*
The name of Dex's config Secret: the release's name, "-config" and a digest of the config. Dex
reads its config only at start, and kubelet gives a starting pod the Secret from its own cache,
which lags behind kube-apiserver while its watch reconnects (after a kube-apiserver restart, for
seconds): a Secret changed in place could start the new Dex with the old config (an IdP just
added missing until the next restart). A new config is a new, immutable Secret, which kubelet
fetches for the new pod. The config holds no secret value (only the names of variables that do).
*/}}
{{- define "dex.configSecretName" -}}
{{ include "dex.fullname" . }}-config-{{ include "dex.config" . | sha256sum | trunc 10 }}
{{- end -}}

{{/* Dex's config.yaml. Built as a dict so toYaml does the quoting and indentation. */}}
{{- define "dex.config" -}}
{{- $v := .Values -}}
{{- /* An IPv6 listen address needs brackets before ":port". */ -}}
{{- $host := contains ":" $v.listenAddress | ternary (printf "[%s]" $v.listenAddress) $v.listenAddress -}}
{{- $peers := list $v.clients.cli.id $v.clients.kubectl.id -}}
{{- if $v.account.enabled }}{{ $peers = append $peers $v.clients.console.id }}{{ end -}}
{{- $clients := list (dict
      "id" $v.clients.apiserver.id
      "name" $v.clients.apiserver.name
      "secretEnv" (include "dex.secretEnv" $v.clients.apiserver.secretKey)
      "trustedPeers" $peers
      "redirectURIs" (list)) -}}
{{- $clients = append $clients (dict
      "id" $v.clients.cli.id
      "name" $v.clients.cli.name
      "public" true
      "redirectURIs" $v.clients.cli.redirectURIs) -}}
{{- $clients = append $clients (dict
      "id" $v.clients.kubectl.id
      "name" $v.clients.kubectl.name
      "public" true) -}}
{{- if $v.account.enabled -}}
{{- $clients = append $clients (dict
      "id" $v.clients.console.id
      "name" $v.clients.console.name
      "secretEnv" (include "dex.secretEnv" $v.clients.console.secretKey)
      "redirectURIs" $v.clients.console.redirectURIs) -}}
{{- end -}}
{{- range $v.clients.extra -}}
{{- $c := omit . "secretKey" -}}
{{- if .secretKey }}{{ $_ := set $c "secretEnv" (include "dex.secretEnv" .secretKey) }}{{ end -}}
{{- $clients = append $clients $c -}}
{{- end -}}
{{- $cfg := dict
      "issuer" $v.issuer
      "storage" (dict "type" "kubernetes" "config" (dict "inCluster" true))
      "web" (dict
        "https" (printf "127.0.0.1:%d" (int $v.loginGuard.dexPort))
        "tlsCert" "/etc/dex/tls/https/tls.crt"
        "tlsKey" "/etc/dex/tls/https/tls.key")
      "grpc" (dict
        "addr" (printf "%s:%d" $host (int $v.ports.grpc))
        "tlsCert" "/etc/dex/tls/grpc/tls.crt"
        "tlsKey" "/etc/dex/tls/grpc/tls.key"
        "tlsClientCA" "/etc/dex/tls/grpc/ca.crt"
        "reflection" false)
      "telemetry" (dict "http" (printf "%s:%d" $host (int $v.ports.telemetry)))
      "enablePasswordDB" true
      "oauth2" (dict
        "passwordConnector" (include "dex.passwordConnector" .)
        "skipApprovalScreen" true
        "responseTypes" (list "code")
        "grantTypes" (list "authorization_code" "refresh_token" "password" "urn:ietf:params:oauth:grant-type:device_code"))
      "expiry" $v.expiry
      "frontend" (dict
        "dir" $v.frontend.dir
        "theme" $v.frontend.theme
        "issuer" $v.frontend.issuerName
        "logoURL" "theme/logo.svg"
        "extra" (dict "primaryColor" $v.frontend.primaryColor))
      "staticClients" $clients -}}
{{- with $v.connectors }}{{ $_ := set $cfg "connectors" . }}{{ end -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/*
Where there is no pod network (values hostNetwork and apiServer, the lab's real node): the pod
runs in its node's network namespace and reaches kube-apiserver at apiServer instead of the
`kubernetes` Service. Dex's and the account service's Deployments share these three pieces.
A host-network pod holds its ports on the node: a surge pod could never start beside the one it
replaces (the rollout would wait for it forever), so such a Deployment replaces one pod at a time.
*/}}
{{- define "dex.hostNetworkStrategy" -}}
{{- if .Values.hostNetwork }}
strategy:
  type: RollingUpdate
  rollingUpdate:
    maxSurge: 0
    maxUnavailable: 1
{{- end }}
{{- end -}}

{{- define "dex.hostNetworkPod" -}}
{{- if .Values.hostNetwork }}
hostNetwork: true
dnsPolicy: ClusterFirstWithHostNet
{{- end }}
{{- end -}}

{{/* The in-cluster client's address of kube-apiserver (client-go and fabric8 both read these). */}}
{{- define "dex.apiServerEnv" -}}
{{- with .Values.apiServer.host }}
- name: KUBERNETES_SERVICE_HOST
  value: {{ . | quote }}
- name: KUBERNETES_SERVICE_PORT
  value: {{ required "apiServer.port is required with apiServer.host" $.Values.apiServer.port | toString | quote }}
{{- end }}
{{- end -}}

{{/* Preferred anti-affinity on the node for the pods with these selector labels (given as text). */}}
{{- define "dex.spreadOverNodes" -}}
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- . | nindent 14 }}
{{- end -}}
