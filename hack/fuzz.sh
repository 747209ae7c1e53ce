#!/usr/bin/env bash
# Run every Go fuzz target of the repository for a short, fixed time each: FUZZTIME per target
# (default 10s), one `go test -fuzz` per target since Go fuzzes one target per invocation. Targets
# are found automatically (func FuzzXxx(f *testing.F) in a *_test.go file), so new ones are
# included. Fails when any target fails; Go then writes the failing input to the package's
# testdata/fuzz/FuzzXxx/ directory, where it stays as a seed (commit it with the fix).
#
# Usage: hack/fuzz.sh [REGEXP]    only the targets whose name matches the extended regexp
# Environment:
#   FUZZTIME   time per target, as for go test -fuzztime (default 10s; 1000x counts runs)
#   FUZZFLAGS  more flags for go test, e.g. "-parallel 4" or "-fuzzminimizetime 5s"
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
FUZZTIME=${FUZZTIME:-10s}
filter=${1:-}

# Targets as "package-dir module-dir package-in-module target", sorted; each package is tested
# from the directory of the Go module that holds it (tools/ has modules of its own).
targets=()
while IFS= read -r file; do
  dir=$(dirname "$file")
  mod=$dir
  while [ "$mod" != . ] && [ ! -f "$mod/go.mod" ]; do
    mod=$(dirname "$mod")
  done
  while IFS= read -r name; do
    if [ -n "$filter" ] && ! [[ $name =~ $filter ]]; then
      continue
    fi
    rel=.
    if [ "$mod" = . ]; then
      rel=./$dir
    elif [ "$dir" != "$mod" ]; then
      rel=./${dir#"$mod"/}
    fi
    targets+=("$dir $mod $rel $name")
  done < <(sed -nE 's/^func (Fuzz[A-Za-z0-9_]*)\(.*\*testing\.F\).*/\1/p' "$file")
done < <(grep -rlE --include='*_test.go' --exclude-dir=testdata --exclude-dir=.git --exclude-dir=bin \
  --exclude-dir=node_modules '^func Fuzz[A-Za-z0-9_]*\(' . | sed 's|^\./||' | sort)

if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz: no fuzz targets found${filter:+ matching $filter}" >&2
  exit 1
fi
mapfile -t targets < <(printf '%s\n' "${targets[@]}" | sort -u)

# inputs lists the saved inputs of a target (its seed corpus and any failing input Go wrote).
inputs() {
  ls "$root/$1/testdata/fuzz/$2" 2>/dev/null || true
}

echo "fuzz: ${#targets[@]} targets, $FUZZTIME each"
failed=()
start=$SECONDS
i=0
for t in "${targets[@]}"; do
  read -r dir mod rel name <<<"$t"
  i=$((i + 1))
  echo "== [$i/${#targets[@]}] $name (./$dir)"
  t0=$SECONDS
  for attempt in 1 2; do
    before=$(inputs "$dir" "$name")
    log=$(mktemp)
    # shellcheck disable=SC2086 # FUZZFLAGS holds several flags
    if (cd "$root/$mod" && go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" ${FUZZFLAGS:-} "$rel") 2>&1 | tee "$log"; then
      echo "   ok $name ($((SECONDS - t0))s)"
      rm -f "$log"
      break
    fi
    # Go's fuzz coordinator can report "context deadline exceeded" when -fuzztime ends while a
    # worker is busy (go.dev/issue/75804, fixed in Go 1.27): no input failed and none is saved.
    # That, and only that, is run once more; a saved input or any other failure fails the target.
    if [ "$attempt" = 1 ] && [ "$(inputs "$dir" "$name")" = "$before" ] && grep -qx '    context deadline exceeded' "$log"; then
      echo "   !! $name: the fuzz coordinator's end-of-time race (go.dev/issue/75804), no failing input: running it again" >&2
      rm -f "$log"
      continue
    fi
    rm -f "$log"
    echo "   FAIL $name ($((SECONDS - t0))s): see above; a failing input, if any, is saved in $dir/testdata/fuzz/$name/" >&2
    failed+=("$name (./$dir)")
    break
  done
done

echo "fuzz: ${#targets[@]} targets in $((SECONDS - start))s"
if [ ${#failed[@]} -gt 0 ]; then
  printf 'fuzz: FAIL %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "fuzz: PASS"
