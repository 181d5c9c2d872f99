# What one node runs in a deploy, by its dexauth_roles grain: the bootstrap node deploys Dex
# (dexauth: certificates, Secrets, chart, roles, authctl's file), every control-plane node
# configures its kube-apiserver (dexauth.apiserver), after the rest on a node that is both.
# It adds nothing of its own: dexauth.clean and dexauth.apiserver.clean undo it.
{%- set roles = salt["grains.get"]("dexauth_roles", []) %}
include:
{%- if "bootstrap" in roles %}
  - dexauth
{%- endif %}
{%- if "control-plane" in roles %}
  - dexauth.apiserver
{%- endif %}
