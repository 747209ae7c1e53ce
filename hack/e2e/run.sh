#!/usr/bin/env bash
# In-cluster policy tests: a real kube-apiserver with the real Kyverno admission controller, no containers.
#
#   hack/e2e/run.sh [PACK_DIR...]
#
# 1. builds what is missing in bin/ (hack/e2e/build.sh; a cold build takes about 20 minutes on 2 cores);
# 2. starts etcd, kube-apiserver, kube-controller-manager and Kyverno on 127.0.0.1 (hack/e2e/stack.sh), with
#    all state in a temporary directory;
# 3. runs the harness's own chainsaw test (tests/e2e/chainsaw);
# 4. for each policy pack (default: policies/, then the validatingpolicy target compiled into a temporary
#    directory when polc can compile it): `kubectl apply -k PACK`, waits until every policy is ready, runs
#    the chainsaw tests PACK/tests/*/chainsaw-test.yaml, and deletes the pack again; then (without PACK_DIR
#    arguments) `polc test --kyverno` on the stack's cluster, the deployment path and `polc test` on local
#    control planes (tests/e2e);
# 5. stops exactly the processes it started (also on failure or interrupt) and checks none is left.
#
# Environment: POLC_E2E=0 skips the suite and E2E_DEPLOY_PATH=0 the deployment-path test, loudly; when CI
# is set (non-empty) either fails the run unless POLC_ALLOW_SKIP=1 is set too (hack/lib/skip.sh).
# E2E_KEEP=1 leaves the stack running at the end and prints how to use and stop it;
# E2E_PARALLEL (default 4) chainsaw tests at once; E2E_CHAINSAW_ARGS extra chainsaw flags;
# E2E_REQUIRE_PACK=1 (the default when CI is set) fails, instead of warning, when there is no policy pack
# to test or a pack has no chainsaw tests.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
# shellcheck source=hack/lib/skip.sh
source hack/lib/skip.sh
if [ "${POLC_E2E:-1}" = 0 ]; then
  skip_or_fail "the in-cluster e2e suite (make e2e; POLC_E2E=0)" "Unset POLC_E2E to run it" || exit 1
  exit 0
fi
if skips_fail; then
  E2E_REQUIRE_PACK=${E2E_REQUIRE_PACK:-1}
fi
RUN_T0=$SECONDS

banner() {
  echo
  echo "==== e2e: $* [+$((SECONDS - RUN_T0))s] ===="
}

# Tools the stack needs from the system.
banner "prerequisites"
# shellcheck source=hack/e2e/prereqs.sh
source hack/e2e/prereqs.sh
e2e_prereqs || exit 1

banner "binaries (bin/)"
build_t0=$SECONDS
hack/e2e/build.sh
echo "binaries ready in $((SECONDS - build_t0))s"

# Policy packs to test.
packs=()
pack_labels=()
if [ $# -gt 0 ]; then
  for p in "$@"; do
    packs+=("$(cd "$p" && pwd)")
    pack_labels+=("$p")
  done
fi

# shellcheck source=hack/e2e/stack.sh
source hack/e2e/stack.sh
E2E_DIR=$(mktemp -d "${TMPDIR:-/tmp}/polc-e2e.XXXXXX")
mkdir -p "$E2E_DIR/logs"

status=0
CHAINSAW_PID=
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ "$status" -ne 0 ] || status=$rc
  if [ "${E2E_KEEP:-}" = 1 ] && [ "$status" -eq 0 ]; then
    banner "stack left running (E2E_KEEP=1)"
    echo "export KUBECONFIG=$KUBECONFIG"
    echo "stop it with: hack/e2e/down.sh $E2E_DIR"
    exit 0
  fi
  banner "teardown"
  if [ -n "${CHAINSAW_PID:-}" ] && kill -0 "$CHAINSAW_PID" 2>/dev/null; then
    echo "stopping chainsaw (pid $CHAINSAW_PID)"
    kill -TERM "$CHAINSAW_PID" 2>/dev/null || true
    local deadline=$((SECONDS + 10))
    while kill -0 "$CHAINSAW_PID" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
    kill -KILL "$CHAINSAW_PID" 2>/dev/null || true
  fi
  if ! stack_down; then
    status=1
  fi
  if [ -n "${E2E_DIR:-}" ] && [ -d "$E2E_DIR" ]; then
    if [ "$status" -ne 0 ]; then
      [ ! -L "$E2E_DIR/etcd" ] || rm -rf "$(readlink "$E2E_DIR/etcd")"
      rm -rf "$E2E_DIR/etcd"
      echo "logs kept in $E2E_DIR/logs"
    else
      stack_remove
    fi
  fi
  echo "e2e finished in $((SECONDS - RUN_T0))s with status $status"
  exit "$status"
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; status=130; exit 130' INT
trap 'echo "terminated" >&2; status=143; exit 143' TERM

