#!/usr/bin/env bash
# Installs the Debian packages the local cluster needs. Idempotent and quiet when everything
# is present; runs `apt-get update` only when something is missing (a fresh CI machine).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PACKAGES=(
  containerd                   # CRI runtime the kubelet talks to
  runc                         # OCI runtime used by containerd
  containernetworking-plugins  # bridge, host-local, loopback, portmap in /usr/lib/cni
  iptables                     # CNI bridge masquerade / portmap rules
  etcd-server                  # the API server's store
  busybox-static               # busybox image and a static shell
  debootstrap                  # debian / perl images
  openssl                      # cluster certificates
  iproute2                     # `ip` for cleanup of the CNI bridge and veths
  util-linux mount             # mount/umount/nsenter used by the kubelet and cleanup
  procps                       # ps for diagnostics
  curl                         # health checks of etcd and the Kubernetes components
  conntrack                    # kubelet's host port cleanup calls it when present
  ca-certificates              # debootstrap over https mirrors
  gcc libc6-dev                # the static pause binary
  python3                      # the Composer 3 simulation's webhook (tests/composer3/peervm/webhook.py, stdlib)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

[[ $(id -u) -eq 0 ]] || die "installing ${missing[*]} needs root"
log "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# --no-install-recommends: etcd-server would otherwise pull in etcd-client docs etc.
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2> >(grep -v '^debconf: ' >&2)
log "installed: ${missing[*]}"
