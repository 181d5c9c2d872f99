# Certificates for Dex, kept in <certificates:base_dir>/certs-<cluster_name>/ on the
# bootstrap node. Valid certificates are kept; one is re-issued when its SANs no longer
# match pillar or it enters the renewal window.
{%- from "dexauth/map.jinja" import dexauth with context %}

Dex certificates are issued and valid:
  dexauth.certificates_managed:
    - config: {{ dexauth | json }}
