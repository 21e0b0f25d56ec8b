#!/usr/bin/env bash
# Stops the local cluster and removes everything it left on the machine: processes (by the
# PIDs cluster-up recorded), pod sandboxes and their shims, mounts under the run dir, the
# CNI bridge and veths, our iptables rules, the kubelet's cgroups. Idempotent.
#   --quiet   say nothing when there is nothing to do (used by cluster-up)
#   --purge   also delete the run dir's caches (certs, logs, containerd image store)
# Kept by default under $RUN_DIR: pki/ + kubeconfigs (a copied kubeconfig stays valid),
# logs/ (post-mortem), containerd/root (imported images: warm starts skip the import).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

QUIET=0 PURGE=0
for a in "$@"; do
  case "$a" in
    --quiet) QUIET=1 ;;
    --purge) PURGE=1 ;;
    *) die "usage: $0 [--quiet] [--purge]" ;;
  esac
done
# stop NAME: SIGTERM the recorded pid, wait up to 15 s, then SIGKILL.
stop() {
  local name="$1" pid i
  pid="$(pid_of "$name")" || { rm -f "$PID_DIR/$name.pid"; return 0; }
  # Guard against a recycled pid: the process must still be the component we started.
  if ! tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$name"; then
    rm -f "$PID_DIR/$name.pid"; return 0
  fi
  say "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do alive "$pid" || break; sleep 0.1; done
  if alive "$pid"; then say "$name did not stop, killing"; kill -KILL "$pid" 2>/dev/null || true; sleep 0.2; fi
  rm -f "$PID_DIR/$name.pid"
}

# Our shims: containerd-shim-runc-v2 processes whose command line names our socket.
our_shims() {
  local p
  for p in /proc/[0-9]*; do
    tr '\0' ' ' < "$p/cmdline" 2>/dev/null | grep -q -- "-address $CONTAINERD_SOCK" && echo "${p#/proc/}"
  done
  return 0
}

# Remove every pod sandbox (CNI teardown, netns, shm mounts, containers, shims) through
# the CRI while containerd still runs. The kubelet is already stopped so nothing restarts.
remove_pods() {
  pid_of containerd >/dev/null || return 0
  if [[ -x $CRICTL ]]; then
    local cri=("$CRICTL" --runtime-endpoint "unix://$CONTAINERD_SOCK" --timeout 30s)
    local pods
    pods="$("${cri[@]}" pods -q 2>/dev/null || true)"
    if [[ -n $pods ]]; then
      say "removing $(wc -l <<<"$pods") pod sandbox(es)"
      # shellcheck disable=SC2086
      "${cri[@]}" stopp $pods >/dev/null 2>&1 || true
      # shellcheck disable=SC2086
      "${cri[@]}" rmp -f $pods >/dev/null 2>&1 || true
    fi
  fi
  # Fallback (no crictl) and belt and braces: kill and delete any task left in k8s.io.
  local c=(ctr --address "$CONTAINERD_SOCK" -n k8s.io) id
  for id in $("${c[@]}" tasks ls -q 2>/dev/null); do
    "${c[@]}" tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true
  done
  sleep 0.3
  for id in $("${c[@]}" tasks ls -q 2>/dev/null); do "${c[@]}" tasks delete -f "$id" >/dev/null 2>&1 || true; done
  for id in $("${c[@]}" containers ls -q 2>/dev/null); do "${c[@]}" containers delete "$id" >/dev/null 2>&1 || true; done
}

# Shims that outlived containerd (killed containerd, crash): kill their containers, then them.
kill_stray_shims() {
  local shim child
  for shim in $(our_shims); do
    say "killing stray shim $shim and its containers"
    for child in $(ps -o pid= --ppid "$shim" 2>/dev/null); do kill -KILL "$child" 2>/dev/null || true; done
    kill -KILL "$shim" 2>/dev/null || true
  done
}

