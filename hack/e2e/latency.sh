#!/usr/bin/env bash
# Admission latency probe (make e2e-latency): how much the compiled policy pack adds to every create and update
# at the API server, with the real Kyverno admission controller.
#
#   hack/e2e/latency.sh
#
# 1. builds what is missing in bin/ (hack/e2e/build.sh kube kyverno-controller, and bin/polc) and the probe
#    (tests/e2e/latency_test.go, compiled before the stack starts);
# 2. starts the stack of hack/e2e/stack.sh (etcd, kube-apiserver, kube-controller-manager, Kyverno; 127.0.0.1);
# 3. runs the probe (TestAdmissionLatency with POLC_LATENCY=1): no pack, then each target's pack of the
#    generated 10- and 200-module repositories, then no pack again; each configuration creates and updates
#    the same kinds of objects one request at a time and reports p50, p99 and mean;
# 4. stops exactly the processes it started (also on failure or interrupt) and prints the table.
#
# Environment (read by the probe): POLC_LATENCY_SIZES (default 10,200), POLC_LATENCY_TARGETS (default
# clusterpolicy,validatingpolicy), POLC_LATENCY_MODULES (modules whose objects are sent, default 10, one of
# which warms up), POLC_LATENCY_WARMUP (rounds of dry-run creates in the warm-up, default 2). It measures and
# does not judge: the exit status is non-zero only when the stack or the probe fails, or a measured object is
# refused.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
T0=$SECONDS

banner() {
  echo
  echo "==== e2e-latency: $* [+$((SECONDS - T0))s] ===="
}

# shellcheck source=hack/e2e/prereqs.sh
source hack/e2e/prereqs.sh
banner "prerequisites"
e2e_prereqs

banner "binaries (bin/)"
hack/e2e/build.sh kube kyverno-controller
go build -o bin/polc ./cmd/polc

# shellcheck source=hack/e2e/stack.sh
source hack/e2e/stack.sh
E2E_DIR=$(mktemp -d "${TMPDIR:-/tmp}/polc-e2e-latency.XXXXXX")
mkdir -p "$E2E_DIR/logs"
echo "building the probe (go test -c -tags e2e ./tests/e2e/)"
go test -c -tags e2e -o "$E2E_DIR/e2e.test" ./tests/e2e/

status=0
PROBE_PID=
cleanup() {
  local rc=$? table=
  trap - EXIT INT TERM
  [ "$status" -ne 0 ] || status=$rc
  banner "teardown"
  if [ -n "${PROBE_PID:-}" ] && kill -0 "$PROBE_PID" 2>/dev/null; then
    echo "stopping the probe (pid $PROBE_PID)"
    kill -TERM "$PROBE_PID" 2>/dev/null || true
    local deadline=$((SECONDS + 10))
    while kill -0 "$PROBE_PID" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
    kill -KILL "$PROBE_PID" 2>/dev/null || true
  fi
  stack_down || status=1
  [ ! -f "$E2E_DIR/latency.txt" ] || table=$(cat "$E2E_DIR/latency.txt")
  if [ "$status" -ne 0 ]; then
    [ ! -L "$E2E_DIR/etcd" ] || rm -rf "$(readlink "$E2E_DIR/etcd")"
    rm -rf "$E2E_DIR/etcd" "$E2E_DIR/e2e.test"
    echo "logs kept in $E2E_DIR/logs"
  else
    stack_remove
  fi
  if [ -n "$table" ]; then
    banner "admission latency, one request at a time, measured at the client"
    echo "$table"
  fi
  echo "e2e-latency finished in $((SECONDS - T0))s with status $status"
  exit "$status"
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; status=130; exit 130' INT
trap 'echo "terminated" >&2; status=143; exit 143' TERM

banner "control plane"
stack_up
stack_check_loopback

banner "probe (TestAdmissionLatency)"
# In the background and waited for, so that SIGTERM and SIGINT are handled at once; cleanup stops it. The
# test binary runs in its package directory, as go test runs it.
(cd "$ROOT/tests/e2e" && POLC_LATENCY=1 POLC_LATENCY_OUT="$E2E_DIR/latency.txt" exec "$E2E_DIR/e2e.test" \
  -test.run '^TestAdmissionLatency$' -test.v -test.count=1 -test.timeout 60m) > >(tee "$E2E_DIR/logs/latency.log") 2>&1 &
PROBE_PID=$!
rc=0
wait "$PROBE_PID" || rc=$?
PROBE_PID=
if [ "$rc" -ne 0 ]; then
  echo "the probe failed (exit $rc); its log: $E2E_DIR/logs/latency.log" >&2
  status=1
fi
exit "$status"
