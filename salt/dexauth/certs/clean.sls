# Deletes Dex's CA, certificates and keys, only when purging: a removal that keeps users
# keeps the CA too, so a later deploy is trusted by the kubeconfigs already handed out.
{%- from "dexauth/map.jinja" import dexauth, certs_dir as certs with context %}
{%- if dexauth.remove.purge %}

Dex certificates are deleted:
  file.absent:
    - name: {{ certs }}
{%- else %}

Dex certificates are kept (no purge):
  test.succeed_without_changes:
    - name: {{ certs }}
{%- endif %}
