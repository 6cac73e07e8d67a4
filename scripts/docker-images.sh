#!/usr/bin/env bash
# Docker images for the deployment tests, built locally: these machines reach no container
# registry. Every image is built only when missing (or, for the server, when its sources
# changed: Docker's layer cache decides), so a second run costs seconds.
#
#   scripts/docker-images.sh base      debian:bookworm-slim from `debootstrap --variant=minbase`,
#                                      rust:<host version>-bookworm from it plus this machine's
#                                      Rust toolchain, gcc, make and pkg-config: the very tags
#                                      docker/Dockerfile names
#   scripts/docker-images.sh test      base, then the server image from docker/Dockerfile
#                                      (CARGO_PROFILE=ci, crates vendored into the context),
#                                      the test hosts' image (sshd + borg) and the package test
#                                      image (systemd's tools); prints KEY=VALUE lines:
#                                      SERVER_IMAGE, HOST_IMAGE, DEB_IMAGE, BINARY
#
# The `test` images are tagged per worktree (its path's hash), so that two worktrees testing
# at once never run each other's code. Concurrent runs wait for each other (flock).
# Environment: CYBORG_DOCKER_CACHE (default /var/cache/cyborgbackup-docker) keeps the
# debootstrap root file system; CYBORG_DOCKER_PROFILE (default ci) is the cargo profile.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=${CYBORG_DOCKER_CACHE:-/var/cache/cyborgbackup-docker}
PROFILE=${CYBORG_DOCKER_PROFILE:-ci}
DEBIAN_IMAGE=debian:bookworm-slim
RUST_VERSION=$(rustc --version | awk '{print $2}' | cut -d. -f1,2)
RUST_IMAGE=rust:${RUST_VERSION}-bookworm
TAG=$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)
SERVER_IMAGE=cyborgbackup:test-$TAG
HOST_IMAGE=cyborgbackup-test-sshd:bookworm
DEB_IMAGE=cyborgbackup-test-systemd:bookworm
# The runtime stage's package line (docker/Dockerfile), shared as a layer by the test images.
RUNTIME_PACKAGES="RUN apt-get update && apt-get install -y --no-install-recommends borgbackup openssh-client ca-certificates && rm -rf /var/lib/apt/lists/*"

log() { echo "docker-images: $*" >&2; }
have_image() { docker image inspect "$1" >/dev/null 2>&1; }