# The committed pack and its validatingpolicy target, then both targets of a test repository with module
# exceptions (the compiled PolicyExceptions), all compiled by polc into the state directory.
banner "policy packs"
if [ $# -eq 0 ]; then
  if [ ! -f policies/kustomization.yaml ]; then
    echo "!! e2e: policies/kustomization.yaml does not exist (run polc compile)"
    [ "${E2E_REQUIRE_PACK:-}" != 1 ] || { status=1; exit 1; }
  fi
  go build -o bin/polc ./cmd/polc
  # compile_pack LABEL DIR ARGS...: polc compile ARGS --out DIR, added to the packs to test.
  compile_pack() {
    local label=$1 dir=$2
    shift 2
    if ! bin/polc compile "$@" --out "$dir" >>"$E2E_DIR/logs/compile.log" 2>&1; then
      cat "$E2E_DIR/logs/compile.log" >&2
      echo "polc compile $* failed" >&2
      status=1
      exit 1
    fi
    packs+=("$dir")
    pack_labels+=("$label")
  }
  if [ -f policies/kustomization.yaml ]; then
    packs+=("$ROOT/policies")
    pack_labels+=("policies/ (committed pack, clusterpolicy)")
  fi
  compile_pack "policies/, validatingpolicy target" "$E2E_DIR/pack-validatingpolicy" --target validatingpolicy
  for target in clusterpolicy validatingpolicy; do
    compile_pack "tests/testdata/repos/good-exceptions-excepted (module exceptions), $target target" \
      "$E2E_DIR/pack-exceptions-$target" --repo tests/testdata/repos/good-exceptions-excepted --target "$target"
  done
fi

for label in "${pack_labels[@]}"; do echo "pack: $label"; done

banner "control plane"
stack_up
stack_check_loopback
# Kinds that the tests send and no controller of this stack serves (cert-manager, Prometheus, Cilium ...).
for r in . tests/testdata/repos/*/; do
  bin/polc render --repo "$r" 2>/dev/null || true
  echo "---"
done >"$E2E_DIR/rendered.yaml"
find "${packs[@]}" -path '*/tests/*' -name resources.yaml -print0 2>/dev/null | xargs -0 -r cat >>"$E2E_DIR/rendered.yaml"
stack_stub_crds "$E2E_DIR/rendered.yaml"
# Chainsaw's scripts run kubectl from PATH.
export PATH="$E2E_BIN:$PATH"

passed=0
failed=0
skipped=0
# run_chainsaw LABEL TESTDIR...: runs chainsaw on the test directories and adds up its summary.
run_chainsaw() {
  local label=$1 out rc=0 p f s
  shift
  local dirs=()
  for d in "$@"; do dirs+=(--test-dir "$d"); done
  out=$E2E_DIR/logs/chainsaw-$(echo "$label" | tr -c 'a-zA-Z0-9\n' '-').log
  # In the background and waited for, so that SIGTERM and SIGINT are handled at once; cleanup stops it.
  # shellcheck disable=SC2086
  "$E2E_BIN/chainsaw" test "${dirs[@]}" --no-color --parallel "${E2E_PARALLEL:-4}" \
    --apply-timeout 30s --assert-timeout 60s --error-timeout 30s --delete-timeout 60s \
    --cleanup-timeout 60s ${E2E_CHAINSAW_ARGS:-} > >(tee "$out") 2>&1 &
  CHAINSAW_PID=$!
  wait "$CHAINSAW_PID" || rc=$?
  CHAINSAW_PID=
  p=$(sed -n 's/^- Passed  tests \([0-9]*\)$/\1/p' "$out" | tail -n1)
  f=$(sed -n 's/^- Failed  tests \([0-9]*\)$/\1/p' "$out" | tail -n1)
  s=$(sed -n 's/^- Skipped tests \([0-9]*\)$/\1/p' "$out" | tail -n1)
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
  skipped=$((skipped + ${s:-0}))
  if [ "$rc" -ne 0 ] || [ -z "$p" ]; then
    echo "chainsaw failed on $label (exit $rc)" >&2
    [ "${f:-0}" -gt 0 ] || failed=$((failed + 1))
    return 1
  fi
}

# wait_pack_ready NAMES...: waits until each applied policy reports ready.
wait_pack_ready() {
  local obj kind
  for obj in "$@"; do
    kind=${obj%%/*}
    case "$kind" in
      clusterpolicy.kyverno.io | policy.kyverno.io)
        kc wait --for condition=Ready "$obj" --timeout 90s >/dev/null 2>>"$E2E_DIR/logs/wait.log" || return 1 ;;
      validatingpolicy.policies.kyverno.io | namespacedvalidatingpolicy.policies.kyverno.io)
        # ValidatingPolicies have no Ready condition.
        kc wait --for 'jsonpath={.status.conditionStatus.ready}=true' "$obj" --timeout 90s >/dev/null \
          2>>"$E2E_DIR/logs/wait.log" || return 1 ;;
      *) continue ;;
    esac
  done
}

banner "harness test (tests/e2e/chainsaw)"
run_chainsaw harness "$ROOT/tests/e2e/chainsaw" || status=1

if [ ${#packs[@]} -eq 0 ]; then
  echo
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  echo "!! e2e: NO POLICY PACK TESTED: policies/kustomization.yaml does not exist (run polc compile)."
  echo "!! Only the harness's own test ran."
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  if [ "${E2E_REQUIRE_PACK:-}" = 1 ]; then status=1; fi
fi

for i in "${!packs[@]}"; do
  pack=${packs[$i]}
  label=${pack_labels[$i]}
  banner "policy pack: $label"
  t0=$SECONDS
  # Namespaces that namespaced objects of the pack (PolicyExceptions, say) live in, as Flux would have them.
  for ns in $(kc kustomize "$pack" 2>/dev/null | awk '
      /^[^ #-]/ { meta = ($0 == "metadata:") }
      meta && /^  namespace: / { print $2 }' | tr -d "'\"" | sort -u); do
    kc get namespace "$ns" >/dev/null 2>&1 || { kc create namespace "$ns" >/dev/null && echo "created namespace $ns"; }
  done
  if ! kc apply -k "$pack" -o name >"$E2E_DIR/applied" 2>"$E2E_DIR/logs/apply.log"; then
    cat "$E2E_DIR/logs/apply.log" >&2
    echo "kubectl apply -k $pack failed" >&2
    status=1
    continue
  fi
  echo "applied $(wc -l <"$E2E_DIR/applied") objects with kubectl apply -k"
  mapfile -t applied <"$E2E_DIR/applied"
  if ! wait_pack_ready "${applied[@]}"; then
    echo "the policies of $label did not become ready:" >&2
    kc get clusterpolicies,validatingpolicies.policies.kyverno.io 2>&1 >&2 || true
    status=1
  else
    echo "every policy ready after $((SECONDS - t0))s"
    tests=()
    while IFS= read -r f; do tests+=("$(dirname "$f")"); done < <(find "$pack/tests" -name chainsaw-test.yaml 2>/dev/null | sort)
    if [ ${#tests[@]} -eq 0 ]; then
      echo "!! e2e: $label has NO chainsaw tests (tests/*/chainsaw-test.yaml): nothing to run"
      [ "${E2E_REQUIRE_PACK:-}" != 1 ] || status=1
    else
      echo "running ${#tests[@]} chainsaw tests"
      run_chainsaw "$label" "${tests[@]}" || status=1
    fi
  fi
  t0=$SECONDS
  kc delete -k "$pack" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  for obj in "${applied[@]}"; do
    kc wait --for delete "$obj" --timeout 60s >/dev/null 2>&1 || echo "!! $obj still there after 60s" >&2
  done
  echo "pack deleted in $((SECONDS - t0))s"
