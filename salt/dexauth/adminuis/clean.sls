# Deletes every object made for an admin UI (Ingresses, OIDC Secrets, Grafana settings, their
# client secrets): the removal of an empty dexauth:admin_uis.
{%- from "dexauth/map.jinja" import dexauth with context %}

Objects of every admin UI are removed:
  dexauth.admin_uis_pruned:
    - config: {{ {"namespace": dexauth.namespace, "admin_uis": [],
                  "kubernetes": {"kubeconfig": dexauth.kubernetes.kubeconfig}} | json }}
