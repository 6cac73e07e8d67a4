#!/usr/bin/env bash
# Runs the whole test suite: installs and starts what the tests need (borg, OpenSSH, ...),
# checks formatting and lints, then runs every test against real components.
#
# Time on 2 cores: the tests are built once; clippy (a check build of its own) then runs while
# the tests run, since most tests wait on borg, ssh and the clock rather than on the CPU; and
# the integration tests run CYBORG_TEST_THREADS (default 3) at a time for the same reason.
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
echo "==> cargo test --no-run"
cargo test --workspace --locked --no-run -q
echo "==> cargo clippy (in the background, while the tests run)"
# Its own target directory: no wait on the tests' build lock (a check build shares nothing
# with the test build anyway).
CARGO_TARGET_DIR=target/clippy cargo clippy --workspace --all-targets --locked -q -- -D warnings \
  >target/clippy-output.txt 2>&1 &
clippy=$!
echo "==> cargo test"
set +e
cargo test --workspace --locked --no-fail-fast -- --test-threads="${CYBORG_TEST_THREADS:-3}" 2>&1 |
  tee target/test-output.txt
status=${PIPESTATUS[0]}
echo "==> cargo test -p store, on PostgreSQL"
CYBORG_TEST_DATABASE=postgres cargo test --locked -p store --no-fail-fast -- --test-threads="${CYBORG_TEST_THREADS:-3}" 2>&1 |
  tee -a target/test-output.txt
pg_status=${PIPESTATUS[0]}
if ((status == 0)); then status=$pg_status; fi
wait "$clippy"
clippy_status=$?
set -e
echo "==> cargo clippy"
cat target/clippy-output.txt
passed=$(grep -Eo 'test result: [a-zA-Z]+\. [0-9]+ passed; [0-9]+ failed' target/test-output.txt | awk '{p+=$4; f+=$6} END {print p+0, f+0}')
read -r p f <<<"$passed"
echo "$p passed, $f failed; clippy exit status $clippy_status"
if ((status != 0)); then exit "$status"; fi
exit "$clippy_status"
