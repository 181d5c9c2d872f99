# The dexauth execution and state modules are present on the minion. Listed first in each
# orchestration step's state run: only the two module kinds this project ships are synced,
# and the run reloads its modules only when something was synced (no change reported
# otherwise). Sync infrastructure, so it has no clean counterpart.
dexauth execution modules are synced:
  saltutil.sync_modules:
    - refresh: False
    - reload_modules: True
    - order: 1

dexauth state modules are synced:
  saltutil.sync_states:
    - refresh: False
    - reload_modules: True
    - order: 1
