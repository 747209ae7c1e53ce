#!/usr/bin/env bash
# Build pinned tools from the Go module proxy into bin/, once:
#
#   hack/build-tools.sh [kyverno|kustomize|staticcheck]...
#
# Kyverno and kustomize live in their own Go module (tools/go.mod) so that their dependency trees stay out of
# polc's go.mod; staticcheck is pinned here (STATICCHECK_VERSION) and installed with `go install`.
# A binary in bin/ is reused only when it is the pinned version: each build writes a stamp bin/.TOOL.version
# holding that version, and a binary without a stamp is checked once against the version it reports
# (hack/lib/pinned.sh). Any other binary is rebuilt.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=hack/lib/pinned.sh
source hack/lib/pinned.sh
mkdir -p bin

STATICCHECK_VERSION=v0.8.2

# module_of TOOL: the Go module and package that TOOL is built from.
module_of() {
  case "$1" in
    kyverno) echo github.com/kyverno/kyverno github.com/kyverno/kyverno/cmd/cli/kubectl-kyverno ;;
    kustomize) echo sigs.k8s.io/kustomize/kustomize/v5 sigs.k8s.io/kustomize/kustomize/v5 ;;
    staticcheck) echo honnef.co/go/tools honnef.co/go/tools/cmd/staticcheck ;;
    *) return 1 ;;
  esac
}

# pinned_of TOOL MODULE: "MODULE VERSION", the version TOOL must be.
pinned_of() {
  case "$1" in
    staticcheck) echo "$2 $STATICCHECK_VERSION" ;;
    *) echo "$2 $(pinned_module_version tools "$2")" ;;
  esac
}

# build TOOL PKG PINNED: builds TOOL into bin/TOOL.tmp, printing progress every 30 s.
build() {
  local tool=$1 pkg=$2 pinned=$3 start pid
  echo "building $tool ($pkg, ${pinned##* }); a cold build takes up to about 10 minutes on 2 cores..."
  start=$(date +%s)
  case "$tool" in
    staticcheck) GOBIN=$PWD/bin/.staticcheck.tmp go install "$pkg@${pinned##* }" &
      ;;
    *) (cd tools && go build -o "../bin/$tool.tmp" "$pkg") & ;;
  esac
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 30
    kill -0 "$pid" 2>/dev/null && echo "  still building $tool: $(($(date +%s) - start))s"
  done
  wait "$pid"
  if [ "$tool" = staticcheck ]; then
    mv bin/.staticcheck.tmp/staticcheck bin/staticcheck.tmp
    rmdir bin/.staticcheck.tmp
  fi
  echo "built bin/$tool in $(($(date +%s) - start))s"
}

for tool in "$@"; do
  read -r module pkg < <(module_of "$tool") || { echo "unknown tool $tool (want kyverno, kustomize or staticcheck)" >&2; exit 2; }
  pinned=$(pinned_of "$tool" "$module")
  if binary_current "bin/$tool" "$pinned" "$(reported_module_version "bin/$tool" "$module")"; then
    echo "bin/$tool is the pinned $pinned: reusing it"
    continue
  fi
  build "$tool" "$pkg" "$pinned"
  mv "bin/$tool.tmp" "bin/$tool"
  write_stamp "bin/$tool" "$pinned"
done
