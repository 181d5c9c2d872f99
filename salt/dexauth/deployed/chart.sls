{%- from "dexauth/map.jinja" import engine_config with context %}
include:
  - .secrets

Dex chart is deployed:
  dexauth.chart_deployed:
    - config: {{ engine_config(["namespace", "issuer", "clients", "dex", "ingress", "chart", "idps", "branding",
                                "account", "login_guard", "password", "admin_uis", "kubernetes:kubeconfig",
                                "kubernetes:version"]) }}
    - require:
      - dexauth: Dex Secrets exist in the cluster
