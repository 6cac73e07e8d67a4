#!/usr/bin/env bash
# Runs the whole test suite: installs and starts what the tests need (borg, OpenSSH, ...),
# checks formatting and lints, then runs every test against real components.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh --tests
scripts/test-databases.sh start
export CARGO_TERM_COLOR=never
echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -q -- -D warnings
echo "==> cargo test"
cargo test --workspace --locked --no-run -q
# The deployment tests' Docker images build in the background while the other tests run;
# tests/deploy_images.rs runs last and waits for them (scripts/docker-images.sh is idempotent).
scripts/docker-images.sh test >target/docker-images.out 2>target/docker-images.log &
images=$!
set +e
cargo test --workspace --locked --no-fail-fast -- --skip deploy_ 2>&1 | tee target/test-output.txt
status=${PIPESTATUS[0]}
wait "$images" || echo "docker-images.sh failed (see target/docker-images.log); the deployment tests build again"
echo "==> deployment tests (Docker)"
cargo test --locked --test deploy_images --no-fail-fast 2>&1 | tee -a target/test-output.txt
deploy=${PIPESTATUS[0]}
set -e
((deploy == 0)) || status=$deploy
passed=$(grep -Eo 'test result: [a-zA-Z]+\. [0-9]+ passed; [0-9]+ failed' target/test-output.txt | awk '{p+=$4; f+=$6} END {print p+0, f+0}')
read -r p f <<<"$passed"
echo "$p passed, $f failed"
exit "$status"
