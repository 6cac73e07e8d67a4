#!/usr/bin/env bash
# Runs the whole test suite: installs and starts what the tests need (borg, OpenSSH, ...),
# checks formatting and lints, then runs every test against real components.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh --tests
scripts/test-databases.sh start
# The deployment tests' base images (debootstrap, apt in containers: network, little CPU) build
# in the background while fmt, clippy and the compilation run; the tests wait for them (flock).
mkdir -p target
scripts/docker-images.sh base >target/docker-images.log 2>&1 &
export CARGO_TERM_COLOR=never
echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -q -- -D warnings
echo "==> cargo test"
cargo test --workspace --locked --no-fail-fast 2>&1 | tee target/test-output.txt
status=${PIPESTATUS[0]}
passed=$(grep -Eo 'test result: [a-zA-Z]+\. [0-9]+ passed; [0-9]+ failed' target/test-output.txt | awk '{p+=$4; f+=$6} END {print p+0, f+0}')
read -r p f <<<"$passed"
echo "$p passed, $f failed"
exit "$status"
