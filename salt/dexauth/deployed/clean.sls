# Removes the Dex release, its TLS Secrets and the public CA ConfigMap. User data
# (Dex's users, client secrets, role bindings) stays unless pillar dexauth:remove:purge
# is true.
{%- from "dexauth/map.jinja" import dexauth with context %}

Dex chart is removed:
  dexauth.chart_absent:
    - config: {{ dexauth | json }}

Dex Secrets are removed:
  dexauth.secrets_absent:
    - config: {{ dexauth | json }}
    - purge: {{ dexauth.remove.purge | json }}
    - require:
      - dexauth: Dex chart is removed
{%- if dexauth.remove.purge %}

Dex user data is purged:
  dexauth.user_data_purged:
    - config: {{ dexauth | json }}
    - require:
      - dexauth: Dex Secrets are removed
{%- endif %}
