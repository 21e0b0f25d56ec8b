#!/usr/bin/env bash
# Builds the images the cluster and the tests use, as docker-archive tarballs cached in
# $IMAGE_CACHE (no registry is reachable, so nothing is ever pulled):
#   registry.k8s.io/pause:3.10           static C pause binary (pause.c)
#   docker.io/library/busybox:1.36       Debian's busybox-static + applet symlinks + pgrep.c
#   docker.io/library/debian:bookworm-slim   debootstrap --variant=minbase bookworm
#   docker.io/library/perl:5.36          the same + Debian's perl
#   composer-kpo.local/peervm:1          the perl image's layer + a layer with busybox and the
#                                        Composer 3 peer VM agent (tests/composer3/peervm/agent, Go)
# Each tarball is built only when missing. `build-images.sh import` loads them into
# containerd's k8s.io namespace (the cluster's containerd must be running).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

IMAGES_DIR="$LC_DIR/images"
WORK="$IMAGE_CACHE/work"
DEB_CACHE="$IMAGE_CACHE/debs"  # debootstrap's .deb cache: the perl image reuses the base's
SUITE=bookworm

# The peervm image's revision follows its recipe (PEERVM_RECIPE), the agent's sources and
# the perl image it is built on, so editing the agent rebuilds the image.
PEERVM_RECIPE=1
AGENT_DIR="$PEERVM_DIR/agent"
peervm_revision() {
  local e perl=""
  for e in "${IMAGES[@]}"; do [[ $e == perl\|* ]] && perl="$e"; done
  echo "$PEERVM_RECIPE.$( { echo "$perl"; cd "$AGENT_DIR" && \
    find . -maxdepth 1 -type f \( -name '*.go' ! -name '*_test.go' -o -name go.mod \) -print0 |
    sort -z | xargs -0 cat; } | sha256sum | cut -c1-10)"
}

# name|reference|revision — the tarball is $IMAGE_CACHE/<name>-r<revision>.tar; bump an
# image's revision when its recipe below changes, so cached tarballs get rebuilt.
IMAGES=(
  "pause|registry.k8s.io/pause:3.10|1"
  "busybox|docker.io/library/busybox:1.36|2"
  "debian|docker.io/library/debian:bookworm-slim|1"
  "perl|docker.io/library/perl:5.36|2"
)
IMAGES+=("peervm|composer-kpo.local/peervm:1|$(peervm_revision)")  # after perl: built on it

field() { cut -d'|' -f"$2" <<<"$1"; }
tarball() {  # tarball NAME
  local e
  for e in "${IMAGES[@]}"; do
    [[ $(field "$e" 1) == "$1" ]] && { echo "$IMAGE_CACHE/$1-r$(field "$e" 3).tar"; return; }
  done
  die "unknown image $1"
}

