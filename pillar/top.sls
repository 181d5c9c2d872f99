base:
  '*':
    - dexauth
