# Loud skips: a suite left out by a knob (POLC_E2E=0, E2E_DEPLOY_PATH=0) is announced in a banner, and
# fails the run when CI is set (non-empty) unless POLC_ALLOW_SKIP=1 is set too. The Go tests follow the
# same rule through testutil.SkipOrFail.

# skips_fail: succeeds when a skipped suite must fail the run.
skips_fail() {
  [ -n "${CI:-}" ] && [ "${POLC_ALLOW_SKIP:-}" != 1 ]
}

# skip_or_fail WHAT HOW: announces that WHAT was not run and HOW to run it; returns 1 (so the caller
# fails) when skips_fail, else 0.
skip_or_fail() {
  local line='################################################################################'
  echo "$line"
  if skips_fail; then
    echo "## FAILED: $1 was NOT run, and CI is set."
    echo "## $2; or set POLC_ALLOW_SKIP=1 to allow the skip. See hack/e2e/README.md."
    echo "$line"
    return 1
  fi
  echo "## NOTICE: $1 was NOT run."
  echo "## $2; see hack/e2e/README.md."
  echo "$line"
}
