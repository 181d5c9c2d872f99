# Dex and the account service deployed from charts/dex with helm-java, after the Secrets they mount.
#
# Available states
# ================
#
# * dexauth.deployed.secrets -> namespace, TLS Secrets (Dex's, the account service's), client
#                              secrets (apiserver audience, console), public CA ConfigMap
# * dexauth.deployed.chart   -> the Dex release: Dex and the account service (console + JSON API),
#                              each waited for until rolled out
# * dexauth.deployed.probe   -> the account kube-apiserver's health check logs in with, its
#                              password in a Secret
# * dexauth.deployed.clean   -> remove the probe account, uninstall the release and its Secrets
#                              (keeps user data)
include:
  - .secrets
  - .chart
  - .probe
