# The account kube-apiserver's health check logs in with (dexauth.orchestrate.deploy checks each
# control-plane node with a Dex token of it): a Dex password that never holds a role, kept in a
# Secret only Cluster Admins read. Changed only when Dex no longer verifies the stored password.
{%- from "dexauth/map.jinja" import engine_config with context %}
include:
  - .chart

The kube-apiserver health check has its probe account:
  dexauth.probe_account_present:
    - config: {{ engine_config(["cluster_name", "namespace", "password:bcrypt_cost", "certificates:base_dir",
                                "dex:grpc_address", "kubernetes:kubeconfig"]) }}
    - require:
      - dexauth: Dex chart is deployed
