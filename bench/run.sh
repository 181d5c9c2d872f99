#!/usr/bin/env bash
# Prints the project's performance figures (never asserted by tests). See bench/bench.py.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="$(grep ^SALT_VENV= "${DEXAUTH_CACHE:-$HOME/.cache/dexauth}/toolchain.env" | cut -d= -f2)"
exec "$venv/bin/python" bench/bench.py "$@"
