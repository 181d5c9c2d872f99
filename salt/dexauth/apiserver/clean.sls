# kube-apiserver no longer trusts Dex: the flag or configuration file is removed.
{%- from "dexauth/map.jinja" import engine_config with context %}

kube-apiserver no longer trusts Dex:
  dexauth.apiserver_unconfigured:
    - config: {{ engine_config(["kubernetes"]) }}
