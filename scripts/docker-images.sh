#!/usr/bin/env bash
# Docker images for the deployment tests, built locally: these machines reach no container
# registry. Every image is built only when its tag is missing (the server image: when the
# binary changed, Docker's layer cache decides), so a second run costs seconds.
#
#   scripts/docker-images.sh base           debian:bookworm-slim from `debootstrap
#                                           --variant=minbase` (the tag docker/Dockerfile
#                                           names), then the test images on it: sshd + borg
#                                           hosts, and systemd's tools for the package test
#   scripts/docker-images.sh server BINARY  base, then docker/Dockerfile `--target prebuilt`
#                                           with BINARY (debug info stripped) as the server's
#                                           binary; prints SERVER_IMAGE, HOST_IMAGE, DEB_IMAGE,
#                                           BINARY (the stripped copy, for the package)
#   scripts/docker-images.sh rust           rust:<host version>-bookworm from this machine's
#                                           toolchain, for a full `docker build` without a
#                                           registry (not used by the tests)
#
# The server image is tagged per worktree (its path's hash), so that two worktrees testing at
# once never run each other's binary. Concurrent runs wait for each other (flock).
# CYBORG_DOCKER_CACHE (default /var/cache/cyborgbackup-docker) keeps the debootstrap root.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=${CYBORG_DOCKER_CACHE:-/var/cache/cyborgbackup-docker}
DEBIAN_IMAGE=debian:bookworm-slim
TAG=$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)
SERVER_IMAGE=cyborgbackup:test-$TAG
HOST_IMAGE=cyborgbackup-test-sshd:bookworm
DEB_IMAGE=cyborgbackup-test-systemd:bookworm
# The runtime stage's package line (docker/Dockerfile), so that the test images share it.
RUNTIME_PACKAGES='RUN apt-get update \
    && apt-get install -y --no-install-recommends borgbackup openssh-client ca-certificates \
    && rm -rf /var/lib/apt/lists/*'

log() { echo "docker-images: $*" >&2; }
have_image() { docker image inspect "$1" >/dev/null 2>&1; }

check_tools() {
  local t
  for t in debootstrap docker objcopy; do
    command -v "$t" >/dev/null 2>&1 || { log "$t is missing: run scripts/install-deps.sh --tests"; exit 1; }
  done
  docker info >/dev/null 2>&1 || { log "the Docker daemon does not answer (start dockerd)"; exit 1; }
}

# debian:bookworm-slim: a minbase root file system with the official image's apt sources.
build_debian() {
  have_image "$DEBIAN_IMAGE" && return
  local rootfs=$CACHE/bookworm-minbase
  if [[ ! -f $rootfs/.complete ]]; then
    log "debootstrap --variant=minbase bookworm (about a minute)"
    rm -rf "$rootfs"
    mkdir -p "$CACHE"
    debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >"$CACHE/debootstrap.log" 2>&1 \
      || { tail -20 "$CACHE/debootstrap.log" >&2; exit 1; }
    rm -f "$rootfs/etc/apt/sources.list"
    cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
    touch "$rootfs/.complete"
  fi
  log "docker import $DEBIAN_IMAGE"
  tar -C "$rootfs" --exclude=./.complete -c . | docker import --change 'CMD ["bash"]' - "$DEBIAN_IMAGE" >/dev/null
}

