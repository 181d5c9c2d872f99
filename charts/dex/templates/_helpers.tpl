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

{{/* Dex's config.yaml. Built as a dict so toYaml does the quoting and indentation. */}}
{{- define "dex.config" -}}
{{- $v := .Values -}}
{{- /* An IPv6 listen address needs brackets before ":port". */ -}}
{{- $host := contains ":" $v.listenAddress | ternary (printf "[%s]" $v.listenAddress) $v.listenAddress -}}
{{- $clients := list (dict
      "id" $v.clients.apiserver.id
      "name" $v.clients.apiserver.name
      "secretEnv" (include "dex.secretEnv" $v.clients.apiserver.secretKey)
      "trustedPeers" (list $v.clients.cli.id $v.clients.kubectl.id)
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
{{- range $v.clients.extra -}}
{{- $c := omit . "secretKey" -}}
{{- if .secretKey }}{{ $_ := set $c "secretEnv" (include "dex.secretEnv" .secretKey) }}{{ end -}}
{{- $clients = append $clients $c -}}
{{- end -}}
{{- $cfg := dict
      "issuer" $v.issuer
      "storage" (dict "type" "kubernetes" "config" (dict "inCluster" true))
      "web" (dict
        "https" (printf "%s:%d" $host (int $v.ports.https))
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
        "passwordConnector" "local"
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
