# Undoes dexauth (init.sls): each part's clean state, in the reverse order of its include.
# kube-apiserver's configuration is undone on each control-plane node by
# dexauth.apiserver.clean (dexauth.orchestrate.remove runs both).
include:
  - .cli.clean
  - .roles.clean
  - .adminuis.clean
  - .deployed.clean
  - .certs.clean
