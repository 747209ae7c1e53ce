#!/usr/bin/env bash
# Start the in-cluster test stack and leave it running, for writing and debugging chainsaw tests:
#
#   hack/e2e/up.sh            # builds what is missing, starts the stack, prints KUBECONFIG
#   export KUBECONFIG=...     # then kubectl (bin/kubectl) and chainsaw (bin/chainsaw) talk to it
#   hack/e2e/down.sh DIR      # stops exactly the processes it started
set -euo pipefail
cd "$(dirname "$0")/../.."
hack/e2e/build.sh
# shellcheck source=hack/e2e/stack.sh
source hack/e2e/stack.sh
if ! stack_up; then
  stack_down || true
  echo "the stack did not start; logs in $E2E_DIR/logs" >&2
  exit 1
fi
echo "export KUBECONFIG=$KUBECONFIG"
echo "stop it with: hack/e2e/down.sh $E2E_DIR"
