# shellcheck shell=bash
# A local control plane for the in-cluster policy tests: etcd, kube-apiserver, kube-controller-manager and
# the Kyverno admission and reports controllers, all on 127.0.0.1, all state in one temporary directory.
# Source this file, then call stack_up; stack_down stops exactly the processes that stack_up started (their
# PIDs are recorded in $E2E_DIR/pids) and checks that none is left.
#
# Inputs (environment): E2E_DIR (created when unset), E2E_BIN (default bin/ of the repository),
# E2E_EXCEPTION_NAMESPACE (namespaces whose PolicyExceptions Kyverno honours; default "*"),
# E2E_KYVERNO_PROFILE_PORT (when set, the admission controller serves Go's pprof on 127.0.0.1 at that port).
# Outputs: KUBECONFIG (exported), E2E_APISERVER_PORT, E2E_WEBHOOK_PORT.

E2E_ROOT=${E2E_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
E2E_BIN=${E2E_BIN:-$E2E_ROOT/bin}
KYVERNO_VERSION=${KYVERNO_VERSION:-v1.19.1}
E2E_EXCEPTION_NAMESPACE=${E2E_EXCEPTION_NAMESPACE:-*}
E2E_READY_TIMEOUT=${E2E_READY_TIMEOUT:-120}

# log MESSAGE...: progress on stderr with the seconds since the stack started.
log() {
  echo "[e2e +$((SECONDS - ${E2E_T0:-0}))s] $*" >&2
}

# used_ports: the TCP ports that something listens on.
used_ports() {
  ss -Hltn 2>/dev/null | awk '{n=split($4, a, ":"); print a[n]}' | sort -un
}

# free_port VAR: sets VAR to a loopback port that nothing listens on and that this stack has not handed
# out yet.
E2E_PORTS_TAKEN=" "
free_port() {
  local used p i
  used=" $(used_ports | tr '\n' ' ') "
  for i in $(seq 200); do
    p=$((20000 + RANDOM % 30000))
    case "$used$E2E_PORTS_TAKEN" in *" $p "*) continue ;; esac
    E2E_PORTS_TAKEN+="$p "
    printf -v "$1" '%s' "$p"
    return 0
  done
  echo "no free port found" >&2
  return 1
}

# start NAME CMD...: starts CMD in the background with its output in logs/NAME.log and records its PID.
start() {
  local name=$1
  shift
  "$@" >"$E2E_DIR/logs/$name.log" 2>&1 </dev/null &
  local pid=$!
  # Stopped by PID in stack_down; disowned so that the shell does not report their deaths as jobs.
  disown "$pid"
  echo "$pid $name" >>"$E2E_DIR/pids"
  log "started $name (pid $pid)"
}

# alive NAME: fails (and shows the end of its log) when the process recorded as NAME has exited.
alive() {
  local pid
  pid=$(awk -v n="$1" '$2 == n {print $1}' "$E2E_DIR/pids")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    return 0
  fi
  log "$1 exited; the end of its log:"
  tail -n 40 "$E2E_DIR/logs/$1.log" >&2 || true
  return 1
}

# wait_for WHAT NAME CMD...: runs CMD every second until it succeeds, for at most E2E_READY_TIMEOUT seconds,
# failing early when the process NAME has exited.
wait_for() {
  local what=$1 name=$2 deadline=$((SECONDS + E2E_READY_TIMEOUT))
  shift 2
  until "$@" >/dev/null 2>&1; do
    alive "$name" || return 1
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "timed out after ${E2E_READY_TIMEOUT}s waiting for $what; the end of the $name log:"
      tail -n 40 "$E2E_DIR/logs/$name.log" >&2 || true
      return 1
    fi
    sleep 1
  done
  log "$what"
}

kc() {
  "$E2E_BIN/kubectl" --kubeconfig "$KUBECONFIG" "$@"
}

