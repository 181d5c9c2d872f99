{%- from "dexauth/map.jinja" import dexauth with context %}
include:
  - dexauth.certs

Dex Secrets exist in the cluster:
  dexauth.secrets_managed:
    - config: {{ dexauth | json }}
    - require:
      - dexauth: Dex certificates are issued and valid
