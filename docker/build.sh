#!/bin/sh
# The build steps of docker/Dockerfile, run in its build stage (in /src):
#   build.sh dependencies   compiles every dependency against stub workspace crates
#   build.sh binary         compiles the workspace, installs /usr/local/bin/cyborgbackup
set -eu
profile=release
dir=release
crates="model store executor indexer report service graphql web"

# Offline from docker/vendor/ when it holds vendored crates.
if ls docker/vendor/*/Cargo.toml >/dev/null 2>&1; then
  mkdir -p .cargo
  cat >.cargo/config.toml <<'CONF'
[source.crates-io]
replace-with = "vendored-sources"

[source.vendored-sources]
directory = "/src/docker/vendor"

[net]
offline = true
CONF
fi

build() {
  cargo build --locked --profile "$profile" --bin cyborgbackup
}

case "${1:-}" in
  dependencies)
    for c in $crates; do
      mkdir -p "$c/src"
      : >"$c/src/lib.rs"
    done
    # Targets the manifests name must exist even when not built.
    mkdir -p indexer/benches/catalog executor/benches benches src
    for f in indexer/benches/catalog/main.rs executor/benches/pull_relay.rs benches/api_load.rs src/main.rs; do
      echo 'fn main() {}' >"$f"
    done
    build
    # Forget the stubs: only the dependencies' artefacts are kept.
    for c in $crates cyborgbackup; do
      rm -rf "target/$dir/.fingerprint/$c-"* "target/$dir/deps/lib$c-"* "target/$dir/deps/$c-"*
    done
    ;;
  binary)
    build
    install -m 0755 "target/$dir/cyborgbackup" /usr/local/bin/cyborgbackup
    /usr/local/bin/cyborgbackup --version
    ;;
  *)
    echo "usage: build.sh dependencies|binary" >&2
    exit 2
    ;;
esac