# stack_pki: a CA, the API server's serving pair, the service-account key pair, a static token for an admin
# in system:masters, and one kubeconfig that every client uses.
stack_pki() {
  local d=$E2E_DIR/pki
  mkdir -p "$d"
  (
    cd "$d"
    # ECDSA P-256 keys: generated in milliseconds, and accepted for serving and service-account tokens.
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt \
      -days 2 -subj "/CN=polc-e2e-ca" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout apiserver.key \
      -out apiserver.csr -subj "/CN=kube-apiserver" 2>/dev/null
    printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" \
      "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" >apiserver.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
      -extfile apiserver.ext -out apiserver.crt 2>/dev/null
    openssl ecparam -name prime256v1 -genkey -noout -out sa.key
    openssl ec -in sa.key -pubout -out sa.pub 2>/dev/null
    openssl rand -hex 32 >admin.token
    chmod 600 ./*.key admin.token
  )
  E2E_TOKEN=$(cat "$d/admin.token")
  echo "$E2E_TOKEN,polc-e2e-admin,polc-e2e-admin,system:masters" >"$d/tokens.csv"
  cat >"$E2E_DIR/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: https://127.0.0.1:$E2E_APISERVER_PORT
    certificate-authority: $d/ca.crt
users:
- name: admin
  user:
    token: $E2E_TOKEN
contexts:
- name: e2e
  context:
    cluster: e2e
    user: admin
current-context: e2e
EOF
  chmod 600 "$E2E_DIR/kubeconfig"
}

stack_etcd() {
  local client=$1 peer=$2
  # etcd 3.4 has no --unsafe-no-fsync: keep its data in memory (tmpfs) when possible, behind a link in
  # the state directory, so that its fsyncs cost nothing.
  if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    ln -s "$(mktemp -d /dev/shm/polc-e2e-etcd.XXXXXX)" "$E2E_DIR/etcd"
  fi
  start etcd etcd --name e2e --data-dir "$E2E_DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "e2e=http://127.0.0.1:$peer"
  wait_for "etcd is healthy on 127.0.0.1:$client" etcd curl -fsS "http://127.0.0.1:$client/health"
}

stack_apiserver() {
  local etcd=$1 d=$E2E_DIR/pki
  start kube-apiserver "$E2E_BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$etcd" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$E2E_APISERVER_PORT" \
    --cert-dir "$E2E_DIR/apiserver" \
    --tls-cert-file "$d/apiserver.crt" --tls-private-key-file "$d/apiserver.key" \
    --client-ca-file "$d/ca.crt" --token-auth-file "$d/tokens.csv" \
    --authorization-mode RBAC --anonymous-auth=false \
    --service-account-issuer "https://127.0.0.1:$E2E_APISERVER_PORT" \
    --service-account-key-file "$d/sa.pub" --service-account-signing-key-file "$d/sa.key" \
    --service-cluster-ip-range 10.0.0.0/24 --endpoint-reconciler-type none \
    --allow-privileged=true --profiling=false
  wait_for "kube-apiserver is ready on https://127.0.0.1:$E2E_APISERVER_PORT" kube-apiserver \
    curl -fsS --cacert "$d/ca.crt" -H "Authorization: Bearer $E2E_TOKEN" \
    "https://127.0.0.1:$E2E_APISERVER_PORT/readyz"
}

# The namespace, service-account and garbage-collector controllers: without them namespaces never finish
# deleting and Pods are refused for lack of a default ServiceAccount. No scheduler and no kubelet: Pods stay
# Pending, which is all that admission tests need.
stack_controller_manager() {
  start kube-controller-manager "$E2E_BIN/kube-controller-manager" \
    --kubeconfig "$KUBECONFIG" --secure-port 0 --leader-elect=false \
    --controllers namespace-controller,serviceaccount-controller,garbage-collector-controller,root-ca-certificate-publisher-controller \
    --root-ca-file "$E2E_DIR/pki/ca.crt" --use-service-account-credentials=false
  wait_for "the default ServiceAccount exists" kube-controller-manager kc get serviceaccount default -n default
}

# What Kyverno expects before it starts: its namespace and ConfigMaps (from the install manifest of the
# module source) and its CRDs, created rather than applied (client-side apply exceeds the annotation size
# limit on these CRDs).
stack_kyverno_prereqs() {
  local src
  src=$(cd "$E2E_ROOT/tools" && go mod download -json "github.com/kyverno/kyverno@$KYVERNO_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$src/config/crds" ] || { log "cannot find the Kyverno $KYVERNO_VERSION module source"; return 1; }
  # The Namespace and ConfigMap documents of the install manifest, which precede its CRDs.
  awk 'BEGIN {RS = "\n---\n"} /\nkind: (Namespace|ConfigMap)\n/ {printf "---\n%s\n", $0}' \
    "$src/config/install-latest-testing.yaml" >"$E2E_DIR/kyverno-config.yaml"
  kc create -f "$E2E_DIR/kyverno-config.yaml" >/dev/null
  local dir files=()
  for dir in kyverno policies.kyverno.io policyreport reports; do files+=(-f "$src/config/crds/$dir"); done
  kc create "${files[@]}" >/dev/null
  stack_flux_crds
  kc wait --for condition=Established crd --all --timeout "${E2E_READY_TIMEOUT}s" >/dev/null
  log "Kyverno namespace, ConfigMaps and $(kc get crd -o name | grep -c kyverno) Kyverno CRDs, stub Flux CRDs in place"
}

# stub_crd GROUP VERSION KIND PLURAL SCOPE: a schemaless CRD (any spec is stored), on standard output.
stub_crd() {
  cat <<EOF
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: $4.$1
spec:
  group: $1
  names: {kind: $3, listKind: ${3}List, plural: $4, singular: $(echo "$3" | tr '[:upper:]' '[:lower:]')}
  scope: $5
  versions:
  - name: $2
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
EOF
}

# stack_flux_crds: minimal CRDs for the Flux kinds that policies match (schemaless: any spec is stored), so
# that Kyverno can resolve them and tests can create such objects. No Flux controller runs.
stack_flux_crds() {
  local spec group version kind plural
  for spec in kustomize.toolkit.fluxcd.io/v1/Kustomization/kustomizations \
    helm.toolkit.fluxcd.io/v2/HelmRelease/helmreleases \
    source.toolkit.fluxcd.io/v1/GitRepository/gitrepositories \
    source.toolkit.fluxcd.io/v1/HelmRepository/helmrepositories \
    source.toolkit.fluxcd.io/v1/HelmChart/helmcharts \
    source.toolkit.fluxcd.io/v1/OCIRepository/ocirepositories \
    source.toolkit.fluxcd.io/v1/Bucket/buckets; do
    IFS=/ read -r group version kind plural <<<"$spec"
    stub_crd "$group" "$version" "$kind" "$plural" Namespaced
  done >"$E2E_DIR/flux-crds.yaml"
  kc create -f "$E2E_DIR/flux-crds.yaml" >/dev/null
}

# stack_stub_crds FILE...: schemaless CRDs for the kinds of the objects in these YAML streams (top-level
# apiVersion and kind at column 0, as polc writes them) that the API server does not serve yet, so that
# tests can send such objects through admission. A kind is namespaced when one of its objects has a
# metadata.namespace. Plurals are guessed (lowercase, +s, y -> ies), which is all a stub needs.
stack_stub_crds() {
  local served wanted apiversion kind scope group version plural n=0
  served=$(kc api-resources --no-headers 2>/dev/null | awk '{v = $(NF-2); if (v ~ /\//) sub(/\/[^\/]*$/, "", v); else v = ""; print v "/" $NF}' | sort -u)
  wanted=$(awk '
    function flush() { if (av != "" && k != "") print av, k, (ns ? "Namespaced" : "Cluster"); av = ""; k = ""; ns = 0; meta = 0 }
    FNR == 1 || /^---/ { flush() }
    /^apiVersion: / { av = $2 }
    /^kind: / { k = $2 }
    /^[^ #-]/ { meta = ($0 == "metadata:") }
    meta && /^  namespace: [^ ]/ { ns = 1 }
    END { flush() }' "$@" | tr -d "'\"" |
    awk '$1 ~ /\// { key = $1 " " $2; if (!(key in s) || $3 == "Namespaced") s[key] = $3 } END { for (key in s) print key, s[key] }' | sort)
  [ -n "$wanted" ] || return 0
  : >"$E2E_DIR/stub-crds.yaml"
  while read -r apiversion kind scope; do
    group=${apiversion%/*}
    version=${apiversion##*/}
    if grep -qxF "$group/$kind" <<<"$served"; then continue; fi
    plural=$(echo "$kind" | tr '[:upper:]' '[:lower:]')
    case "$plural" in *y) plural=${plural%y}ies ;; *s) plural=${plural}es ;; *) plural=${plural}s ;; esac
    stub_crd "$group" "$version" "$kind" "$plural" "$scope" >>"$E2E_DIR/stub-crds.yaml"
    n=$((n + 1))
  done <<<"$wanted"
  [ "$n" -gt 0 ] || return 0
  kc apply --server-side -f "$E2E_DIR/stub-crds.yaml" >/dev/null || return 1
  kc wait --for condition=Established -f "$E2E_DIR/stub-crds.yaml" --timeout 60s >/dev/null || return 1
  log "created $n stub CRDs for kinds the tests send: $(awk '/^  name: / {print $2}' "$E2E_DIR/stub-crds.yaml" | tr '\n' ' ')"
}

