# Removes kube-apiserver's probe account (while Dex still answers), the Dex release, its TLS
# Secrets and the public CA ConfigMap. User data (Dex's
# users and its CRDs, user records, client secrets, IdP Secrets) stays unless pillar
# dexauth:remove:purge is true; the namespace goes with a purge only if dexauth made it.
{%- from "dexauth/map.jinja" import dexauth, engine_config with context %}

The kube-apiserver health check's probe account is removed:
  dexauth.probe_account_absent:
    - config: {{ engine_config(["cluster_name", "namespace", "chart:release", "certificates:base_dir",
                                "dex:grpc_address", "kubernetes:kubeconfig"]) }}

Dex chart is removed:
  dexauth.chart_absent:
    - config: {{ engine_config(["namespace", "chart:release", "kubernetes:kubeconfig"]) }}
    - require:
      - dexauth: The kube-apiserver health check's probe account is removed

Dex Secrets are removed:
  dexauth.secrets_absent:
    - config: {{ engine_config(["namespace", "kubernetes:kubeconfig"]) }}
    - purge: {{ dexauth.remove.purge | json }}
    - require:
      - dexauth: Dex chart is removed
{%- if dexauth.remove.purge %}

Dex user data is purged:
  dexauth.user_data_purged:
    - config: {{ engine_config(["namespace", "kubernetes:kubeconfig"]) }}
    - require:
      - dexauth: Dex Secrets are removed
{%- endif %}
