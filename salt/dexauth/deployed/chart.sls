{%- from "dexauth/map.jinja" import dexauth with context %}
include:
  - .secrets

Dex chart is deployed:
  dexauth.chart_deployed:
    - config: {{ dexauth | json }}
    - require:
      - dexauth: Dex Secrets exist in the cluster
