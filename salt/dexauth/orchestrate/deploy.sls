# Takes a cluster with no user authentication to one where a super-admin logs in
# through Dex and uses kubectl with the ID token. Run on the bootstrap node (salt-master):
#
#   salt-run saltutil.sync_all && salt-run state.orchestrate dexauth.orchestrate.deploy
#
# Re-running it changes nothing when nothing has to change.
{%- from "dexauth/map.jinja" import dexauth, engine_config with context %}
{%- from "dexauth/orchestrate/macros.jinja" import node_step %}

The dexauth pillar is valid:
  dexauth.pillar_valid:
    - config: {{ dexauth | json }}
    - failhard: True
{#- One state run per node (dexauth.node): the bootstrap node deploys Dex, then configures its
    kube-apiserver if it is a control-plane node too; the other control-plane nodes configure
    theirs at the same time, with Dex's CA from the ConfigMap the bootstrap node publishes. #}
{{ node_step("Dex is deployed and kube-apiserver trusts it on every control-plane node",
             ["bootstrap", "control-plane"], ["dexauth.node"],
             require="dexauth: The dexauth pillar is valid") }}

# Last, so the one-time password is the final thing the operator sees.
The super-admin exists:
  dexauth.superadmin_present:
    - config: {{ engine_config(["cluster_name", "namespace", "issuer", "superadmin", "password:bcrypt_cost",
                                "certificates:base_dir", "dex:grpc_address", "kubernetes:kubeconfig"]) }}
    - require:
      - salt: Dex is deployed and kube-apiserver trusts it on every control-plane node
