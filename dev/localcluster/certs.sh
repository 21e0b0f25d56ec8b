#!/usr/bin/env bash
# Creates the cluster's PKI and kubeconfigs under $RUN_DIR/pki (kept across cluster-down so
# a kubeconfig copied elsewhere stays valid). Existing files are reused; a missing one is
# made. All keys are EC P-256: fast to generate and accepted by every component.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DAYS=3650

new_key() { [[ -s $1 ]] || openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

make_ca() {
  [[ -s $PKI_DIR/ca.crt ]] && return
  new_key "$PKI_DIR/ca.key"
  openssl req -x509 -new -key "$PKI_DIR/ca.key" -subj "/CN=composer-kpo-local-ca" -days "$DAYS" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "$PKI_DIR/ca.crt" 2>/dev/null
}

# make_cert NAME SUBJECT USAGE [SANS]   USAGE: client | server | both
make_cert() {
  local name="$1" subject="$2" usage="$3" sans="${4:-}" ext eku
  [[ -s $PKI_DIR/$name.crt ]] && return
  case "$usage" in
    client) eku=clientAuth ;;
    server) eku=serverAuth ;;
    both) eku=serverAuth,clientAuth ;;
  esac
  ext="$PKI_DIR/$name.ext"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    [[ -n $sans ]] && echo "subjectAltName=$sans"
  } > "$ext"
  new_key "$PKI_DIR/$name.key"
  openssl req -new -key "$PKI_DIR/$name.key" -subj "$subject" -out "$PKI_DIR/$name.csr" 2>/dev/null
  openssl x509 -req -in "$PKI_DIR/$name.csr" -CA "$PKI_DIR/ca.crt" -CAkey "$PKI_DIR/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days "$DAYS" -extfile "$ext" -out "$PKI_DIR/$name.crt" 2>/dev/null
  rm -f "$PKI_DIR/$name.csr" "$ext"
}

b64() { base64 -w0 < "$1"; }

# make_kubeconfig FILE CERT_NAME USER — credentials embedded, so the file works when copied.
make_kubeconfig() {
  local file="$1" cert="$2" user="$3"
  cat > "$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: composer-kpo-local
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $(b64 "$PKI_DIR/ca.crt")
users:
- name: $user
  user:
    client-certificate-data: $(b64 "$PKI_DIR/$cert.crt")
    client-key-data: $(b64 "$PKI_DIR/$cert.key")
contexts:
- name: composer-kpo-local
  context:
    cluster: composer-kpo-local
    user: $user
    namespace: default
current-context: composer-kpo-local
EOF
  chmod 600 "$file"
}

main() {
  mkdir -p "$PKI_DIR"
  chmod 700 "$PKI_DIR"
  make_ca
  make_cert apiserver "/CN=kube-apiserver" server \
    "IP:127.0.0.1,IP:$SERVICE_IP,IP:$NODE_IP,DNS:localhost,DNS:$NODE_NAME,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  # The API server's identity towards the kubelet (exec, logs, port-forward): system:masters
  # passes the kubelet's webhook authorization.
  make_cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" client
  make_cert admin "/O=system:masters/CN=kubernetes-admin" client
  make_cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" client
  make_cert kubelet-serving "/CN=$NODE_NAME" server "IP:$NODE_IP,IP:127.0.0.1,DNS:$NODE_NAME,DNS:localhost"
  make_cert controller-manager "/CN=system:kube-controller-manager" client
  make_cert scheduler "/CN=system:kube-scheduler" client
  # The aggregation layer's client (request-header auth); without it the controller manager
  # and scheduler log "missing content for CA bundle" every few seconds.
  make_cert front-proxy-client "/CN=front-proxy-client" client
  # The Composer 3 simulation's admission webhook (tests/composer3/peervm/webhook.py): the API server calls it at
  # https://127.0.0.1:$PEERVM_WEBHOOK_PORT and trusts it through the caBundle = this CA.
  make_cert peervm-webhook "/CN=composer-kpo-peervm-webhook" server "IP:127.0.0.1"
  # Service-account token signing pair.
  new_key "$PKI_DIR/sa.key"
  [[ -s $PKI_DIR/sa.pub ]] || openssl pkey -in "$PKI_DIR/sa.key" -pubout -out "$PKI_DIR/sa.pub" 2>/dev/null

  make_kubeconfig "$ADMIN_KUBECONFIG" admin kubernetes-admin
  make_kubeconfig "$RUN_DIR/kubelet.kubeconfig" kubelet "system:node:$NODE_NAME"
  make_kubeconfig "$RUN_DIR/controller-manager.kubeconfig" controller-manager system:kube-controller-manager
  make_kubeconfig "$RUN_DIR/scheduler.kubeconfig" scheduler system:kube-scheduler
}

main "$@"