# The Kyverno admission controller, out of the cluster: a non-empty --serverIP (with the port) makes it
# register URL webhooks that point at its loopback listener.
stack_kyverno() {
  local metrics=$1 reports_metrics=$2 profile=()
  [ -z "${E2E_KYVERNO_PROFILE_PORT:-}" ] ||
    profile=(--profile=true --profileAddress 127.0.0.1 --profilePort "$E2E_KYVERNO_PROFILE_PORT")
  start kyverno env KYVERNO_NAMESPACE=kyverno KYVERNO_POD_NAME=kyverno-admission-e2e \
    KYVERNO_SERVICEACCOUNT_NAME=kyverno-admission-controller KYVERNO_DEPLOYMENT=kyverno-admission-controller \
    INIT_CONFIG=kyverno METRICS_CONFIG=kyverno-metrics \
    "$E2E_BIN/kyverno-controller" --kubeconfig "$KUBECONFIG" \
    --serverIP "127.0.0.1:$E2E_WEBHOOK_PORT" \
    --webhookServerHost 127.0.0.1 --webhookServerPort "$E2E_WEBHOOK_PORT" \
    --caSecretName kyverno-svc.kyverno.svc.kyverno-tls-ca \
    --tlsSecretName kyverno-svc.kyverno.svc.kyverno-tls-pair \
    --metricsHost 127.0.0.1 --metricsPort "$metrics" --disableMetrics=true \
    --controllerRuntimeMetricsAddress 0 \
    --enablePolicyException=true --exceptionNamespace "$E2E_EXCEPTION_NAMESPACE" \
    --admissionReports=true --webhookTimeout 15 "${profile[@]}"
  # The reports controller turns the admission controller's ephemeral reports into PolicyReports (Audit).
  start kyverno-reports env KYVERNO_NAMESPACE=kyverno KYVERNO_POD_NAME=kyverno-reports-e2e \
    KYVERNO_SERVICEACCOUNT_NAME=kyverno-reports-controller KYVERNO_DEPLOYMENT=kyverno-reports-controller \
    INIT_CONFIG=kyverno METRICS_CONFIG=kyverno-metrics \
    "$E2E_BIN/kyverno-reports-controller" --kubeconfig "$KUBECONFIG" \
    --metricsHost 127.0.0.1 --metricsPort "$reports_metrics" --disableMetrics=true \
    --enablePolicyException=true --exceptionNamespace "$E2E_EXCEPTION_NAMESPACE" \
    --admissionReports=true --backgroundScan=false
  wait_for "the Kyverno webhook configuration exists" kyverno \
    kc get validatingwebhookconfiguration kyverno-resource-validating-webhook-cfg
  wait_for "Kyverno serves its webhooks on https://127.0.0.1:$E2E_WEBHOOK_PORT" kyverno \
    curl -fsSk "https://127.0.0.1:$E2E_WEBHOOK_PORT/health/readiness"
  alive kyverno-reports
}

