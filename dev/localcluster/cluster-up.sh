#!/usr/bin/env bash
# Starts a single-node Kubernetes cluster on this machine, without Docker:
#   etcd -> kube-apiserver -> peervm (Composer 3 simulation's webhook) -> kube-controller-manager,
#   kube-scheduler -> containerd -> kubelet
# Idempotent: when the cluster is already healthy it only prints the KUBECONFIG line.
# `--restart-peervm`: restart only the peervm webhook process of a running cluster.
# On a failed start it prints the failing component's log tail, stops what it started and
# exits non-zero. The LAST line of output is always `export KUBECONFIG=...` on success.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

START_TIMEOUT="${COMPOSER_KPO_START_TIMEOUT:-120}"  # seconds, per wait

# ---------------------------------------------------------------------------------------
# helpers

# fail NAME MESSAGE: show why, stop everything, exit non-zero.
fail() {
  local name="$1"; shift
  printf '[cluster] ERROR: %s\n' "$*" >&2
  show_log_tail "$name" 30
  log "stopping what was started"
  "$LC_DIR/cluster-down.sh" >&2 || true
  exit 1
}

https_ok() {  # https_ok URL: GET with the admin client certificate
  curl -sf --max-time 3 --cacert "$PKI_DIR/ca.crt" --cert "$PKI_DIR/admin.crt" --key "$PKI_DIR/admin.key" "$1"
}

cluster_healthy() {
  local c
  for c in "${COMPONENTS[@]}"; do pid_of "$c" >/dev/null || return 1; done
  https_ok "https://127.0.0.1:$APISERVER_PORT/readyz" >/dev/null || return 1
  kubectl_admin get node "$NODE_NAME" \
    -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null | grep -qx True
}

# ---------------------------------------------------------------------------------------
# preparation

prepare_dirs() {
  mkdir -p "$LOG_DIR" "$PID_DIR" "$KUBELET_DIR" "$CONTAINERD_ROOT" "$CONTAINERD_STATE" \
           "$CNI_CONF_DIR" "$RUN_DIR/cni/ipam" "$RUN_DIR/pod-logs" "$RUN_DIR/etcd"
  chmod 700 "$RUN_DIR/etcd"
}