# Test hosts (sshd and borg) and the package test image (systemd's tools), each on the base.
build_test_images() {
  local ctx=$CACHE/test-images
  mkdir -p "$ctx"
  if ! have_image "$HOST_IMAGE"; then
    log "building $HOST_IMAGE"
    cat >"$ctx/Dockerfile" <<EOF
FROM $DEBIAN_IMAGE
$RUNTIME_PACKAGES
RUN apt-get update && apt-get install -y --no-install-recommends openssh-server && rm -rf /var/lib/apt/lists/* \\
 && mkdir -p /run/sshd /root/.ssh && chmod 700 /root/.ssh && ssh-keygen -A \\
 && printf 'PermitRootLogin prohibit-password\nPasswordAuthentication no\nClientAliveInterval 5\nClientAliveCountMax 3\nUseDNS no\n' >/etc/ssh/sshd_config.d/test.conf
CMD ["/usr/sbin/sshd", "-D", "-e"]
EOF
    DOCKER_BUILDKIT=0 docker build -t "$HOST_IMAGE" "$ctx" >"$ctx/build.log" 2>&1 \
      || { tail -30 "$ctx/build.log" >&2; exit 1; }
  fi
  if ! have_image "$DEB_IMAGE"; then
    log "building $DEB_IMAGE"
    cat >"$ctx/Dockerfile" <<EOF
FROM $DEBIAN_IMAGE
$RUNTIME_PACKAGES
RUN apt-get update && apt-get install -y --no-install-recommends systemd passwd procps && rm -rf /var/lib/apt/lists/*
CMD ["sleep", "infinity"]
EOF
    DOCKER_BUILDKIT=0 docker build -t "$DEB_IMAGE" "$ctx" >"$ctx/build.log" 2>&1 \
      || { tail -30 "$ctx/build.log" >&2; exit 1; }
  fi
}

base() {
  check_tools
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.lock"
  flock 9
  build_debian
  build_test_images
  flock -u 9
}

# docker/Dockerfile's `prebuilt` stage with BINARY: the context holds the Dockerfile, the
# .dockerignore and the binary (the stages up to `prebuilt` read nothing else).
build_server() {
  local bin=$1 ctx=$ROOT/target/docker/context
  [[ -x $bin ]] || { log "$bin is not an executable"; exit 1; }
  mkdir -p "$ROOT/target/docker"
  exec 8>"$ROOT/target/docker/.lock"
  flock 8
  rm -rf "$ctx"
  mkdir -p "$ctx/docker/prebuilt"
  cp docker/Dockerfile "$ctx/docker/"
  cp .dockerignore "$ctx/"
  objcopy --strip-debug "$bin" "$ctx/docker/prebuilt/cyborgbackup"
  log "docker build -f docker/Dockerfile --target prebuilt -t $SERVER_IMAGE"
  DOCKER_BUILDKIT=0 docker build -f "$ctx/docker/Dockerfile" --target prebuilt \
    -t "$SERVER_IMAGE" "$ctx" >"$ROOT/target/docker/build.log" 2>&1 \
    || { tail -40 "$ROOT/target/docker/build.log" >&2; exit 1; }
  flock -u 8
}

# rust:X.Y-bookworm: Debian with gcc, make, pkg-config and this machine's Rust toolchain in
# /usr/local, like the official image (CARGO_HOME=/usr/local/cargo).
build_rust() {
  local version image sysroot ctx
  version=$(rustc --version | awk '{print $2}' | cut -d. -f1,2)
  image=rust:$version-bookworm
  have_image "$image" && { echo "$image"; return; }
  sysroot=$(rustc --print sysroot)
  ctx=$(mktemp -d)
  log "building $image from $sysroot"
  mkdir -p "$ctx/rust"
  cp -a "$sysroot/bin" "$sysroot/lib" "$ctx/rust/"
  cat >"$ctx/Dockerfile" <<EOF
FROM $DEBIAN_IMAGE
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev make pkg-config ca-certificates git && rm -rf /var/lib/apt/lists/*
COPY rust /usr/local/rust
ENV CARGO_HOME=/usr/local/cargo PATH=/usr/local/cargo/bin:/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN mkdir -p /usr/local/cargo/bin && cargo --version && rustc --version
EOF
  DOCKER_BUILDKIT=0 docker build -t "$image" "$ctx" >&2
  rm -rf "$ctx"
  echo "$image"
}

case "${1:-}" in
  base)
    base
    ;;
  server)
    [[ -n ${2:-} ]] || { echo "usage: $0 server BINARY" >&2; exit 2; }
    base
    build_server "$2"
    echo "SERVER_IMAGE=$SERVER_IMAGE"
    echo "HOST_IMAGE=$HOST_IMAGE"
    echo "DEB_IMAGE=$DEB_IMAGE"
    echo "BINARY=$ROOT/target/docker/context/docker/prebuilt/cyborgbackup"
    ;;
  rust)
    base
    build_rust
    ;;
  *)
    echo "usage: $0 base | server BINARY | rust" >&2
    exit 2
    ;;
esac
