{%- from "dexauth/map.jinja" import engine_config with context %}
include:
  - dexauth.certs

Dex Secrets exist in the cluster:
  dexauth.secrets_managed:
    - config: {{ engine_config(["cluster_name", "namespace", "issuer", "certificates:base_dir",
                                "clients:audience_id", "clients:console_id", "account:enabled",
                                "kubernetes:kubeconfig"]) }}
    - require:
      - dexauth: Dex certificates are issued and valid
