# The three roles (Cluster Admin, Solution Admin, Read Only) as RBAC, and every user's and
# group's bindings recomputed from the stored assignments. Re-applied on a schedule so a
# namespace labelled dexauth.io/solution=true later is covered within a minute.
#
# Available states
# ================
#
# * dexauth.roles       -> ClusterRoles, bindings, the reconcile schedule, and Grafana's role
#                          expression of admin UIs in mode oidc (docs/sso.md)
# * dexauth.roles.clean -> stop the schedule; with dexauth:remove:purge also delete the
#                          ClusterRoles and every binding dexauth made
{%- from "dexauth/map.jinja" import dexauth, engine_config, admin_ui_keys, grafana_oidc_uis with context %}

Roles and role bindings match the stored assignments:
  dexauth.roles_managed:
    - config: {{ engine_config(["namespace", "kubernetes:kubeconfig", "roles:denied_namespaces", "idps"]) }}
{%- if grafana_oidc_uis %}

# Grafana's role expression (generic OAuth) lists the holders of each role: regenerated with them.
Grafana role expressions follow the role holders:
  dexauth.admin_uis_managed:
    - config: {{ engine_config(admin_ui_keys) }}
    - require:
      - dexauth: Roles and role bindings match the stored assignments
{%- endif %}

Role bindings are reconciled on a schedule:
  schedule.present:
    - name: dexauth-roles-reconcile
    - function: state.apply
    - job_args:
      - dexauth.roles
    - job_kwargs:
        queue: True
    - seconds: {{ dexauth.roles.reconcile_seconds }}
    - return_job: False
    - persist: True
