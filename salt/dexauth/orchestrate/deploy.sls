# Takes a cluster with no user authentication to one where a super-admin logs in
# through Dex and uses kubectl with the ID token. Run on the bootstrap node (salt-master):
#
#   salt-run saltutil.sync_all && salt-run state.orchestrate dexauth.orchestrate.deploy
#
# Re-running it changes nothing when nothing has to change.
{%- from "dexauth/map.jinja" import dexauth, engine_config with context %}
{%- from "dexauth/orchestrate/macros.jinja" import node_step, nodes_answer %}

The dexauth pillar is valid:
  dexauth.pillar_valid:
    - config: {{ dexauth | json }}
    - failhard: True
{#- Dex first (bootstrap node, with the probe account of the health check), then kube-apiserver one
    control-plane node at a time: each node is changed, then checked healthy (readyz, its new
    configuration loaded, a Dex token of the probe account accepted) before the next; an unhealthy
    node gets its previous configuration back and the run stops there. #}
{#- Every control-plane node must answer before anything changes (a node that is down would keep its
    old trust), and again after the node-by-node step (a node lost during it). #}
{{ nodes_answer("Every control-plane node answers", ["bootstrap", "control-plane"], {"dexauth": dexauth},
                require="dexauth: The dexauth pillar is valid") }}
{{ node_step("Dex is deployed", ["bootstrap"], ["dexauth"], {"dexauth": dexauth},
             require="salt: Every control-plane node answers") }}
{{ node_step("kube-apiserver trusts Dex on every control-plane node, one node at a time", ["control-plane"],
             ["dexauth.apiserver"], {"dexauth": dexauth}, batch=1, require="salt: Dex is deployed") }}
{{ nodes_answer("Every control-plane node answered", ["control-plane"], {"dexauth": dexauth},
                require="salt: kube-apiserver trusts Dex on every control-plane node, one node at a time") }}

# Last, so the one-time password is the final thing the operator sees.
The super-admin exists:
  dexauth.superadmin_present:
    - config: {{ engine_config(["cluster_name", "namespace", "issuer", "superadmin", "password:bcrypt_cost",
                                "certificates:base_dir", "dex:grpc_address", "kubernetes:kubeconfig"]) }}
    - require:
      - salt: Every control-plane node answered
