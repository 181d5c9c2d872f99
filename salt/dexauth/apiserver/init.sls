# kube-apiserver trusts Dex: structured authentication configuration (>= 1.30) or
# --oidc-* flags (older). Applied on every control-plane node, including ones added later.
#
# Available states
# ================
#
# * dexauth.apiserver       -> configure
# * dexauth.apiserver.clean -> remove the configuration
{%- from "dexauth/map.jinja" import engine_config with context %}

kube-apiserver trusts Dex:
  dexauth.apiserver_configured:
    - config: {{ engine_config(["cluster_name", "namespace", "issuer", "clients:audience_id", "clients:cli_id",
                                "certificates:base_dir", "dex:ports", "dex:service_ip", "kubernetes"]) }}
