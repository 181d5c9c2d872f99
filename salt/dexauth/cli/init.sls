# authctl's configuration on the bootstrap node: addresses and file paths, no secret.
#
# Available states
# ================
#
# * dexauth.cli       -> write authctl's configuration file
# * dexauth.cli.clean -> delete it (only with dexauth:remove:purge)
{%- from "dexauth/map.jinja" import dexauth, account_url, certs_dir as certs with context %}

authctl knows where Dex is:
  file.serialize:
    - name: {{ dexauth.authctl_config }}
    - serializer: yaml
    - merge_if_exists: True
    - makedirs: True
    - mode: "0644"
    - dataset:
        kubeconfig: {{ dexauth.kubernetes.kubeconfig }}
        clusterName: {{ dexauth.cluster_name }}
        dex:
          issuer: {{ dexauth.issuer }}
          grpcAddress: {{ dexauth.dex.grpc_address }}
          caFile: {{ certs }}/ca.crt
          clientCert: {{ certs }}/authctl-client.crt
          clientKey: {{ certs }}/authctl-client.key
          clientId: {{ dexauth.clients.cli_id }}
          audienceClientId: {{ dexauth.clients.audience_id }}
          kubectlClientId: {{ dexauth.clients.kubectl_id }}
        apiserver:
          url: {{ dexauth.kubernetes.apiserver_url }}
          caFile: {{ dexauth.kubernetes.ca_file }}
        saltApi:
          url: {{ dexauth.salt_api.url | json }}
          username: {{ dexauth.salt_api.username | json }}
          eauth: {{ dexauth.salt_api.eauth | json }}
          caFile: {{ dexauth.salt_api.ca_file | json }}
        users:
          namespace: {{ dexauth.namespace }}
          bcryptCost: {{ dexauth.password.bcrypt_cost }}
          passwordMinLength: {{ dexauth.password.min_length }}
          superadminEmail: {{ dexauth.superadmin.email }}
{%- if dexauth.account.enabled %}
        account:
          url: {{ account_url | json }}
{%- endif %}
