#!/usr/bin/env bash
# Time polc check against kyverno apply of the compiled pack (both targets) on the same rendered
# objects of the generated 200-module repository, in one run, and print the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
hack/build-tools.sh kyverno # reuses bin/kyverno only when it is the pinned version
POLC_SPEED=1 go test ./tests/parity -run TestSpeedAgainstKyverno -count=1 -v -timeout 30m | grep -E '^(polc check|kyverno apply)|FAIL|ok'