done

# polc test --kyverno: polc installs the compiled pack for the run itself and removes it again, and each
# module's objects pass Kyverno's admission (tests/e2e/kyverno_test.go). It runs here, while no pack is
# installed and the cluster holds no object of the test repositories.
kyverno_summary=
if [ $# -eq 0 ]; then
  banner "module tests with admission (polc test --kyverno; go test -tags e2e -run TestKyvernoAdmission ./tests/e2e)"
  rc=0
  go test -tags e2e -count=1 -v -timeout 10m -run '^TestKyvernoAdmission$' ./tests/e2e/ 2>&1 | tee "$E2E_DIR/logs/kyverno-admission.log" || rc=$?
  kyverno_summary=$(sed -n 's/.*kyverno_test.go:[0-9]*: \(polc test --kyverno: .*\)/\1/p' "$E2E_DIR/logs/kyverno-admission.log")
  # No summary line with exit status 0 is a test that did not run (renamed, or "no tests to run").
  if [ "$rc" -ne 0 ] || [ -z "$kyverno_summary" ]; then
    echo "the module tests with admission failed" >&2
    kyverno_summary="polc test --kyverno: FAILED (see $E2E_DIR/logs/kyverno-admission.log)"
    failed=$((failed + 1))
  fi
fi

# The deployment path: the starter catalog applied as Flux applies it, then every test repository's
# objects sent through admission and compared with polc check (tests/e2e/deploypath_test.go).
deploy_summary=
if [ $# -eq 0 ] && [ "${E2E_DEPLOY_PATH:-1}" != 1 ]; then
  skip_or_fail "the deployment-path test (E2E_DEPLOY_PATH=${E2E_DEPLOY_PATH})" "Unset E2E_DEPLOY_PATH to run it" ||
    failed=$((failed + 1))
  deploy_summary="deployment path: NOT RUN (E2E_DEPLOY_PATH=${E2E_DEPLOY_PATH})"
fi
if [ $# -eq 0 ] && [ "${E2E_DEPLOY_PATH:-1}" = 1 ]; then
  banner "deployment path (go test -tags e2e ./tests/e2e)"
  rc=0
  go test -tags e2e -count=1 -v -timeout 30m -run TestDeploymentPath ./tests/e2e/ 2>&1 | tee "$E2E_DIR/logs/deploypath.log" || rc=$?
  deploy_summary=$(sed -n 's/.*deploypath_test.go:[0-9]*: \(deployment path .*\)/\1/p' "$E2E_DIR/logs/deploypath.log")
  if [ "$rc" -ne 0 ] || [ "$(grep -c . <<<"$deploy_summary")" -ne 2 ]; then
    echo "the deployment-path test failed" >&2
    deploy_summary="deployment path: FAILED (see $E2E_DIR/logs/deploypath.log)
${deploy_summary}"
    failed=$((failed + 1))
  fi
fi

# polc test: each module applied onto a local control plane of its own (etcd + bin/kube-apiserver,
# started and stopped by polc) that holds only its declared dependencies (tests/e2e/apitest_test.go).
module_summary=
if [ $# -eq 0 ]; then
  banner "module tests (polc test; go test -tags e2e -run TestModuleTests ./tests/e2e)"
  rc=0
  go test -tags e2e -count=1 -v -timeout 15m -run TestModuleTests ./tests/e2e/ 2>&1 | tee "$E2E_DIR/logs/moduletests.log" || rc=$?
  module_summary=$(sed -n 's/.*apitest_test.go:[0-9]*: \(polc test: starter catalog.*\)/\1/p' "$E2E_DIR/logs/moduletests.log")
  if [ "$rc" -ne 0 ] || [ -z "$module_summary" ]; then
    echo "the module tests failed" >&2
    module_summary="module tests: FAILED (see $E2E_DIR/logs/moduletests.log)"
    failed=$((failed + 1))
  fi
fi

banner "summary"
echo "chainsaw tests: $passed passed, $failed failed, $skipped skipped"
echo "${deploy_summary:-deployment path: not run}"
echo "${module_summary:-module tests: not run}"
echo "${kyverno_summary:-polc test --kyverno: not run}"
echo "e2e: $passed passed, $failed failed"
if [ "$failed" -gt 0 ]; then status=1; fi
exit "$status"
