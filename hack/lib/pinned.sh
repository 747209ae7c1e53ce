# Pinned tool binaries in bin/: reuse one only when it is the pinned version. Sourced by
# hack/build-tools.sh and hack/e2e/build.sh.
#
# Each binary bin/NAME built by those scripts has a stamp file bin/.NAME.version that holds the pinned
# version it was built from (for example "github.com/kyverno/kyverno v1.19.1"). A binary is reused when its
# stamp equals the pinned version. A binary without a stamp (built before stamps existed, or copied in) is
# checked once against the version it reports, and stamped when that matches; otherwise it is rebuilt.

# pinned_module_version DIR MODULE: the version of MODULE that the Go module in DIR requires.
pinned_module_version() {
  (cd "$1" && go list -m -f '{{if .Replace}}{{.Replace.Version}}{{else}}{{.Version}}{{end}}' "$2")
}

# stamp_file BIN: the stamp file of the binary BIN.
stamp_file() {
  echo "$(dirname "$1")/.$(basename "$1").version"
}

# write_stamp BIN PINNED: records that BIN is the pinned version PINNED.
write_stamp() {
  printf '%s\n' "$2" >"$(stamp_file "$1")"
}

# reported_module_version BIN MODULE: the version of MODULE recorded in BIN's Go build information
# (`go version -m`, which reads the file without running it), or nothing.
reported_module_version() {
  go version -m "$1" 2>/dev/null | awk -v m="$2" '($1 == "mod" || $1 == "dep") && $2 == m { print $3; exit }'
}

# binary_current BIN PINNED REPORTED: succeeds when BIN exists and is the pinned version. PINNED is what the
# stamp must hold; REPORTED is the version BIN reports itself (checked only when there is no stamp, and then
# stamped). It fails, saying why, when BIN must be (re)built.
binary_current() {
  local bin=$1 pinned=$2 reported=$3 stamp
  [ -x "$bin" ] || return 1
  stamp=$(stamp_file "$bin")
  if [ -f "$stamp" ]; then
    if [ "$(cat "$stamp")" = "$pinned" ]; then
      return 0
    fi
    echo "${bin#"$PWD/"} was built from $(cat "$stamp"), not the pinned $pinned: rebuilding it"
    return 1
  fi
  if [ "${pinned##* }" = "$reported" ]; then
    write_stamp "$bin" "$pinned"
    echo "${bin#"$PWD/"} reports the pinned version $reported: stamped"
    return 0
  fi
  echo "${bin#"$PWD/"} reports version '${reported:-unknown}', not the pinned $pinned: rebuilding it"
  return 1
}
