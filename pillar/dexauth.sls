# Site configuration for dexauth; every key and its default: pillar.example.
dexauth:
  cluster_name: kubernetes
  # Must be set: the URL of Dex as users and kube-apiserver reach it, e.g. through the
  # control-plane ingress: https://<control-plane IP>:8443/oidc
  issuer: ""
