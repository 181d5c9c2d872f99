# The admin UIs of pillar dexauth:admin_uis (docs/sso.md): each UI's Ingress on the control-plane
# class (forward-auth: checked by the account service at each request, single sign-on), for UIs
# in mode oidc a Dex client with a per-cluster secret and a Secret in the UI's namespace (client
# id and secret, issuer, Dex's CA), for Grafana its generated settings.
#
# Available states
# ================
#
# * dexauth.adminuis       -> the UIs' objects (before the chart: Dex reads their client secrets),
#                             then those of UIs no longer in pillar deleted (after the chart)
# * dexauth.adminuis.clean -> delete every object made for an admin UI
{%- from "dexauth/map.jinja" import admin_ui_keys, engine_config with context %}
include:
  - dexauth.deployed

Admin UIs have their Ingress, Dex client secret and settings:
  dexauth.admin_uis_managed:
    - config: {{ engine_config(admin_ui_keys) }}
    - require:
      - dexauth: Dex Secrets exist in the cluster
    - require_in:
      - dexauth: Dex chart is deployed

Objects of admin UIs no longer in pillar are removed:
  dexauth.admin_uis_pruned:
    - config: {{ engine_config(admin_ui_keys) }}
    - require:
      - dexauth: Dex chart is deployed
