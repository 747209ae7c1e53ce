#!/usr/bin/env bash
# Time polc check against kyverno apply of the compiled pack (both targets) on the same rendered
# objects of the generated 200-module repository, in one run, and print the ratios. The CLI compiles every
# ValidatingPolicy again for every object, so that target is applied to every 10th object and the total is
# extrapolated (POLC_SPEED_VP_SAMPLE=1 applies it to all; expect about half an hour on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
hack/build-tools.sh kyverno # reuses bin/kyverno only when it is the pinned version
POLC_SPEED=1 go test ./tests/parity -run TestSpeedAgainstKyverno -count=1 -v -timeout 30m | grep -E '^(polc check|kyverno apply)|FAIL|ok'
