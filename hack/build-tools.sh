#!/usr/bin/env bash
# Build pinned tools from the Go module proxy into bin/, once. The tools live in their own Go module
# (tools/go.mod) so that their dependency trees stay out of polc's go.mod.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bin
for tool in "$@"; do
  case "$tool" in
    kyverno) pkg=github.com/kyverno/kyverno/cmd/cli/kubectl-kyverno ;;
    kustomize) pkg=sigs.k8s.io/kustomize/kustomize/v5 ;;
    *) echo "unknown tool $tool" >&2; exit 2 ;;
  esac
  if [ -x "bin/$tool" ]; then
    echo "bin/$tool present: reusing it"
    continue
  fi
  echo "building $tool ($pkg) from tools/go.mod; a cold build takes about 10 minutes on 2 cores..."
  start=$(date +%s)
  ( cd tools && go build -o "../bin/$tool.tmp" "$pkg" ) &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 30
    kill -0 "$pid" 2>/dev/null && echo "  still building $tool: $(( $(date +%s) - start ))s"
  done
  wait "$pid"
  mv "bin/$tool.tmp" "bin/$tool"
  echo "built bin/$tool in $(( $(date +%s) - start ))s"
done
