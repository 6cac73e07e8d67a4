#!/usr/bin/env bash
# Installs what CyBorgBackup needs on Debian 12 (as root): borg, OpenSSH, fonts for charts,
# a C toolchain for bundled SQLite, and a Rust toolchain when none is present.
# Usage: scripts/install-deps.sh [--tests]   (--tests adds what the test suite needs)
set -euo pipefail

want=(borgbackup openssh-client openssh-server fonts-dejavu-core ca-certificates curl gcc make pkg-config procps iproute2)
if [[ "${1:-}" == "--tests" ]]; then
  want+=(python3 socat sudo chromium chromium-driver sqlite3 debootstrap binutils)
  # The deployment tests need a Docker Engine with Compose (plugin or v1's docker-compose).
  command -v docker >/dev/null 2>&1 || want+=(docker.io)
  if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null 2>&1; then
    want+=(docker-compose)
  fi
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "==> installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  if [[ -x "$HOME/.cargo/bin/cargo" ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "==> installing the Rust toolchain (rustup)"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component clippy,rustfmt
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
fi
if [[ "${1:-}" == "--tests" ]] && ! docker info >/dev/null 2>&1; then
  echo "==> starting dockerd"
  nohup dockerd >/var/log/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
fi
echo "==> borg $(borg --version | cut -d' ' -f2), $(cargo --version)"