# The Debian mirror apt is configured with (the only one reachable here).
debian_mirror() {
  local uri
  uri="$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
           /etc/apt/sources.list.d/*.sources 2>/dev/null |
         grep -oE 'https?://[^ ]+/debian/?( |$)' | head -1 | tr -d ' ')"
  echo "${uri:-http://deb.debian.org/debian}"
}

# Tar a root filesystem as an image layer: numeric owners, no /dev nodes (runc mounts its
# own /dev), stable order so identical trees give identical layers.
pack_layer() {  # pack_layer ROOTFS OUT.tar
  tar --numeric-owner --sort=name --mtime=@0 --exclude='./dev/*' \
      -C "$1" -cf "$2" .
}

make_image() {  # make_image NAME LAYER.tar mkimage-args...
  local name="$1" layer="$2"; shift 2
  python3 "$IMAGES_DIR/mkimage.py" --layer "$layer" --out "$(tarball "$name")" "$@" >&2
  rm -f "$layer"
}

build_pause() {
  local root="$WORK/pause"
  rm -rf "$root" && mkdir -p "$root"
  gcc -static -O2 -Wall -o "$root/pause" "$IMAGES_DIR/pause.c"
  strip "$root/pause"
  pack_layer "$root" "$WORK/pause.layer.tar"
  make_image pause "$WORK/pause.layer.tar" --tag registry.k8s.io/pause:3.10 --entrypoint '["/pause"]'
  rm -rf "$root"
}

build_busybox() {
  local root="$WORK/busybox" d
  rm -rf "$root" && mkdir -p "$root"
  for d in bin sbin usr/bin usr/sbin etc root tmp var/tmp proc sys dev home; do mkdir -p "$root/$d"; done
  chmod 1777 "$root/tmp" "$root/var/tmp"
  cp /bin/busybox "$root/bin/busybox"
  # Applet symlinks (/bin/sh, /bin/cat, ...) made by busybox itself, inside the new root.
  chroot "$root" /bin/busybox --install -s
  # Debian's busybox has no pgrep/pkill applets; KPO's XCom sidecar needs pgrep (pgrep.c).
  gcc -static -O2 -Wall -o "$root/bin/pgrep" "$IMAGES_DIR/pgrep.c"
  strip "$root/bin/pgrep"
  ln -s pgrep "$root/bin/pkill"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' > "$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
  pack_layer "$root" "$WORK/busybox.layer.tar"
  make_image busybox "$WORK/busybox.layer.tar" --tag docker.io/library/busybox:1.36 --cmd '["sh"]'
  rm -rf "$root"
}

debootstrap_rootfs() {  # debootstrap_rootfs ROOT [extra packages]
  local root="$1" include="${2:-}" mirror args
  mirror="$(debian_mirror)"
  rm -rf "$root" && mkdir -p "$root" "$DEB_CACHE"
  args=(--variant=minbase --cache-dir="$DEB_CACHE")
  [[ -n $include ]] && args+=(--include="$include")
  log "debootstrap $SUITE ${include:+(+$include) }from $mirror"
  if ! debootstrap "${args[@]}" "$SUITE" "$root" "$mirror" >"$WORK/debootstrap.log" 2>&1; then
    tail -30 "$WORK/debootstrap.log" >&2
    die "debootstrap failed (log: $WORK/debootstrap.log)"
  fi
  # debootstrap may leave proc/sys mounted if interrupted; never pack a mounted tree.
  umount -R "$root/proc" "$root/sys" 2>/dev/null || true
  # Slim it like the -slim images: no apt lists, no .deb cache, no docs.
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
         "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*.log
}

build_debian() {
  local root="$WORK/debian"
  debootstrap_rootfs "$root"
  pack_layer "$root" "$WORK/debian.layer.tar"
  make_image debian "$WORK/debian.layer.tar" --tag docker.io/library/debian:bookworm-slim --cmd '["bash"]'
  rm -rf "$root"
}

# perl 5.36.0's bundled Math::BigInt 1.999830 dies in bpi(N) for N > ~1000 ("Can't use an
# undefined value as an ARRAY reference"); Debian's libmath-bigint-perl (1.999838, earlier in
# @INC) fixes it, as the perl:5.36 image's newer 5.36.x does.
build_perl() {
  local root="$WORK/perl"
  debootstrap_rootfs "$root" perl,libmath-bigint-perl
  pack_layer "$root" "$WORK/perl.layer.tar"
  make_image perl "$WORK/perl.layer.tar" --tag docker.io/library/perl:5.36 --cmd '["perl", "-de0"]'
  rm -rf "$root"
}

# The agent: static (CGO off) so it runs in any rootfs; stdlib only, so no module downloads.
# Build cache under the cache dir: an unchanged agent rebuilds in about a second.
build_agent() {  # build_agent OUT
  local go=go
  command -v go >/dev/null || go=/usr/local/go/bin/go
  [[ -x $(command -v "$go") ]] || die "Go is needed to build the peervm agent"
  mkdir -p "$GO_CACHE_ROOT"
  ( cd "$AGENT_DIR" &&
    GOCACHE="$GO_CACHE_ROOT/build" GOMODCACHE="$GO_CACHE_ROOT/mod" GOTOOLCHAIN=local \
    GOFLAGS="-buildvcs=false" CGO_ENABLED=0 GOOS=linux GOARCH=amd64 \
      "$go" build -trimpath -ldflags "-s -w" -o "$1" . )
}

# Two layers: the perl image's (taken from its tarball, byte for byte, so containerd shares
# it) and one with /usr/local/bin/{placeholder-pod,busybox}. /bin is a symlink to usr/bin in
# bookworm, so nothing goes there.
build_peervm() {
  local root="$WORK/peervm" perl_tar base="$WORK/peervm.base.tar"
  perl_tar="$(tarball perl)"
  [[ -s $perl_tar ]] || die "the peervm image needs the perl image"
  python3 - "$perl_tar" "$base" <<'PY'
import json, shutil, sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    layers = json.load(t.extractfile("manifest.json"))[0]["Layers"]
    assert len(layers) == 1, layers
    with t.extractfile(layers[0]) as src, open(sys.argv[2], "wb") as dst:
        shutil.copyfileobj(src, dst)
PY
  rm -rf "$root" && mkdir -p "$root/usr/local/bin"
  build_agent "$root/usr/local/bin/placeholder-pod"
  cp /bin/busybox "$root/usr/local/bin/busybox"
  # pack_layer would emit ./usr and ./usr/local entries: same modes as the base's, harmless.
  chmod 755 "$root/usr" "$root/usr/local" "$root/usr/local/bin"
  pack_layer "$root" "$WORK/peervm.layer.tar"
  python3 "$IMAGES_DIR/mkimage.py" --layer "$base" --layer "$WORK/peervm.layer.tar" \
    --out "$(tarball peervm)" --tag composer-kpo.local/peervm:1 --cmd '["placeholder-pod", "agent"]' >&2
  rm -rf "$root" "$base" "$WORK/peervm.layer.tar"
}

build_all() {
  mkdir -p "$IMAGE_CACHE" "$WORK"
  local entry name start
  for entry in "${IMAGES[@]}"; do
    name="$(field "$entry" 1)"
    [[ -s $(tarball "$name") ]] && continue
    start=$SECONDS
    rm -f "$IMAGE_CACHE/$name"-r*.tar  # older revisions
    "build_$name"
    log "image $name built in $((SECONDS - start)) s: $(tarball "$name")"
  done
}

# Load every image into containerd's k8s.io namespace. containerd's root (the image store)
# survives cluster-down, so a tarball is imported only when it changed since its last import
# (recorded by name, size and mtime): a warm cluster-up spends no time here.
import_all() {
  local entry name ref tar key record="$RUN_DIR/containerd/imported.list" have
  touch "$record"
  have="$(ctr --address "$CONTAINERD_SOCK" -n k8s.io images ls -q 2>/dev/null || true)"
  for entry in "${IMAGES[@]}"; do
    name="$(field "$entry" 1)" ref="$(field "$entry" 2)" tar="$(tarball "$(field "$entry" 1)")"
    [[ -s $tar ]] || die "image $name is not built; run build-images.sh"
    key="$(basename "$tar") $(stat -c '%s %Y' "$tar")"
    grep -qxF "$ref" <<<"$have" && grep -qxF "$key" "$record" && continue
    ctr --address "$CONTAINERD_SOCK" -n k8s.io images import \
        --snapshotter "${SNAPSHOTTER:-overlayfs}" "$tar" >/dev/null
    grep -vF "$(basename "$tar") " "$record" > "$record.new" || true
    echo "$key" >> "$record.new" && mv "$record.new" "$record"
  done
}

case "${1:-build}" in
  build) build_all ;;
  import) import_all ;;
  list) for e in "${IMAGES[@]}"; do echo "$(field "$e" 2) $(tarball "$(field "$e" 1)")"; done ;;
  *) die "usage: $0 [build|import|list]" ;;
esac
