# The three roles (Cluster Admin, Solution Admin, Read Only) as RBAC, and every user's and
# group's bindings recomputed from the stored assignments. Re-applied on a schedule so a
# namespace labelled dexauth.io/solution=true later is covered within a minute.
{%- from "dexauth/map.jinja" import dexauth with context %}

Roles and role bindings match the stored assignments:
  dexauth.roles_managed:
    - config: {{ dexauth | json }}

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