# What existed before we started, so cluster-down removes only what this cluster created.
record_host_state() {
  local t
  ls -d /run/netns/cni-* 2>/dev/null > "$RUN_DIR/netns.before" || true
  for t in nat filter; do
    iptables -w -t "$t" -S 2>/dev/null | awk -v t="$t" '$1 == "-N" && $2 ~ /^CNI-/ {print t " " $2}'
  done > "$RUN_DIR/iptables.before"
  ls -d /sys/fs/cgroup/*/kubepods 2>/dev/null > "$RUN_DIR/cgroups.before" || true
  [[ -e /run/containerd ]] || touch "$RUN_DIR/run-containerd.absent"
  [[ -e /run/netns ]] || touch "$RUN_DIR/run-netns.absent"
  # The kubelet sets vm.overcommit_memory, kernel.panic*, ...; the bridge plugin ip_forward.
  if [[ ! -f $RUN_DIR/sysctl.before ]]; then
    for t in "${HOST_SYSCTLS[@]}"; do
      if [[ -r /proc/sys/$t ]]; then echo "$t $(cat "/proc/sys/$t")"; fi
    done > "$RUN_DIR/sysctl.before"
  fi
}

# The node IP lives on our CNI bridge, created before the kubelet starts (the kubelet checks
# that its node IP is on a local interface and refuses loopback). The bridge plugin reuses
# it because the address equals the IPAM gateway.
setup_network() {
  if ! ip link show "$CNI_BRIDGE" >/dev/null 2>&1; then
    ip link add "$CNI_BRIDGE" type bridge
  fi
  ip addr replace "$NODE_IP/16" dev "$CNI_BRIDGE"
  ip link set "$CNI_BRIDGE" up
  # No Service proxy runs: make service-CIDR traffic (e.g. DNS to the cluster DNS address)
  # die on this machine instead of following the default route.
  ip route replace blackhole "$SERVICE_CIDR"
  # Pods reach nothing outside the bridge: drop anything they try to forward elsewhere.
  iptables -w -N KPO-ISOLATION 2>/dev/null || iptables -w -F KPO-ISOLATION
  iptables -w -A KPO-ISOLATION -i "$CNI_BRIDGE" ! -o "$CNI_BRIDGE" -j DROP
  iptables -w -C FORWARD -j KPO-ISOLATION 2>/dev/null || iptables -w -I FORWARD -j KPO-ISOLATION

  cat > "$CNI_CONF_DIR/10-kpo.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "kpo",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$CNI_BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$NODE_IP"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "$RUN_DIR/cni/ipam"
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
}

# overlayfs is the normal snapshotter; some sandboxes refuse overlay mounts, then native.
pick_snapshotter() {
  local t="$RUN_DIR/overlay-check" ok=native
  mkdir -p "$t"/{lower,upper,work,merged}
  if mount -t overlay overlay -o "lowerdir=$t/lower,upperdir=$t/upper,workdir=$t/work" "$t/merged" 2>/dev/null; then
    umount "$t/merged"; ok=overlayfs
  fi
  rm -rf "$t"
  echo "$ok"
}

write_containerd_config() {
  cat > "$RUN_DIR/containerd/config.toml" <<EOF
version = 2
root = "$CONTAINERD_ROOT"
state = "$CONTAINERD_STATE"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]

[grpc]
  address = "$CONTAINERD_SOCK"

[plugins."io.containerd.internal.v1.opt"]
  path = "$RUN_DIR/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
  # This machine lacks CAP_SYS_RESOURCE: runc cannot set the negative oom_score_adj the
  # CRI asks for ("can't get final child's PID from pipe: EOF") unless it is clamped.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "$SNAPSHOTTER"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN_DIR"
    conf_dir = "$CNI_CONF_DIR"
    max_conf_num = 1
EOF
}

write_kubelet_config() {
  cat > "$RUN_DIR/kubelet-config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI_DIR/ca.crt}
authorization:
  mode: Webhook
tlsCertFile: $PKI_DIR/kubelet-serving.crt
tlsPrivateKeyFile: $PKI_DIR/kubelet-serving.key
cgroupDriver: cgroupfs
failSwapOn: false
# No CAP_SYS_RESOURCE here: the kubelet may not lower its own oom_score_adj.
oomScoreAdj: 0
protectKernelDefaults: false
makeIPTablesUtilChains: false
clusterDomain: cluster.local
clusterDNS: [$CLUSTER_DNS]
podCIDR: $POD_CIDR
podLogsDir: $RUN_DIR/pod-logs
maxPods: 110
# A shared dev disk: don't evict or garbage-collect images because of others' files.
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", nodefs.inodesFree: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
# Small log files, checked often: a pod that prints fast has its log rotated mid-stream, as on a
# busy GKE node (GKE: 10Mi), so the fault matrix can check that no log line is lost or doubled.
containerLogMaxSize: 256Ki
containerLogMaxFiles: 3
containerLogMonitorInterval: 3s
syncFrequency: 10s
nodeStatusUpdateFrequency: 5s
fileCheckFrequency: 20s
rotateCertificates: false
serverTLSBootstrap: false
EOF
}

# ---------------------------------------------------------------------------------------
# components

start_etcd() {
  start_bg etcd etcd --name kpo --data-dir "$RUN_DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "kpo=http://127.0.0.1:$ETCD_PEER_PORT" \
    --snapshot-count 10000 --quota-backend-bytes 2147483648
  wait_for etcd "etcd health" curl -sf --max-time 2 "http://127.0.0.1:$ETCD_CLIENT_PORT/health"
}

start_apiserver() {
  start_bg kube-apiserver "$K8S_BIN/kube-apiserver" \
    --bind-address=127.0.0.1 --secure-port="$APISERVER_PORT" --advertise-address="$NODE_IP" \
    --etcd-servers="http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --client-ca-file="$PKI_DIR/ca.crt" \
    --tls-cert-file="$PKI_DIR/apiserver.crt" --tls-private-key-file="$PKI_DIR/apiserver.key" \
    --kubelet-client-certificate="$PKI_DIR/apiserver-kubelet-client.crt" \
    --kubelet-client-key="$PKI_DIR/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority="$PKI_DIR/ca.crt" \
    --kubelet-preferred-address-types=InternalIP \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$PKI_DIR/sa.pub" \
    --service-account-signing-key-file="$PKI_DIR/sa.key" \
    --requestheader-client-ca-file="$PKI_DIR/ca.crt" \
    --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User \
    --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="$PKI_DIR/front-proxy-client.crt" \
    --proxy-client-key-file="$PKI_DIR/front-proxy-client.key" \
    --authorization-mode=Node,RBAC \
    --enable-admission-plugins=NodeRestriction \
    --allow-privileged=true \
    --profiling=false \
    --v=1
  wait_for kube-apiserver "the API server to be ready" https_ok "https://127.0.0.1:$APISERVER_PORT/readyz"
}

# The Composer 3 simulation (tests/composer3/CONTRACT.md): the admission webhook that turns pods carrying
# the node.gke.io/gce-vm annotation into peer-VM placeholder pods, and the controller that sets
# their node.gke.io/peer-vm-endpoint annotation. Registered for labelled pods only, so every
# other pod is never sent to it (and is unaffected when it is down).
start_peervm() {
  launch_peervm
  wait_for peervm "the peer-VM webhook" peervm_ready
  register_peervm_webhook || fail peervm "registering MutatingWebhookConfiguration $PEERVM_WEBHOOK_CONFIG failed"
}

launch_peervm() {
  start_bg peervm /usr/bin/python3 -u "$PEERVM_DIR/webhook.py" \
    --port "$PEERVM_WEBHOOK_PORT" --pki-dir "$PKI_DIR" --api-server "https://127.0.0.1:$APISERVER_PORT"
}

peervm_ready() {
  curl -sf --max-time 2 --cacert "$PKI_DIR/ca.crt" "https://127.0.0.1:$PEERVM_WEBHOOK_PORT/healthz"
}

# `cluster-up.sh --restart-peervm`: restart only the webhook process (after editing webhook.py)
# on a running cluster. Unlike a failed cluster-up, a failure here stops nothing else.
restart_peervm() {
  local pid i
  [[ -s $PKI_DIR/peervm-webhook.crt ]] || "$LC_DIR/certs.sh"
  if pid="$(pid_of peervm)"; then
    kill -TERM "$pid"
    for ((i = 0; i < 50; i++)); do alive "$pid" || break; sleep 0.1; done
  fi
  launch_peervm
  for ((i = 0; i < 40; i++)); do
    if peervm_ready >/dev/null 2>&1; then
      register_peervm_webhook && { log "peervm restarted (pid $(pid_of peervm))"; return 0; }
      break
    fi
    pid_of peervm >/dev/null || break
    sleep 0.5
  done
  tail -n 30 "$LOG_DIR/peervm.log" >&2
  die "peervm did not start"
}

register_peervm_webhook() {
  kubectl_admin apply -f - >/dev/null <<EOF
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: $PEERVM_WEBHOOK_CONFIG
webhooks:
- name: peervm.composer-kpo.local
  admissionReviewVersions: [v1]
  clientConfig:
    url: https://127.0.0.1:$PEERVM_WEBHOOK_PORT/mutate
    caBundle: $(base64 -w0 < "$PKI_DIR/ca.crt")
  rules:
  - apiGroups: [""]
    apiVersions: [v1]
    operations: [CREATE]
    resources: [pods]
    scope: Namespaced
  objectSelector:
    matchLabels:
      node.gke.io/use-workload-identity-service: "true"
  failurePolicy: Fail
  sideEffects: None
  timeoutSeconds: 5
  reinvocationPolicy: Never
EOF
}

start_controller_manager() {
  local kc="$RUN_DIR/controller-manager.kubeconfig"
  start_bg kube-controller-manager "$K8S_BIN/kube-controller-manager" \
    --kubeconfig="$kc" --authentication-kubeconfig="$kc" --authorization-kubeconfig="$kc" \
    --bind-address=127.0.0.1 --secure-port=10257 \
    --leader-elect=false \
    --service-account-private-key-file="$PKI_DIR/sa.key" --root-ca-file="$PKI_DIR/ca.crt" \
    --cluster-signing-cert-file="$PKI_DIR/ca.crt" --cluster-signing-key-file="$PKI_DIR/ca.key" \
    --use-service-account-credentials=true \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --profiling=false --v=1
}

start_scheduler() {
  local kc="$RUN_DIR/scheduler.kubeconfig"
  start_bg kube-scheduler "$K8S_BIN/kube-scheduler" \
    --kubeconfig="$kc" --authentication-kubeconfig="$kc" --authorization-kubeconfig="$kc" \
    --bind-address=127.0.0.1 --secure-port=10259 \
    --leader-elect=false --profiling=false --v=1
}

start_containerd() {
  SNAPSHOTTER="$(pick_snapshotter)"
  # For `crictl -c $RUN_DIR/crictl.yaml ...` when debugging.
  printf 'runtime-endpoint: unix://%s\nimage-endpoint: unix://%s\ntimeout: 30\n' \
    "$CONTAINERD_SOCK" "$CONTAINERD_SOCK" > "$RUN_DIR/crictl.yaml"
  write_containerd_config
  start_bg containerd containerd --config "$RUN_DIR/containerd/config.toml"
  wait_for containerd "the containerd socket" ctr --address "$CONTAINERD_SOCK" version
  SNAPSHOTTER="$SNAPSHOTTER" "$LC_DIR/images/build-images.sh" import \
    || fail containerd "importing images failed"
}

start_kubelet() {
  write_kubelet_config
  start_bg kubelet "$K8S_BIN/kubelet" \
    --config="$RUN_DIR/kubelet-config.yaml" \
    --kubeconfig="$RUN_DIR/kubelet.kubeconfig" \
    --root-dir="$KUBELET_DIR" \
    --hostname-override="$NODE_NAME" --node-ip="$NODE_IP" \
    --node-labels="cloud.google.com/gke-nodepool=default-pool,topology.kubernetes.io/region=local,topology.kubernetes.io/zone=local-a,node.kubernetes.io/instance-type=e2-standard-2" \
    --v=1
  wait_for kubelet "the kubelet health endpoint" curl -sf --max-time 2 http://127.0.0.1:10248/healthz
  wait_for kubelet "node $NODE_NAME to be Ready" node_ready
}

node_ready() {
  kubectl_admin get node "$NODE_NAME" \
    -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' | grep -qx True
}

# Make the node look like a schedulable GKE node and the namespace ready for KPO pods.
finish_setup() {
  local t
  for t in node-role.kubernetes.io/control-plane node-role.kubernetes.io/master; do
    kubectl_admin taint node "$NODE_NAME" "$t-" >/dev/null 2>&1 || true
  done
  kubectl_admin get namespace "$NAMESPACE" >/dev/null 2>&1 \
    || kubectl_admin create namespace "$NAMESPACE" >/dev/null
  # Pods need the default service account (admission) and kube-root-ca.crt (token volume).
  wait_for kube-controller-manager "service account $NAMESPACE/default" \
    kubectl_admin -n "$NAMESPACE" get serviceaccount default
  wait_for kube-controller-manager "configmap $NAMESPACE/kube-root-ca.crt" \
    kubectl_admin -n "$NAMESPACE" get configmap kube-root-ca.crt
}

main() {
  [[ $(id -u) -eq 0 ]] || die "cluster-up needs root (containerd, mounts, networking)"
  local t0=$SECONDS
  if [[ ${1:-} == --restart-peervm ]]; then restart_peervm; return; fi
  if [[ -d $RUN_DIR ]] && cluster_healthy; then
    log "cluster already running and healthy"
    echo "export KUBECONFIG=$ADMIN_KUBECONFIG"
    return
  fi
  "$LC_DIR/install-deps.sh"
  "$LC_DIR/build-k8s.sh"
  "$LC_DIR/images/build-images.sh" build
  # A half-running cluster from an earlier attempt: clean slate first.
  "$LC_DIR/cluster-down.sh" --quiet

  local t1=$SECONDS
  # From here on, any unexpected failure or an interrupt also stops what was started.
  set -E
  trap 'fail cluster-up "unexpected failure (line $LINENO)"' ERR
  trap 'fail cluster-up "interrupted"' INT TERM
  prepare_dirs
  "$LC_DIR/certs.sh"
  record_host_state
  setup_network
  log "starting etcd";                    start_etcd
  log "starting kube-apiserver";          start_apiserver
  log "starting peervm webhook";          start_peervm
  log "starting controller-manager, scheduler"
  start_controller_manager
  start_scheduler
  log "starting containerd";              start_containerd
  log "starting kubelet";                 start_kubelet
  wait_for kube-controller-manager "the controller manager health endpoint" \
    curl -skf --max-time 2 https://127.0.0.1:10257/healthz
  wait_for kube-scheduler "the scheduler health endpoint" \
    curl -skf --max-time 2 https://127.0.0.1:10259/healthz
  finish_setup
  trap - ERR INT TERM
  log "cluster ready in $((SECONDS - t1)) s (total $((SECONDS - t0)) s); logs in $LOG_DIR"
  echo "export KUBECONFIG=$ADMIN_KUBECONFIG"
}

# Sourcing (for debugging single steps) defines the functions without starting anything.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then main "$@"; fi
