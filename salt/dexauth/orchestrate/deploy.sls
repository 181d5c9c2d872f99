# Takes a cluster with no user authentication to one where a super-admin logs in
# through Dex and uses kubectl with the ID token. Run on the bootstrap node (salt-master):
#
#   salt-run saltutil.sync_all && salt-run state.orchestrate dexauth.orchestrate.deploy
#
# Re-running it changes nothing when nothing has to change.
{%- from "dexauth/map.jinja" import dexauth with context %}
{%- set bootstrap = "dexauth_roles:bootstrap" %}
{%- set control_plane = "dexauth_roles:control-plane" %}

The dexauth pillar is valid:
  dexauth.pillar_valid:
    - config: {{ dexauth | json }}
    - failhard: True

Minions have the dexauth modules:
  salt.state:
    - sls: dexauth.synced
    - tgt: {{ control_plane }}
    - tgt_type: grain
    # A busy node can take a while: wait for it rather than report it absent.
    - timeout: 600
    # Wait for a state run already in progress (e.g. the scheduled roles reconcile).
    - queue: True
    - failhard: True
    - require:
      - dexauth: The dexauth pillar is valid

Dex is deployed from the bootstrap node:
  salt.state:
    - tgt: {{ bootstrap }}
    - tgt_type: grain
    # A busy node can take a while: wait for it rather than report it absent.
    - timeout: 600
    # Wait for a state run already in progress (e.g. the scheduled roles reconcile).
    - queue: True
    - sls:
      - dexauth.deployed
      - dexauth.roles
      - dexauth.cli
    - failhard: True
    - require:
      - salt: Minions have the dexauth modules

kube-apiserver trusts Dex on every control-plane node:
  salt.state:
    - tgt: {{ control_plane }}
    - tgt_type: grain
    # A busy node can take a while: wait for it rather than report it absent.
    - timeout: 600
    # Wait for a state run already in progress (e.g. the scheduled roles reconcile).
    - queue: True
    - sls: dexauth.apiserver
    - failhard: True
    - require:
      - salt: Dex is deployed from the bootstrap node

# Last, so the one-time password is the final thing the operator sees.
The super-admin exists:
  dexauth.superadmin_present:
    - config: {{ dexauth | json }}
    - require:
      - salt: kube-apiserver trusts Dex on every control-plane node
