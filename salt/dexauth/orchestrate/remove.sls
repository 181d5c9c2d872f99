# Undoes dexauth.orchestrate.deploy: kube-apiserver configuration, the Dex release and
# its Secrets. Users, client secrets and role bindings are kept unless purging:
#
#   salt-run state.orchestrate dexauth.orchestrate.remove
#   salt-run state.orchestrate dexauth.orchestrate.remove pillar='{"dexauth": {"remove": {"purge": true}}}'
{%- from "dexauth/map.jinja" import dexauth with context %}
{%- set purge = {"dexauth": {"remove": {"purge": dexauth.remove.purge}}} %}

kube-apiserver no longer trusts Dex:
  salt.state:
    - tgt: dexauth_roles:control-plane
    - tgt_type: grain
    # A busy node can take a while: wait for it rather than report it absent.
    - timeout: 600
    # Wait for a state run already in progress (e.g. the scheduled roles reconcile).
    - queue: True
    - sls: dexauth.apiserver.clean

Dex is removed:
  salt.state:
    - tgt: dexauth_roles:bootstrap
    - tgt_type: grain
    # A busy node can take a while: wait for it rather than report it absent.
    - timeout: 600
    # Wait for a state run already in progress (e.g. the scheduled roles reconcile).
    - queue: True
    - sls:
      - dexauth.roles.clean
      - dexauth.deployed.clean
    - pillar: {{ purge | json }}
    - require:
      - salt: kube-apiserver no longer trusts Dex
