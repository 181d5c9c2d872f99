# Stops the scheduled roles reconcile. Role bindings and assignments are user data: they
# stay unless the removal purges (dexauth.deployed.clean with dexauth:remove:purge).
Role bindings are no longer reconciled on a schedule:
  schedule.absent:
    - name: dexauth-roles-reconcile
    - persist: True
