#!/usr/bin/env bash
# Build the binaries of the in-cluster test stack into bin/, once: each one is reused while it is the pinned version.
#
#   hack/e2e/build.sh [kube|kyverno-controller|chainsaw]...   (no argument: all of them)
#
#   kube                kube-apiserver, kube-controller-manager and kubectl 1.35.4 (tools/e2e/go.mod)
#   kyverno-controller  the Kyverno 1.19.1 admission and reports controllers (tools/go.mod, next to the
#                       Kyverno CLI): bin/kyverno-controller, bin/kyverno-reports-controller
#   chainsaw            kyverno chainsaw v0.2.12, built from a temporary copy of its module source
#
# A cold build (empty Go build cache) takes about 20 minutes on 2 cores; progress is printed every 30 s.
# Binaries already in bin/ that are the pinned version (stamps bin/.NAME.version, hack/lib/pinned.sh), or in
# the binary cache (see CACHE below), are not built again.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BIN=$ROOT/bin
mkdir -p "$BIN"
# shellcheck source=hack/lib/pinned.sh
source hack/lib/pinned.sh

# The pinned versions: Kubernetes from tools/e2e/go.mod, Kyverno from tools/go.mod (next to the CLI).
KUBE_VERSION=$(pinned_module_version tools/e2e k8s.io/kubernetes)
KYVERNO_VERSION=$(pinned_module_version tools github.com/kyverno/kyverno)
CHAINSAW_VERSION=v0.2.12
NICE=(nice -n "${E2E_BUILD_NICE:-10}")

# run_with_progress LABEL CMD...: runs CMD, printing elapsed time every 30 s, and the total at the end.
run_with_progress() {
  local label=$1 start pid rc
  shift
  start=$(date +%s)
  echo "building $label..."
  "$@" &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    for _ in $(seq 30); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 1
    done
    kill -0 "$pid" 2>/dev/null && echo "  still building $label: $(($(date +%s) - start))s"
  done
  rc=0
  wait "$pid" || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "building $label failed (exit $rc) after $(($(date +%s) - start))s" >&2
    return "$rc"
  fi
  echo "built $label in $(($(date +%s) - start))s"
}

# pinned_of TARGET: "MODULE VERSION", the version that the binaries of TARGET must be.
pinned_of() {
  case "$1" in
    kube) echo "k8s.io/kubernetes $KUBE_VERSION" ;;
    kyverno-controller) echo "github.com/kyverno/kyverno $KYVERNO_VERSION" ;;
    chainsaw) echo "github.com/kyverno/chainsaw $CHAINSAW_VERSION" ;;
  esac
}

# reported_version TARGET BIN: the version that BIN, a binary of TARGET, reports. Chainsaw is built from a
# copy of its module source, so its build information has no version: it is asked.
reported_version() {
  case "$1" in
    chainsaw) [ ! -x "$2" ] || "$2" version 2>/dev/null | sed -n 's/^Version: //p' ;;
    *) local pinned
      pinned=$(pinned_of "$1")
      reported_module_version "$2" "${pinned%% *}" ;;
  esac
}

# current TARGET BINARIES...: succeeds when every binary is in bin/ and the pinned version of TARGET.
current() {
  local t=$1 b pinned
  shift
  pinned=$(pinned_of "$t")
  for b in "$@"; do
    binary_current "$BIN/$b" "$pinned" "$(reported_version "$t" "$BIN/$b")" || return 1
  done
}

