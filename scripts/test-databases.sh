#!/usr/bin/env bash
# Real database servers for the mysql and postgresql policy-type tests, started without systemd:
# MariaDB (Debian's mariadb-server, root over its unix socket) and PostgreSQL (Debian's default
# cluster, e.g. 15/main, the postgres superuser over peer authentication).
#
# Usage:
#   scripts/test-databases.sh start   install what is missing, start both, wait until they answer
#   scripts/test-databases.sh stop    stop both
# Idempotent and serialised between concurrent callers (flock). Needs root.
set -euo pipefail

LOCK=/run/lock/cyborg-test-databases.lock
die() { echo "test-databases: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "needs root"

install_missing() {
  local want=(mariadb-server mariadb-client postgresql postgresql-client util-linux) missing=() p
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "test-databases: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    # Debian's maintainer scripts must not try to start services here (no systemd).
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    apt-get update -qq
    local rc=0
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
    rm -f /usr/sbin/policy-rc.d
    ((rc == 0)) || die "apt-get install ${missing[*]} failed"
  fi
}

# Waits up to $1 seconds for command "${@:2}" to succeed.
wait_for() {
  local secs=$1
  shift
  local i
  for ((i = 0; i < secs * 5; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  return 1
}

pg_cluster() { # prints "VERSION NAME" of the first cluster, creating one when there is none
  local line
  line=$(pg_lsclusters -h 2>/dev/null | head -n1 || true)
  if [[ -z "$line" ]]; then
    local v
    v=$(ls /usr/lib/postgresql | sort -V | tail -n1)
    [[ -n "$v" ]] || die "no PostgreSQL server version installed"
    pg_createcluster "$v" main >/dev/null
    line=$(pg_lsclusters -h | head -n1)
  fi
  awk '{print $1, $2}' <<<"$line"
}

pg_ready() { runuser -u postgres -- psql -XAtqc 'select 1' postgres; }

start_postgresql() {
  local v n
  read -r v n < <(pg_cluster)
  if ! pg_ready >/dev/null 2>&1; then
    mkdir -p /var/run/postgresql
    chown postgres:postgres /var/run/postgresql
    pg_ctlcluster "$v" "$n" start 9>&- || pg_ready >/dev/null 2>&1 || die "PostgreSQL $v/$n did not start"
  fi
  wait_for 30 pg_ready || die "PostgreSQL $v/$n does not accept connections"
  pg_store_role
}

# The role the store's PostgreSQL tests log in as over TCP (store::testing::DEFAULT_TEST_PG_URL):
# it creates one database per test. Leftovers of earlier runs are dropped; commits do not wait
# for the disk (throwaway data, and the tests commit often).
pg_store_role() {
  runuser -u postgres -- psql -XAtq postgres >/dev/null <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cyborg_test') THEN
    CREATE ROLE cyborg_test LOGIN PASSWORD 'cyborg_test' CREATEDB;
  END IF;
END $$;
ALTER SYSTEM SET synchronous_commit = off;
SELECT pg_reload_conf();
SQL
  local db
  for db in $(runuser -u postgres -- psql -XAtq postgres -c \
    "SELECT datname FROM pg_database WHERE datname LIKE 'cyborg\_t\_%'"); do
    runuser -u postgres -- psql -XAtq postgres -c "DROP DATABASE \"$db\" WITH (FORCE)" >/dev/null
  done
}

my_ready() { mysqladmin --protocol=socket -uroot ping; }

start_mariadb() {
  my_ready >/dev/null 2>&1 && return 0
  mkdir -p /run/mysqld
  chown mysql:mysql /run/mysqld
  if [[ -x /etc/init.d/mariadb ]]; then
    /etc/init.d/mariadb start >/dev/null 2>&1 9>&- || true
  fi
  if ! wait_for 5 my_ready; then
    # No init script (or it gave up): run the server directly in the background.
    setsid mysqld_safe >/dev/null 2>&1 </dev/null 9>&- &
  fi
  wait_for 60 my_ready || die "MariaDB does not accept connections"
}

stop_all() {
  local v n
  if command -v pg_lsclusters >/dev/null 2>&1; then
    while read -r v n _; do
      [[ -n "$v" ]] && pg_ctlcluster "$v" "$n" stop >/dev/null 2>&1 || true
    done < <(pg_lsclusters -h 2>/dev/null)
  fi
  if my_ready >/dev/null 2>&1; then
    mysqladmin --protocol=socket -uroot shutdown || true
  fi
}

mkdir -p "$(dirname "$LOCK")"
exec 9>"$LOCK"
flock 9
case "${1:-}" in
  start)
    install_missing
    start_postgresql
    start_mariadb
    echo "test-databases: MariaDB and PostgreSQL are ready" >&2
    ;;
  stop) stop_all ;;
  *) die "usage: $0 start|stop" ;;
esac