# stack_up: starts everything and exports KUBECONFIG. Fails when a component does not become ready.
stack_up() {
  E2E_T0=$SECONDS
  if [ -z "${E2E_DIR:-}" ]; then
    E2E_DIR=$(mktemp -d "${TMPDIR:-/tmp}/polc-e2e.XXXXXX")
  fi
  export E2E_DIR
  mkdir -p "$E2E_DIR/logs"
  : >"$E2E_DIR/pids"
  local etcd_client etcd_peer metrics reports_metrics
  local v
  for v in etcd_client etcd_peer E2E_APISERVER_PORT E2E_WEBHOOK_PORT metrics reports_metrics; do
    free_port "$v" || return 1
  done
  export E2E_APISERVER_PORT E2E_WEBHOOK_PORT
  export KUBECONFIG=$E2E_DIR/kubeconfig
  log "state in $E2E_DIR; etcd 127.0.0.1:$etcd_client, kube-apiserver 127.0.0.1:$E2E_APISERVER_PORT, Kyverno webhooks 127.0.0.1:$E2E_WEBHOOK_PORT"
  stack_pki || return 1
  stack_etcd "$etcd_client" "$etcd_peer" || return 1
  stack_apiserver "$etcd_client" || return 1
  stack_controller_manager || return 1
  stack_kyverno_prereqs || return 1
  stack_kyverno "$metrics" "$reports_metrics" || return 1
  log "control plane ready in $((SECONDS - E2E_T0))s"
}

