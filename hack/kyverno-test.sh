#!/usr/bin/env bash
# Check that the committed policy pack is up to date (polc compile --check) and run the pinned
# Kyverno CLI's tests on it, then compile the other target into a temporary directory and test
# that too. Builds bin/kyverno when it is missing or not the pinned version.
set -euo pipefail
cd "$(dirname "$0")/.."
hack/build-tools.sh kyverno
[ -x bin/polc ] || go build -o bin/polc ./cmd/polc
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run_tests DIR NAME: kyverno test DIR; fails when a test fails or nothing ran.
run_tests() {
  local dir=$1 name=$2 log="$tmp/$2.log" rc=0
  echo "== kyverno test $dir"
  bin/kyverno test "$dir" --remove-color > "$log" 2>&1 || rc=$?
  grep -E 'Test Summary' "$log" || true
  if [ "$rc" -ne 0 ] || ! grep -qE 'Test Summary: [1-9][0-9]* tests passed and 0 tests failed' "$log"; then
    grep -E 'Fail|Error|error' "$log" | head -50 || true
    echo "kyverno test failed for $name (full log above or in $log)"
    return 1
  fi
}

status=0
echo "== polc compile --check (the committed pack is what the metadata compiles to)"
if ! out=$(bin/polc compile --check); then
  echo "$out"
  echo "the policy pack is stale: run 'polc compile' and commit the result"
  exit 1
fi
echo "$out"
dir=${out%% is up to date*}
default=${out##*target }
default=${default%%)*}
run_tests "$dir" "$default" || status=1

other=validatingpolicy
[ "$default" = validatingpolicy ] && other=clusterpolicy
echo "== polc compile --target $other --out $tmp/$other"
bin/polc compile --target "$other" --out "$tmp/$other"
run_tests "$tmp/$other" "$other" || status=1
exit $status