# Unmount everything below the run dir (deepest first); lazily if busy.
unmount_all() {
  local m
  for m in $(awk -v d="$RUN_DIR/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
  # Network namespaces our containerd created and failed to remove (recorded by cluster-up).
  if [[ -f $RUN_DIR/netns.before ]]; then
    for m in /run/netns/cni-*; do
      [[ -e $m ]] || continue
      grep -qxF "$m" "$RUN_DIR/netns.before" && continue
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
      rm -f "$m"
    done
  fi
}

cleanup_network() {
  local veth
  if ip link show "$CNI_BRIDGE" >/dev/null 2>&1; then
    for veth in $(ip -o link show master "$CNI_BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
      ip link del "$veth" 2>/dev/null || true
    done
    say "deleting bridge $CNI_BRIDGE"
    ip link del "$CNI_BRIDGE" 2>/dev/null || true
  fi
  ip route del blackhole "$SERVICE_CIDR" 2>/dev/null || true
  while iptables -w -D FORWARD -j KPO-ISOLATION 2>/dev/null; do :; done
  iptables -w -F KPO-ISOLATION 2>/dev/null && iptables -w -X KPO-ISOLATION 2>/dev/null || true
  cleanup_cni_iptables
}

restore_sysctls() {
  [[ -f $RUN_DIR/sysctl.before ]] || return 0
  local key value
  while read -r key value; do
    echo "$value" > "/proc/sys/$key" 2>/dev/null || say "could not restore $key=$value"
  done < "$RUN_DIR/sysctl.before"
  rm -f "$RUN_DIR/sysctl.before"
}

# The CNI plugins' own chains (portmap's CNI-HOSTPORT-*/CNI-DN-*, bridge's CNI-*): removed
# only when they did not exist before our cluster started (cluster-up records that).
cleanup_cni_iptables() {
  [[ -f $RUN_DIR/iptables.before ]] || return 0
  local table chain
  for table in nat filter; do
    for chain in $(iptables -w -t "$table" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^CNI-/ {print $2}'); do
      grep -qxF "$table $chain" "$RUN_DIR/iptables.before" && continue
      # Drop every jump to the chain, then the chain.
      iptables -w -t "$table" -S | awk -v c="$chain" '$1 == "-A" && $0 ~ ("-j " c "( |$)") {sub(/^-A/, "-D"); print}' |
        while read -r rule; do eval "iptables -w -t $table $rule" 2>/dev/null || true; done
      iptables -w -t "$table" -F "$chain" 2>/dev/null || true
      iptables -w -t "$table" -X "$chain" 2>/dev/null || true
    done
  done
  rm -f "$RUN_DIR/iptables.before"
}

# The kubelet's pod cgroups (cgroupfs driver, cgroups v1): remove the kubepods trees it made.
cleanup_cgroups() {
  [[ -f $RUN_DIR/cgroups.before ]] || return 0
  local d
  for d in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/unified/kubepods; do
    [[ -d $d ]] || continue
    grep -qxF "$d" "$RUN_DIR/cgroups.before" && continue
    find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
  rm -f "$RUN_DIR/cgroups.before"
}

# containerd puts shim sockets and runc state under /run/containerd whatever its state dir;
# remove the (now empty) tree if it was not there before our cluster.
cleanup_run_containerd() {
  [[ -f $RUN_DIR/run-containerd.absent ]] || return 0
  [[ -d /run/containerd ]] && find /run/containerd -depth -type d -empty -delete 2>/dev/null
  rm -f "$RUN_DIR/run-containerd.absent"
  if [[ -f $RUN_DIR/run-netns.absent ]]; then
    rmdir /run/netns 2>/dev/null || true
    rm -f "$RUN_DIR/run-netns.absent"
  fi
}

main() {
  [[ -d $RUN_DIR ]] || { say "nothing to stop ($RUN_DIR does not exist)"; return 0; }
  stop kubelet
  remove_pods
  stop containerd
  kill_stray_shims
  stop peervm
  stop kube-scheduler
  stop kube-controller-manager
  stop kube-apiserver
  stop etcd
  unmount_all
  cleanup_network
  cleanup_cgroups
  cleanup_run_containerd
  restore_sysctls
  # Runtime state goes; the next cluster-up starts from an empty etcd and kubelet.
  rm -rf "$RUN_DIR/etcd" "$KUBELET_DIR" "$CONTAINERD_STATE" "$RUN_DIR/cni/ipam" "$RUN_DIR/pod-logs" \
         "$PID_DIR" "$RUN_DIR/netns.before"
  if ((PURGE)); then
    rm -rf "$RUN_DIR"
    say "purged $RUN_DIR"
  fi
  say "cluster is down"
}

main
