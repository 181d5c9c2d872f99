# kube-apiserver no longer trusts Dex. Its --authentication-config file is rewritten to trust no
# issuer (kube-apiserver re-reads it: no restart now, none at a redeployment); a purge
# (dexauth:remove:purge) or the --oidc-* flags of Kubernetes before 1.30 remove the flags and the
# files instead, and kube-apiserver restarts once.
{%- from "dexauth/map.jinja" import dexauth, engine_config with context %}

kube-apiserver no longer trusts Dex:
  dexauth.apiserver_unconfigured:
    - config: {{ engine_config(["kubernetes"]) }}
    - purge: {{ dexauth.remove.purge | json }}
