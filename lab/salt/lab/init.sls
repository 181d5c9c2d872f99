# Lab-only states: what a distribution's installer does before this project runs.
#
# Available states
# ================
#
# * lab.bootstrap   -> write the kube-apiserver static-pod manifest
include:
  - .bootstrap
