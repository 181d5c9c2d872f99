# Dex deployed from charts/dex with helm-java, after the Secrets it mounts.
#
# Available states
# ================
#
# * dexauth.deployed.secrets -> namespace, TLS Secrets, client secrets, public CA ConfigMap
# * dexauth.deployed.chart   -> the Dex release
# * dexauth.deployed.clean   -> uninstall the release and its Secrets (keeps user data)
include:
  - .secrets
  - .chart
