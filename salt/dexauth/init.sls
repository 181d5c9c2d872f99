# Dex (OIDC) user authentication for the cluster.
#
# Available states
# ================
#
# * dexauth.certs       -> CA, Dex HTTPS and gRPC certificates, authctl client certificate
# * dexauth.deployed    -> namespace, Secrets and the Dex chart (helm-java)
# * dexauth.roles       -> Cluster Admin / Solution Admin / Read Only RBAC and bindings
# * dexauth.apiserver   -> kube-apiserver trusts Dex (on each control-plane node)
# * dexauth.cli         -> authctl's configuration file on the bootstrap node
# * dexauth.apiserver.clean, dexauth.deployed.clean, dexauth.roles.clean -> undo (see orchestrate/remove)
#
# Run everything from the bootstrap node with:
#   salt-run state.orchestrate dexauth.orchestrate.deploy
include:
  - .certs
  - .deployed
  - .roles
  - .cli
