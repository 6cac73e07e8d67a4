#!/usr/bin/env bash
# Installs what is missing, builds CyBorgBackup, and starts it with a demo: a local client and
# repository whose first backup, catalog and statistics appear at once. Prints the URL and login.
# Environment: CYBORG_LISTEN (default 127.0.0.1:8000), CYBORG_DATA_DIR (default /var/lib/cyborgbackup).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh
echo "==> building (release; the first build takes several minutes)"
cargo build --release --locked -q
export CYBORG_DATA_DIR="${CYBORG_DATA_DIR:-/var/lib/cyborgbackup}"
exec ./target/release/cyborgbackup serve --listen "${CYBORG_LISTEN:-127.0.0.1:8000}" --demo
