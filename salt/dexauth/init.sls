# Dex (OIDC) user authentication for the cluster.
#
# Available states
# ================
#
# * dexauth.certs       -> CA, Dex HTTPS and gRPC certificates, authctl client certificate
# * dexauth.deployed    -> namespace, Secrets and the Dex chart (helm-java)
# * dexauth.adminuis    -> admin UIs of pillar: Ingress (forward auth), Dex client and Secret (oidc),
#                          Grafana's settings; those no longer in pillar removed
# * dexauth.roles       -> Cluster Admin / Solution Admin / Read Only RBAC and bindings
# * dexauth.cli         -> authctl's configuration file on the bootstrap node
# * dexauth.apiserver   -> kube-apiserver trusts Dex (on each control-plane node; not included here)
# * dexauth.clean       -> undo this state (each part's .clean, in reverse order); user data,
#                          certificates and authctl's file only with dexauth:remove:purge
# * dexauth.synced      -> the dexauth Salt modules are on the minion
#
# Run everything from the bootstrap node with:
#   salt-run state.orchestrate dexauth.orchestrate.deploy
include:
  - .certs
  - .deployed
  - .adminuis
  - .roles
  - .cli
