# Certificates for Dex, kept in <certificates:base_dir>/certs-<cluster_name>/ on the
# bootstrap node. Valid certificates are kept; one is re-issued when its SANs no longer
# match pillar or it enters the renewal window.
#
# Available states
# ================
#
# * dexauth.certs       -> CA, Dex HTTPS and gRPC certificates, authctl client certificate,
#                          the account service's HTTPS certificate (when dexauth:account:enabled)
# * dexauth.certs.clean -> delete the certificate directory (only with dexauth:remove:purge)
{%- from "dexauth/map.jinja" import engine_config with context %}

Dex certificates are issued and valid:
  dexauth.certificates_managed:
    - config: {{ engine_config(["cluster_name", "namespace", "issuer", "certificates", "ingress:hosts",
                                "dex:grpc_address", "dex:service_ip", "chart:release", "account"]) }}
