{%- from "dexauth/map.jinja" import dexauth with context %}

kube-apiserver no longer trusts Dex:
  dexauth.apiserver_unconfigured:
    - config: {{ dexauth | json }}