install_tools() {
  local missing=()
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  command -v docker >/dev/null 2>&1 || missing+=(docker.io)
  if ((${#missing[@]})); then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
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

# rust:X.Y-bookworm: Debian with gcc, make, pkg-config and this machine's Rust toolchain in
# /usr/local, like the official image (CARGO_HOME=/usr/local/cargo).
build_rust() {
  have_image "$RUST_IMAGE" && return
  local sysroot ctx
  sysroot=$(rustc --print sysroot)
  ctx=$(mktemp -d)
  log "building $RUST_IMAGE from $sysroot"
  mkdir -p "$ctx/rust"
  cp -a "$sysroot/bin" "$sysroot/lib" "$ctx/rust/"
  cat >"$ctx/Dockerfile" <<EOF
FROM $DEBIAN_IMAGE
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev make pkg-config ca-certificates git && rm -rf /var/lib/apt/lists/*
COPY rust /usr/local/rust
ENV CARGO_HOME=/usr/local/cargo PATH=/usr/local/cargo/bin:/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN mkdir -p /usr/local/cargo/bin && cargo --version && rustc --version
EOF
  DOCKER_BUILDKIT=0 docker build -q -t "$RUST_IMAGE" "$ctx" >/dev/null
  rm -rf "$ctx"
}

# Empties the vendored crates the binary never compiles on this platform (Windows and wasm
# crates, dev-dependencies: two thirds of the bytes): their manifests stay, so that cargo
# resolves the same lock file, their sources go, and their checksums list no file.
prune_vendor() {
  local vendor=$1 host used d name sum
  host=$(rustc -vV | sed -n 's/^host: //p')
  used=$(cargo tree --locked --offline -q -p cyborgbackup --target "$host" -e normal,build \
    --prefix none -f '{p}' | awk '{sub(/^v/, "", $2); print $1 "-" $2}' | sort -u)
  for d in "$vendor"/*/; do
    d=${d%/}
    name=${d##*/}
    grep -qxF "$name" <<<"$used" && continue
    sum=$(grep -o '"package":"[0-9a-f]*"' "$d/.cargo-checksum.json")
    find "$d" -mindepth 1 -maxdepth 1 ! -name Cargo.toml -exec rm -rf {} +
    mkdir -p "$d/src"
    : >"$d/src/lib.rs"
    printf '{"files":{},%s}' "$sum" >"$d/.cargo-checksum.json"
  done
  # The pruned directory must still load: every manifest, every checksum.
  cargo metadata --locked --offline --format-version 1 \
    --config 'source.crates-io.replace-with="pruned"' \
    --config "source.pruned.directory=\"$vendor\"" >/dev/null
}

# The build context of docker/Dockerfile: this worktree's sources (no target/, no .git) and
# the crates vendored into docker/vendor (cached per Cargo.lock).
server_context() {
  local ctx=$ROOT/target/docker/context vendor
  vendor=$ROOT/target/docker/vendor-$(sha256sum Cargo.lock | cut -c1-16)
  if [[ ! -f $vendor/.complete ]]; then
    log "cargo vendor"
    rm -rf "$ROOT"/target/docker/vendor-*
    cargo vendor --locked --versioned-dirs --quiet "$vendor" >/dev/null
    prune_vendor "$vendor"
    touch "$vendor/.complete"
  fi
  rm -rf "$ctx"
  mkdir -p "$ctx"
  tar -c --exclude=./target --exclude=./.git --exclude=./artifacts --exclude=./docs \
    --exclude=./docker/vendor . | tar -x -C "$ctx"
  mkdir -p "$ctx/docker/vendor"
  cp -al "$vendor/." "$ctx/docker/vendor/"
  rm -f "$ctx/docker/vendor/.complete"
  echo "$ctx"
}

build_server() {
  local ctx args=()
  ctx=$(server_context)
  [[ $RUST_IMAGE == rust:1.95-bookworm ]] || args+=(--build-arg "RUST_IMAGE=$RUST_IMAGE")
  log "docker build -f docker/Dockerfile --build-arg CARGO_PROFILE=$PROFILE -t $SERVER_IMAGE"
  DOCKER_BUILDKIT=0 docker build -f "$ctx/docker/Dockerfile" --build-arg "CARGO_PROFILE=$PROFILE" \
    "${args[@]}" -t "$SERVER_IMAGE" "$ctx" >"$ROOT/target/docker/build.log" 2>&1 \
    || { tail -40 "$ROOT/target/docker/build.log" >&2; exit 1; }
  # The binary of the image, for the Debian package: one build for both.
  local c
  c=$(docker create "$SERVER_IMAGE")
  docker cp "$c:/usr/bin/cyborgbackup" "$ROOT/target/docker/cyborgbackup" >/dev/null
  docker rm "$c" >/dev/null
}

# Test hosts: sshd and borg; the package test image: systemd's tools on the same base.
build_test_images() {
  local ctx=$ROOT/target/docker/test-images
  mkdir -p "$ctx"
  cat >"$ctx/Dockerfile" <<EOF
FROM $DEBIAN_IMAGE
$RUNTIME_PACKAGES
RUN apt-get update && apt-get install -y --no-install-recommends openssh-server && rm -rf /var/lib/apt/lists/* \\
 && mkdir -p /run/sshd /root/.ssh && chmod 700 /root/.ssh && ssh-keygen -A \\
 && printf 'PermitRootLogin prohibit-password\nPasswordAuthentication no\nClientAliveInterval 5\nClientAliveCountMax 3\nUseDNS no\n' >/etc/ssh/sshd_config.d/test.conf
CMD ["/usr/sbin/sshd", "-D", "-e"]
EOF
  DOCKER_BUILDKIT=0 docker build -q -t "$HOST_IMAGE" "$ctx" >/dev/null
  cat >"$ctx/Dockerfile" <<EOF
FROM $DEBIAN_IMAGE
$RUNTIME_PACKAGES
RUN apt-get update && apt-get install -y --no-install-recommends systemd passwd procps && rm -rf /var/lib/apt/lists/*
CMD ["sleep", "infinity"]
EOF
  DOCKER_BUILDKIT=0 docker build -q -t "$DEB_IMAGE" "$ctx" >/dev/null
}

base() {
  install_tools
  exec 9>/var/lock/cyborgbackup-docker-base.lock
  flock 9
  build_debian
  build_rust
  flock -u 9
}

case "${1:-}" in
  base)
    base
    ;;
  test)
    base
    mkdir -p "$ROOT/target/docker"
    exec 8>"$ROOT/target/docker/.lock"
    flock 8
    build_server
    exec 9>/var/lock/cyborgbackup-docker-base.lock
    flock 9
    build_test_images
    flock -u 9
    echo "SERVER_IMAGE=$SERVER_IMAGE"
    echo "HOST_IMAGE=$HOST_IMAGE"
    echo "DEB_IMAGE=$DEB_IMAGE"
    echo "BINARY=$ROOT/target/docker/cyborgbackup"
    ;;
  *)
    echo "usage: $0 base|test" >&2
    exit 2
    ;;
esac
