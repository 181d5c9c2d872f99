# Deletes authctl's configuration file, only when purging: after a removal that keeps
# users, a redeploy finds the operator's additions to it (e.g. saltApi.pillarRootIndex).
{%- from "dexauth/map.jinja" import dexauth with context %}
{%- if dexauth.remove.purge %}

authctl's configuration is deleted:
  file.absent:
    - name: {{ dexauth.authctl_config }}
{%- else %}

authctl's configuration is kept (no purge):
  test.succeed_without_changes:
    - name: {{ dexauth.authctl_config }}
{%- endif %}
