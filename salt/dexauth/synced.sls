# The dexauth execution and state modules are present on the minion (reports a
# change only when something was actually synced).
dexauth modules are synced:
  saltutil.sync_all:
    - refresh: True
