# shellcheck shell=bash
# e2e_prereqs: the tools that the stack needs from the system (etcd, openssl, curl, ss), installed with
# apt-get when missing and root (or password-less sudo) is available; fails naming them otherwise.
e2e_prereqs() {
  local missing=() sudo=
  command -v etcd >/dev/null || missing+=(etcd-server)
  command -v openssl >/dev/null || missing+=(openssl)
  command -v curl >/dev/null || missing+=(curl)
  command -v ss >/dev/null || missing+=(iproute2)
  if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
    if command -v apt-get >/dev/null && { [ -z "$sudo" ] || $sudo true 2>/dev/null; }; then
      echo "installing ${missing[*]} with apt-get"
      $sudo apt-get update -qq
      $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
      echo "missing: ${missing[*]} (Debian packages); install them and run again" >&2
      return 1
    fi
  fi
  echo "etcd $(etcd --version 2>/dev/null | sed -n 's/^etcd Version: //p'), $(openssl version)"
}
