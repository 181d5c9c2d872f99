#!/usr/bin/env bash
# Installs or builds everything the lab and the tests need, from real sources:
# Debian packages (runc and the CNI plugins among them), Salt from PyPI, and etcd,
# containerd, Kubernetes (apiserver, kubelet, controller-manager, scheduler, kubectl)
# and dex built with Go through the wrapper modules in toolchain/go/. Results are cached outside
# the repository ($DEXAUTH_CACHE, default ~/.cache/dexauth), keyed by version and
# by the wrapper's go.sum, so a second run builds nothing.
#
# Prints each step and how long it took; writes $DEXAUTH_CACHE/toolchain.env with
# the paths of every binary, and $DEXAUTH_CACHE/toolchain-timings.tsv.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
cache="${DEXAUTH_CACHE:-$HOME/.cache/dexauth}"
mkdir -p "$cache/bin" "$cache/venv" "$cache/logs"
timings="$cache/toolchain-timings.tsv"
: > "$timings"

log() { printf '[toolchain %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# step NAME COMMAND... : runs a step, prints its duration, records it.
step() {
  local name="$1"; shift
  local start end
  start=$(date +%s.%N)
  "$@"
  end=$(date +%s.%N)
  local secs
  secs=$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.1f", b-a}')
  printf '%s\t%s\n' "$name" "$secs" >> "$timings"
  log "$name done in ${secs}s"
}

# Runs a long command in the background and prints a heartbeat so that a long
# first build never looks hung. Output goes to a log file, shown on failure.
with_heartbeat() {
  local label="$1" logfile="$2"; shift 2
  "$@" >"$logfile" 2>&1 &
  local pid=$! elapsed=0
  while kill -0 "$pid" 2>/dev/null; do
    sleep 5; elapsed=$((elapsed + 5))
    if (( elapsed % 30 == 0 )); then log "$label: still working (${elapsed}s, log: $logfile)"; fi
  done
  if ! wait "$pid"; then
    log "$label FAILED; last lines of $logfile:"; tail -n 40 "$logfile" >&2; return 1
  fi
}

apt_packages() {
  local missing=()
  while read -r pkg; do
    [[ -z "$pkg" || "$pkg" == \#* ]] && continue
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done < "$here/apt-packages.txt"
  if ((${#missing[@]} == 0)); then log "apt: all packages present"; return; fi
  log "apt: installing ${missing[*]}"
  local sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  with_heartbeat "apt-get update" "$cache/logs/apt-update.log" $sudo apt-get update -q
  # Packages like slapd and samba start system daemons on 0.0.0.0 when installed; the tests
  # start their own on 127.0.0.1, so forbid service starts during the install (policy-rc.d).
  local policy=/usr/sbin/policy-rc.d own_policy=""
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null && $sudo chmod 0755 "$policy" && own_policy=1
  fi
  local rc=0
  with_heartbeat "apt-get install" "$cache/logs/apt-install.log" \
    $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" || rc=$?
  [[ -n $own_policy ]] && $sudo rm -f "$policy"
  return $rc
}

salt_venv() {
  # Salt, salt-api's cherrypy and the tests' packages (requirements-test.txt, pinned): the key
  # carries a hash of that file, so a changed requirement builds a new venv.
  local reqs="$here/requirements-test.txt"
  local reqs_key; reqs_key="$(sha256sum "$reqs" | cut -c1-8)"
  local venv="$cache/venv/salt-$SALT_VERSION-cherrypy-$CHERRYPY_VERSION-test-$reqs_key"
  if [[ -f "$venv/.complete" ]]; then log "salt: cached at $venv"; else
    log "salt: creating venv with salt==$SALT_VERSION cherrypy==$CHERRYPY_VERSION and $(basename "$reqs")"
    rm -rf "$venv"
    python3 -m venv "$venv"
    local pip_start; pip_start=$(date +%s)
    with_heartbeat "pip install salt" "$cache/logs/pip-salt.log" \
      "$venv/bin/pip" install -q "salt==$SALT_VERSION" "cherrypy==$CHERRYPY_VERSION" -r "$reqs"
    echo "$(( $(date +%s) - pip_start ))" > "$venv/build-seconds"
    touch "$venv/.complete"
  fi
  echo "SALT_VENV=$venv" >> "$cache/toolchain.env.tmp"
}

# go_build COMPONENT VERSION [ldflags=FLAGS] OUTPUT_VAR=PKG... : builds packages of a wrapper
# module. The cache key is the version and a hash of go.mod, go.sum and the ldflags.
go_build() {
  local component="$1" version="$2"; shift 2
  local ldflags=""
  if [[ "${1:-}" == ldflags=* ]]; then ldflags="${1#ldflags=}"; shift; fi
  local mod="$here/go/$component"
  local key; key="$version-$( { cat "$mod/go.mod" "$mod/go.sum"; [[ -z $ldflags ]] || echo "$ldflags"; } \
    | sha256sum | cut -c1-10)"
  local out="$cache/bin/$component-$key"
  local spec var pkg bin all_cached=1
  for spec in "$@"; do bin="${spec#*=}"; bin="${bin##*/}"; [[ "$bin" == "." ]] && bin="$component"
    [[ -x "$out/$bin" ]] || all_cached=0; done
  if ((all_cached)); then log "$component $version: cached at $out"; else
    log "$component $version: building with $(go version | cut -d' ' -f3) (first build takes minutes)"
    local build_start; build_start=$(date +%s)
    mkdir -p "$out.tmp"
    for spec in "$@"; do
      pkg="${spec#*=}"; bin="${pkg##*/}"; [[ "$bin" == "." ]] && bin="$component"
      [[ -x "$out.tmp/$bin" ]] && continue   # an interrupted build keeps what it finished
      (cd "$mod" && with_heartbeat "go build $bin" "$cache/logs/build-$component-$bin.log" \
        env CGO_ENABLED=0 GOFLAGS=-mod=mod nice go build -trimpath -ldflags "$ldflags" -o "$out.tmp/$bin" "$pkg")
    done
    # Kept with the binaries so the benchmark can report the cold build time later.
    echo "$(( $(date +%s) - build_start ))" > "$out.tmp/build-seconds"
    rm -rf "$out"; mv "$out.tmp" "$out"
  fi
  for spec in "$@"; do var="${spec%%=*}"; pkg="${spec#*=}"; bin="${pkg##*/}"
    [[ "$bin" == "." ]] && bin="$component"
    echo "$var=$out/$bin" >> "$cache/toolchain.env.tmp"; done
}

# Version stamps, as the projects' own release builds set them (`kubelet --version`,
# the node's kubeletVersion, `containerd --version`).
kube_ldflags() {
  local v="${KUBERNETES_VERSION#v}" pkg f=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    f+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=${v%%.*}"
    f+=" -X $pkg.gitMinor=$(cut -d. -f2 <<<"$v") -X $pkg.gitTreeState=clean"
  done
  echo "${f# }"
}
containerd_ldflags() {
  echo "-X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION"
}

main() {
  local total_start; total_start=$(date +%s)
  rm -f "$cache/toolchain.env.tmp"
  step apt apt_packages
  step salt salt_venv
  step etcd go_build etcd "$ETCD_VERSION" ETCD_BIN=.
  step containerd go_build containerd "$CONTAINERD_VERSION" "ldflags=$(containerd_ldflags)" \
    CONTAINERD_BIN=github.com/containerd/containerd/v2/cmd/containerd \
    CONTAINERD_SHIM_BIN=github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 \
    CTR_BIN=github.com/containerd/containerd/v2/cmd/ctr
  step kubernetes go_build kubernetes "$KUBERNETES_VERSION" "ldflags=$(kube_ldflags)" \
    KUBE_APISERVER_BIN=k8s.io/kubernetes/cmd/kube-apiserver KUBECTL_BIN=k8s.io/kubernetes/cmd/kubectl \
    KUBELET_BIN=k8s.io/kubernetes/cmd/kubelet \
    KUBE_CONTROLLER_MANAGER_BIN=k8s.io/kubernetes/cmd/kube-controller-manager \
    KUBE_SCHEDULER_BIN=k8s.io/kubernetes/cmd/kube-scheduler
  step dex go_build dex "$DEX_VERSION" DEX_BIN=github.com/dexidp/dex/cmd/dex
  step pause go_build pause "$PAUSE_VERSION" PAUSE_BIN=.
  step jarlauncher go_build jarlauncher v1 JARLAUNCHER_BIN=.
  # The real node's Debian parts, for labctl (one place for their paths).
  { echo "RUNC_BIN=$(command -v runc)"; echo "CNI_BIN_DIR=/usr/lib/cni"; } >> "$cache/toolchain.env.tmp"
  mv "$cache/toolchain.env.tmp" "$cache/toolchain.env"
  log "toolchain ready in $(( $(date +%s) - total_start ))s; paths in $cache/toolchain.env"
}

main "$@"
