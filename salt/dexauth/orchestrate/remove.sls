# Undoes dexauth.orchestrate.deploy: kube-apiserver configuration, the Dex release and
# its Secrets. Users, client secrets, role bindings, certificates and authctl's file are
# kept unless purging:
#
#   salt-run state.orchestrate dexauth.orchestrate.remove
#   salt-run state.orchestrate dexauth.orchestrate.remove pillar='{"dexauth": {"remove": {"purge": true}}}'
{%- from "dexauth/map.jinja" import dexauth with context %}
{%- from "dexauth/orchestrate/macros.jinja" import node_step %}
{{ node_step("kube-apiserver no longer trusts Dex", ["control-plane"], ["dexauth.apiserver.clean"], {"dexauth": dexauth},
             failhard=False) }}
{{ node_step("Dex is removed", ["bootstrap"], ["dexauth.clean"], {"dexauth": dexauth}, failhard=False,
             require="salt: kube-apiserver no longer trusts Dex") }}