build_kube() {
  local minor=${KUBE_VERSION#v1.}
  minor=${minor%%.*}
  local pkg=k8s.io/component-base/version
  local ldflags="-s -w -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean"
  local out
  out=$(mktemp -d "$BIN/.kube.XXXXXX")
  # One go build for the three commands shares the compilation of their common packages.
  run_with_progress "kube-apiserver, kube-controller-manager, kubectl $KUBE_VERSION" \
    bash -c 'cd tools/e2e && exec "$@"' _ "${NICE[@]}" go build -trimpath -ldflags "$ldflags" -o "$out/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kubectl
  mv "$out"/kube-apiserver "$out"/kube-controller-manager "$out"/kubectl "$BIN/"
  rmdir "$out"
}

build_kyverno_controller() {
  local out
  out=$(mktemp -d "$BIN/.kyverno.XXXXXX")
  # No -trimpath here: the same flags as the Kyverno CLI build (hack/build-tools.sh) let the two builds
  # share their compiled packages in the Go build cache.
  run_with_progress "kyverno-controller, kyverno-reports-controller (github.com/kyverno/kyverno/cmd/...)" \
    bash -c 'cd tools && exec "$@"' _ "${NICE[@]}" go build \
    -ldflags "-s -w -X github.com/kyverno/kyverno/pkg/version.BuildVersion=$KYVERNO_VERSION" -o "$out/" \
    github.com/kyverno/kyverno/cmd/kyverno github.com/kyverno/kyverno/cmd/reports-controller
  mv "$out/kyverno" "$BIN/kyverno-controller"
  mv "$out/reports-controller" "$BIN/kyverno-reports-controller"
  rmdir "$out"
}

# chainsaw v0.2.12 does not compile with Go 1.26: the testing package now requires a ModulePath method on
# the test-deps type that chainsaw's runner passes to testing.MainStart. The build copies the module
# source to a temporary directory, adds that one method in a new file, and builds the copy.
build_chainsaw() {
  local src tmp
  src=$(cd tools/e2e && go mod download -json "github.com/kyverno/chainsaw@$CHAINSAW_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$src" ] || { echo "cannot download github.com/kyverno/chainsaw@$CHAINSAW_VERSION" >&2; return 1; }
  tmp=$(mktemp -d)
  cp -R "$src/." "$tmp/"
  chmod -R u+w "$tmp"
  cat >"$tmp/pkg/runner/internal/test_deps_modulepath.go" <<'EOF'
package internal

// ModulePath is required by the testing package of Go 1.26 and later.
func (*TestDeps) ModulePath() string {
	return ""
}
EOF
  local rc=0
  run_with_progress "chainsaw $CHAINSAW_VERSION" \
    bash -c 'cd "$0" && exec "$@"' "$tmp" "${NICE[@]}" go build -trimpath \
    -ldflags "-s -w -X github.com/kyverno/chainsaw/pkg/version.BuildVersion=$CHAINSAW_VERSION" \
    -o "$BIN/chainsaw.tmp" . || rc=$?
  rm -rf "$tmp"
  [ "$rc" -eq 0 ] || return "$rc"
  mv "$BIN/chainsaw.tmp" "$BIN/chainsaw"
}

# Built binaries are also kept in a cache outside the work tree, keyed by everything they are built from,
# so that a fresh clone on the same machine (as CI uses) copies them instead of building again.
# POLC_E2E_CACHE=off disables it.
CACHE=${POLC_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/polc/e2e-bin}

binaries_of() {
  case "$1" in
    kube) echo kube-apiserver kube-controller-manager kubectl ;;
    kyverno-controller) echo kyverno-controller kyverno-reports-controller ;;
    chainsaw) echo chainsaw ;;
  esac
}

# cache_dir TARGET: the cache entry of TARGET, keyed by the Go version, the target's build recipe, its pinned
# version and the module files it is built from.
cache_dir() {
  local key
  key=$({
    go version
    declare -f "build_${1//-/_}" run_with_progress
    pinned_of "$1"
    case "$1" in
      kube) cat tools/e2e/go.mod tools/e2e/go.sum ;;
      kyverno-controller) cat tools/go.mod tools/go.sum ;;
    esac
  } | sha256sum | cut -c1-16)
  echo "$CACHE/$1-$key"
}

# cache_store TARGET DIR BINARIES...: copies the binaries from bin/ into the cache entry DIR, replacing the
# target's older entries.
cache_store() {
  local t=$1 dir=$2 tmpdir b
  shift 2
  mkdir -p "$CACHE"
  tmpdir=$(mktemp -d "$CACHE/.tmp.XXXXXX")
  for b in "$@"; do cp "$BIN/$b" "$tmpdir/"; done
  rm -rf "$CACHE/$t-"*
  mv "$tmpdir" "$dir"
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(kube kyverno-controller chainsaw)
total_start=$(date +%s)
for t in "${targets[@]}"; do
  case "$t" in
    kube | kyverno-controller | chainsaw) ;;
    *) echo "unknown target $t (want kube, kyverno-controller or chainsaw)" >&2; exit 2 ;;
  esac
  read -r -a bins <<<"$(binaries_of "$t")"
  dir=
  [ "$CACHE" = off ] || dir=$(cache_dir "$t")
  if current "$t" "${bins[@]}"; then
    echo "bin/: ${bins[*]} are the pinned $(pinned_of "$t"), reusing them"
    if [ -n "$dir" ] && [ ! -d "$dir" ]; then
      cache_store "$t" "$dir" "${bins[@]}"
      echo "bin/: ${bins[*]} stored in the cache $dir"
    fi
    continue
  fi
  if [ -n "$dir" ] && [ -d "$dir" ]; then
    for b in "${bins[@]}"; do
      cp "$dir/$b" "$BIN/$b.tmp" && mv "$BIN/$b.tmp" "$BIN/$b"
      rm -f "$(stamp_file "$BIN/$b")" # checked against the version it reports, next
    done
    if current "$t" "${bins[@]}"; then
      echo "bin/: ${bins[*]} copied from the cache $dir"
      continue
    fi
  fi
  case "$t" in
    kube) build_kube ;;
    kyverno-controller) build_kyverno_controller ;;
    chainsaw) build_chainsaw ;;
  esac
  for b in "${bins[@]}"; do write_stamp "$BIN/$b" "$(pinned_of "$t")"; done
  [ -z "$dir" ] || cache_store "$t" "$dir" "${bins[@]}"
done
echo "e2e binaries ready in bin/ ($(($(date +%s) - total_start))s)"
