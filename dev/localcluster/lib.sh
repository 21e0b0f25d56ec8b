# shellcheck shell=bash disable=SC2034  # variables used by the scripts that source this
# Shared settings and helpers for the local cluster scripts. Sourced, never run.

LC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# The Kubernetes pin lives in one place: the build module's go.mod.
K8S_VERSION="$(awk '$1 == "k8s.io/kubernetes" {print $2; exit}' "$LC_DIR/kubebuild/go.mod")"
K8S_VERSION="${K8S_VERSION:-$(grep -oE 'k8s.io/kubernetes v[0-9.]+' "$LC_DIR/kubebuild/go.mod" | head -1 | cut -d' ' -f2)}"

# Built artefacts are cached outside the repo so a fresh clone reuses them.
CACHE_DIR="${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/composer-kpo"
K8S_BIN="$CACHE_DIR/k8s-$K8S_VERSION/bin"
IMAGE_CACHE="$CACHE_DIR/images"
GO_CACHE_ROOT="$CACHE_DIR/go"
# crictl (CRI client) for cluster-down's sandbox removal and for debugging. Built from the
# Go module proxy; v1.33.x is not served there, v1.34 speaks the same CRI v1 API.
CRICTL_VERSION=v1.34.0
CRICTL="$CACHE_DIR/crictl-$CRICTL_VERSION/crictl"

# Everything the running cluster writes lives under one directory, so cluster-down can
# remove it completely.
RUN_DIR="${COMPOSER_KPO_CLUSTER_DIR:-/var/tmp/composer-kpo-cluster}"
LOG_DIR="$RUN_DIR/logs"
PID_DIR="$RUN_DIR/pids"
PKI_DIR="$RUN_DIR/pki"
KUBELET_DIR="$RUN_DIR/kubelet"
CONTAINERD_ROOT="$RUN_DIR/containerd/root"
CONTAINERD_STATE="$RUN_DIR/containerd/state"
CONTAINERD_SOCK="$RUN_DIR/containerd/containerd.sock"
CNI_CONF_DIR="$RUN_DIR/cni/net.d"
CNI_BIN_DIR=/usr/lib/cni
ADMIN_KUBECONFIG="$RUN_DIR/admin.kubeconfig"

# Cluster-internal addressing (private ranges, used only inside this machine).
POD_CIDR=10.88.0.0/16
SERVICE_CIDR=10.96.0.0/16
SERVICE_IP=10.96.0.1          # first address of SERVICE_CIDR: the `kubernetes` service
CLUSTER_DNS=10.96.0.10        # written into pods' resolv.conf; no DNS server runs
CNI_BRIDGE=kpo0               # our own bridge name, so cleanup never touches someone else's cni0
NODE_IP=10.88.0.1             # the bridge's (gateway) address: kubelet refuses a loopback node IP
ETCD_CLIENT_PORT=23790        # non-default ports: no clash with a stray etcd
ETCD_PEER_PORT=23800
APISERVER_PORT=6443
# The Composer 3 simulation's cluster side lives with its Airflow side (tests/composer3/): here its
# admission webhook + endpoint controller, one host
# process on 127.0.0.1; only pods labelled node.gke.io/use-workload-identity-service=true reach it.
PEERVM_WEBHOOK_PORT=19443
PEERVM_DIR="$(cd "$LC_DIR/../../tests/composer3/peervm" && pwd)"   # CONTRACT.md, webhook.py, agent/
PEERVM_WEBHOOK_CONFIG=composer-kpo-peervm   # the MutatingWebhookConfiguration's name
NAMESPACE=composer-user-workloads
NODE_NAME="$(hostname | tr '[:upper:]' '[:lower:]')"

# Start order; cluster-down stops in the documented reverse-ish order.
# `peervm` is the Composer 3 simulation's webhook + controller (python3 $PEERVM_DIR/webhook.py).
COMPONENTS=(etcd kube-apiserver peervm kube-controller-manager kube-scheduler containerd kubelet)

# Host sysctls the kubelet (protectKernelDefaults=false) or the CNI bridge plugin rewrite;
# cluster-up records them, cluster-down puts them back.
HOST_SYSCTLS=(vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops
              kernel/keys/root_maxkeys kernel/keys/root_maxbytes net/ipv4/ip_forward)

LOG_TAG=cluster
# shellcheck source=../lib/processes.sh
source "$LC_DIR/../lib/processes.sh"


kubectl_admin() { "$K8S_BIN/kubectl" --kubeconfig "$ADMIN_KUBECONFIG" "$@"; }
