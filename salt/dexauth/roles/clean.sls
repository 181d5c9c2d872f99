# Stops the scheduled roles reconcile. Role bindings and assignments are user data: they
# stay unless the removal purges (dexauth:remove:purge), which deletes the role
# ClusterRoles and every binding dexauth made (solution namespaces included).
{%- from "dexauth/map.jinja" import dexauth, engine_config with context %}

Role bindings are no longer reconciled on a schedule:
  schedule.absent:
    - name: dexauth-roles-reconcile
    - persist: True
{%- if dexauth.remove.purge %}

Roles and role bindings are purged:
  dexauth.roles_purged:
    - config: {{ engine_config(["kubernetes:kubeconfig"]) }}
    - require:
      - schedule: Role bindings are no longer reconciled on a schedule
{%- endif %}
