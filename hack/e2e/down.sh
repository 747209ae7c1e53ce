#!/usr/bin/env bash
# Stop a stack left running by `E2E_KEEP=1 hack/e2e/run.sh` or hack/e2e/up.sh: only the processes recorded in
# DIR/pids, then remove DIR.
#
#   hack/e2e/down.sh DIR
set -euo pipefail
[ $# -eq 1 ] && [ -f "$1/pids" ] || { echo "usage: $0 DIR (a stack directory with a pids file)" >&2; exit 2; }
E2E_DIR=$(cd "$1" && pwd)
# shellcheck source=hack/e2e/stack.sh
source "$(dirname "$0")/stack.sh"
stack_down
stack_remove
