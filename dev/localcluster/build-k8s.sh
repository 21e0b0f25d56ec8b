#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and kubectl from
# the module in kubebuild/ into $K8S_BIN. Skips the build when the cached binaries match the
# pin (go.mod + go.sum hash). A cold build takes about 8 min on 2 cores (measured: README.md).
#   --background   run the build detached (nohup), log to $CACHE_DIR/build-k8s.log, return
#   --wait         wait for a background build started earlier
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

COMPONENTS_TO_BUILD=(kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl)
BUILD_LOG="$CACHE_DIR/build-k8s.log"
STAMP="$K8S_BIN/.stamp"

pin_hash() { cat "$LC_DIR/kubebuild/go.mod" "$LC_DIR/kubebuild/go.sum" | sha256sum | cut -c1-16; }

is_current() {
  [[ -f $STAMP && "$(cat "$STAMP")" == "$(pin_hash)" ]] || return 1
  local c
  for c in "${COMPONENTS_TO_BUILD[@]}"; do [[ -x $K8S_BIN/$c ]] || return 1; done
}

build() {
  command -v go >/dev/null || die "Go is needed to build Kubernetes"
  mkdir -p "$K8S_BIN.tmp" "$GO_CACHE_ROOT"
  # Version stamps that `make` in kubernetes/kubernetes would set (hack/lib/version.sh).
  local ver="$K8S_VERSION" minor pkg ldflags=(-s -w)
  minor="$(echo "$ver" | cut -d. -f2)"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=("-X $pkg.gitVersion=$ver" "-X $pkg.gitMajor=1" "-X $pkg.gitMinor=$minor"
              "-X $pkg.gitTreeState=clean" "-X $pkg.buildDate=1970-01-01T00:00:00Z")
  done
  local start=$SECONDS
  log "building Kubernetes $ver (${COMPONENTS_TO_BUILD[*]}) into $K8S_BIN"
  (
    cd "$LC_DIR/kubebuild"
    # Own module and build caches under the cache dir: a retry after a failure is warm.
    export GOMODCACHE="$GO_CACHE_ROOT/mod" GOCACHE="$GO_CACHE_ROOT/build"
    export CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false" GOTOOLCHAIN=local
    local pkgs=()
    for c in "${COMPONENTS_TO_BUILD[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
    go build -trimpath -ldflags "${ldflags[*]}" -o "$K8S_BIN.tmp/" "${pkgs[@]}"
  )
  rm -rf "$K8S_BIN"
  mv "$K8S_BIN.tmp" "$K8S_BIN"
  pin_hash > "$STAMP"
  log "built Kubernetes $ver in $((SECONDS - start)) s"
}

# crictl: a separate module (no replace directives), so a plain `go install` works.
build_crictl() {
  [[ -x $CRICTL ]] && return
  log "building crictl $CRICTL_VERSION"
  mkdir -p "$(dirname "$CRICTL")"
  GOMODCACHE="$GO_CACHE_ROOT/mod" GOCACHE="$GO_CACHE_ROOT/build" GOBIN="$(dirname "$CRICTL")" \
    CGO_ENABLED=0 GOTOOLCHAIN=local \
    go install -trimpath -ldflags "-s -w" "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION"
}

case "${1:-}" in
  --background)
    if is_current && [[ -x $CRICTL ]]; then exit 0; fi
    mkdir -p "$CACHE_DIR"
    nohup "$0" >"$BUILD_LOG" 2>&1 </dev/null &
    echo $! > "$CACHE_DIR/build-k8s.pid"
    log "build started in background (pid $!), log: $BUILD_LOG"
    ;;
  --wait)
    pid="$(cat "$CACHE_DIR/build-k8s.pid" 2>/dev/null || true)"
    while [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; do sleep 10; done
    { is_current && [[ -x $CRICTL ]]; } || { tail -30 "$BUILD_LOG" >&2 || true; die "Kubernetes build failed"; }
    ;;
  "")
    is_current || build
    build_crictl
    ;;
  *) die "usage: $0 [--background|--wait]" ;;
esac