# stack_check_loopback: fails when a process of the stack listens on anything but 127.0.0.1.
stack_check_loopback() {
  local pids bad
  pids=$(awk '{print $1}' "$E2E_DIR/pids" | paste -sd'|')
  [ -n "$pids" ] || return 0
  bad=$(ss -Hltnp 2>/dev/null | grep -E "pid=($pids)," | awk '$4 !~ /^127\.0\.0\.1:/' || true)
  if [ -n "$bad" ]; then
    log "listening beyond the loopback address:"
    echo "$bad" >&2
    return 1
  fi
  log "every listener of the stack is on 127.0.0.1: $(ss -Hltnp 2>/dev/null | grep -cE "pid=($pids),") sockets"
}

# stack_remove: removes the state directory (and etcd's data when it lives in memory).
stack_remove() {
  [ -n "${E2E_DIR:-}" ] && [ -d "$E2E_DIR" ] || return 0
  if [ -L "$E2E_DIR/etcd" ]; then
    rm -rf "$(readlink "$E2E_DIR/etcd")"
  fi
  rm -rf "$E2E_DIR"
}

# stack_down: stops the recorded processes, newest first (Kyverno before the API server, the API server
# before etcd), with SIGTERM and then SIGKILL after 10 seconds; fails when one of them is still there.
stack_down() {
  [ -n "${E2E_DIR:-}" ] && [ -f "$E2E_DIR/pids" ] || return 0
  local pid name left=() deadline
  while read -r pid name; do
    kill -0 "$pid" 2>/dev/null || continue
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 10))
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name (pid $pid) ignored SIGTERM: killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done < <(tac "$E2E_DIR/pids")
  # A killed process is gone once the kernel has reaped it: poll for that, for up to 5 seconds.
  deadline=$((SECONDS + 5))
  while :; do
    left=()
    while read -r pid name; do
      if kill -0 "$pid" 2>/dev/null; then left+=("$name:$pid"); fi
    done <"$E2E_DIR/pids"
    [ ${#left[@]} -gt 0 ] && [ "$SECONDS" -lt "$deadline" ] || break
    sleep 0.2
  done
  if [ ${#left[@]} -gt 0 ]; then
    log "processes left behind: ${left[*]}"
    return 1
  fi
  # Every process of the stack names the state directory on its command line.
  if pgrep -f -- "$E2E_DIR/" >/dev/null 2>&1; then
    log "processes that name $E2E_DIR are still running:"
    pgrep -af -- "$E2E_DIR/" >&2
    return 1
  fi
  log "stopped $(wc -l <"$E2E_DIR/pids") processes; none is left"
}
