#!/usr/bin/env bash
# Simulated SSH hosts on loopback for tests: one sshd per host, each with its own config, host key,
# address, port and (when `unshare --uts` works) hostname.
#   repo  127.0.0.10   repository host
#   web1  127.0.0.11   client
#   web2  127.0.0.12   client
#   island 127.0.0.13  client in its own network namespace: it reaches nothing (not the repository
#                      host, not the other clients); only its sshd is reachable, through a socat
#                      bridge (127.0.0.13:PORT -> unix socket -> sshd inside the namespace).
#                      Pull mode is what lets it back up to the repository host.
#   bare  127.0.0.14   opt-in (`start --bare`): a client without borg. Its sshd runs chrooted, in
#                      its own mount and UTS namespaces, in an overlayfs view of / (upper layer
#                      in DIR/bare) where `dpkg -r --force-depends borgbackup` removed borg; /proc,
#                      /dev, /sys and /tmp are bound in. Writes (e.g. apt-get installing borg
#                      again) reach only the upper layer; the mounts live only in the host's
#                      namespace and vanish when `stop` kills its processes.
# Every host accepts logins as root and as the non-root user `cyborg` (passwordless sudo) with any
# key listed in DIR/authorized_keys (append to it at any time; sshd reads it on every login).
# Each host also has its own /root/.ssh, its own borg cache and configuration for root
# (/root/.cache/borg, /root/.config/borg) and its own home for cyborg (DIR/HOST/ssh-root,
# DIR/HOST/borg-cache-root, DIR/HOST/borg-config-root and DIR/HOST/home-cyborg, bind-mounted in
# the host's private mount namespace), so a line a test or the server adds to
# ~/.ssh/authorized_keys on one host is valid on that host only, and borg's cache, locks and
# security records of a user on one host are not another host's (a lock left by a borg killed on
# a client would otherwise look like a live lock of a foreign host to the repository host).
# DIR/known_hosts lists the hosts' keys for OpenSSH clients ([127.0.0.x]:PORT and [name]:PORT).
#
# Usage:
#   scripts/test-hosts.sh start DIR [--port N] [--key PUBKEY_LINE_OR_FILE]... [--bare]
#       (default port 2222; DIR/hosts records the optional hosts started, for stop and known_hosts)
#   scripts/test-hosts.sh stop DIR
#   scripts/test-hosts.sh restart DIR HOST        restart one host's sshd
#   scripts/test-hosts.sh rekey DIR HOST          new host key for HOST, then restart it
#   scripts/test-hosts.sh pid DIR HOST            pid of HOST's listening sshd
# Idempotent: `start` on running hosts leaves them running. Needs root.
set -euo pipefail

HOSTS=("repo 127.0.0.10" "web1 127.0.0.11" "web2 127.0.0.12" "island 127.0.0.13")
BARE="bare 127.0.0.14"

die() { echo "test-hosts: $*" >&2; exit 1; }

# Shell prologue run inside a host's new mount namespace, its last argument the host's directory:
# the host's own /root/.ssh, root's borg cache and configuration, and cyborg home.
PRIVATE_SSH='eval "h=\${$#}"
mount --bind "$h/ssh-root" /root/.ssh || exit 1
mkdir -p /root/.cache/borg /root/.config/borg || exit 1
mount --bind "$h/borg-cache-root" /root/.cache/borg || exit 1
mount --bind "$h/borg-config-root" /root/.config/borg || exit 1
mount --bind "$h/home-cyborg" "$(getent passwd cyborg | cut -d: -f6)" || exit 1
' 

install_tools() {
  local missing=()
  [[ -x /usr/sbin/sshd ]] || missing+=(openssh-server)
  command -v ssh >/dev/null 2>&1 && command -v ssh-keygen >/dev/null 2>&1 || missing+=(openssh-client)
  command -v unshare >/dev/null 2>&1 && command -v flock >/dev/null 2>&1 || missing+=(util-linux)
  command -v useradd >/dev/null 2>&1 || missing+=(passwd)
  command -v socat >/dev/null 2>&1 || missing+=(socat)
  command -v sudo >/dev/null 2>&1 || missing+=(sudo)
  command -v ip >/dev/null 2>&1 || missing+=(iproute2)
  if ((${#missing[@]})); then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# Machine-wide, one-time setup (users, /etc/hosts), serialized between concurrent callers.
setup_machine() {
  mkdir -p /run/sshd
  chmod 755 /run/sshd
  if ! id cyborg >/dev/null 2>&1; then
    useradd -m -s /bin/sh cyborg 2>/dev/null || id cyborg >/dev/null
  fi
  # The non-root backup user runs borg with `sudo -E -n`, as the original documents.
  if [[ ! -f /etc/sudoers.d/cyborg-test ]]; then
    echo 'cyborg ALL=(ALL:ALL) NOPASSWD:SETENV: ALL' >/etc/sudoers.d/cyborg-test.tmp
    chmod 440 /etc/sudoers.d/cyborg-test.tmp
    mv /etc/sudoers.d/cyborg-test.tmp /etc/sudoers.d/cyborg-test
  fi
  # Mount point for each host's private /root/.ssh.
  mkdir -p /root/.ssh
  chmod 700 /root/.ssh
  # useradd leaves the account locked ("!"); with UsePAM no, sshd refuses locked accounts.
  if grep -q '^cyborg:!' /etc/shadow; then usermod -p '*' cyborg; fi
  if grep -q '^root:!' /etc/shadow; then usermod -p '*' root; fi
  local entry name ip
  for entry in "${HOSTS[@]}" "$BARE"; do
    read -r name ip <<<"$entry"
    grep -qE "^${ip//./\\.}[[:space:]]+${name}([[:space:]]|$)" /etc/hosts || echo "$ip $name" >>/etc/hosts
  done
}

host_ip() {
  local entry name ip
  for entry in "${HOSTS[@]}" "$BARE"; do
    read -r name ip <<<"$entry"
    [[ "$name" == "$1" ]] && { echo "$ip"; return; }
  done
  die "unknown host $1 (known: repo web1 web2 island bare)"
}

# The hosts of DIR: the four standard ones, plus bare when DIR/hosts lists it.
dir_hosts() { # DIR
  printf '%s\n' "${HOSTS[@]}"
  if grep -qx bare "$1/hosts" 2>/dev/null; then echo "$BARE"; fi
}

alive() { # PID: exists and is not a zombie (PID 1 here may not reap orphans)
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n "$state" && "$state" != Z ]]
}

running() { # DIR NAME
  local pidfile="$1/$2/sshd.pid"
  [[ -s "$pidfile" ]] && alive "$(cat "$pidfile")"
}

start_host() { # DIR NAME
  local dir="$1" name="$2" ip port
  ip=$(host_ip "$name")
  port=$(cat "$dir/port")
  local h="$dir/$name"
  mkdir -p "$h"
  [[ -f "$h/ssh_host_ed25519_key" ]] || ssh-keygen -q -t ed25519 -N '' -C "$name" -f "$h/ssh_host_ed25519_key"
  cat >"$h/sshd_config" <<EOF
ListenAddress $ip:$port
HostKey $h/ssh_host_ed25519_key
PidFile $h/sshd.pid
AuthorizedKeysFile $dir/authorized_keys .ssh/authorized_keys
UsePAM no
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
AllowAgentForwarding yes
AllowTcpForwarding yes
GatewayPorts no
PrintMotd no
LogLevel DEBUG1
Subsystem sftp internal-sftp
EOF
  running "$dir" "$name" && return 0
  rm -f "$h/sshd.pid"
  /usr/sbin/sshd -t -f "$h/sshd_config" || die "invalid sshd config for $name"
  install -d -m 700 "$h/ssh-root" "$h/borg-cache-root" "$h/borg-config-root"
  install -d -m 755 -o cyborg -g "$(id -gn cyborg)" "$h/home-cyborg"
  if [[ "$name" == island ]]; then
    start_island "$h" "$ip" "$port"
  elif [[ "$name" == bare ]]; then
    start_bare "$h"
  # Its own hostname and ~/.ssh in private UTS and mount namespaces.
  elif unshare --uts --mount --propagation private true 2>/dev/null; then
    unshare --uts --mount --propagation private sh -c "$PRIVATE_SSH"'
      hostname "$1" && exec /usr/sbin/sshd -f "$2" -E "$3"' sh "$name" "$h/sshd_config" "$h/sshd.log" "$h"
  elif unshare --uts true 2>/dev/null; then
    unshare --uts sh -c 'hostname "$1" && exec /usr/sbin/sshd -f "$2" -E "$3"' sh "$name" "$h/sshd_config" "$h/sshd.log"
  else
    /usr/sbin/sshd -f "$h/sshd_config" -E "$h/sshd.log"
  fi
  local i
  for i in $(seq 1 100); do
    running "$dir" "$name" && return 0
    sleep 0.05
  done
  tail -n 20 "$h/sshd.log" >&2 || true
  die "sshd for $name did not start"
}

# The island's sshd in a new network namespace (only its own loopback), with a socat inside
# relaying a unix socket to it and a socat outside listening on IP:PORT.
start_island() { # HOSTDIR IP PORT
  local h="$1" ip="$2" port="$3"
  rm -f "$h/bridge.sock"
  unshare --net --uts --mount --propagation private sh -c "$PRIVATE_SSH"'
    ip link set lo up && hostname island || exit 1
    socat UNIX-LISTEN:"$1",fork,unlink-early TCP:"$2":"$3" </dev/null >/dev/null 2>&1 &
    echo $! >"$4"
    exec /usr/sbin/sshd -f "$5" -E "$6"' sh "$h/bridge.sock" "$ip" "$port" "$h/inner.pid" "$h/sshd_config" "$h/sshd.log" "$h"
  local i
  for i in $(seq 1 100); do
    [[ -S "$h/bridge.sock" ]] && break
    sleep 0.05
  done
  setsid socat TCP-LISTEN:"$port",bind="$ip",fork,reuseaddr UNIX-CONNECT:"$h/bridge.sock" </dev/null >/dev/null 2>&1 &
  echo $! >"$h/outer.pid"
  for i in $(seq 1 100); do
    (exec 3<>"/dev/tcp/$ip/$port") 2>/dev/null && return 0
    sleep 0.05
  done
  die "socat bridge for island did not start"
}

# bare's sshd chrooted in an overlay view of / without borg, in new mount and UTS namespaces
# (unshare makes the mounts private: nothing propagates to the machine). DIR/bare/mntns records
# the namespace so `stop` can kill every process in it; borg is removed once per upper layer.
start_bare() { # HOSTDIR
  local h="$1"
  mkdir -p "$h/upper" "$h/work" "$h/merged"
  unshare --mount --uts --propagation private sh -c '
    set -e
    h="$1" m="$1/merged"
    hostname bare
    mount -t overlay overlay -o "lowerdir=/,upperdir=$h/upper,workdir=$h/work" "$m"
    mount --bind /proc "$m/proc"
    mount --rbind /dev "$m/dev"
    mount --rbind /sys "$m/sys"
    mount --bind /tmp "$m/tmp"
    mkdir -p "$m/run/sshd"
    chmod 755 "$m/run/sshd"
    readlink /proc/self/ns/mnt >"$h/mntns"
    if [ ! -e "$h/borg-removed" ]; then
      if chroot "$m" dpkg-query -W -f="\${Status}" borgbackup 2>/dev/null | grep -q "ok installed"; then
        chroot "$m" dpkg -r --force-depends --no-triggers borgbackup >"$h/dpkg.log" 2>&1
      fi
      ! chroot "$m" sh -c "command -v borg" >/dev/null 2>&1 || { echo "borg still in the bare host" >&2; exit 1; }
      touch "$h/borg-removed"
    fi
    exec chroot "$m" /usr/sbin/sshd -f "$2" -E "$3"' sh "$h" "$h/sshd_config" "$h/sshd.log"
}

# Kills every process in bare's mount namespace (sessions, borg, apt), so its mounts vanish.
stop_namespace() { # HOSTDIR
  local ns p i left
  [[ -s "$1/mntns" ]] || return 0
  ns=$(cat "$1/mntns")
  for i in $(seq 1 60); do
    left=0
    for p in /proc/[0-9]*; do
      [[ "$(readlink "$p/ns/mnt" 2>/dev/null)" == "$ns" ]] || continue
      alive "${p#/proc/}" || continue
      left=1
      kill "-$( ((i < 20)) && echo TERM || echo KILL)" "${p#/proc/}" 2>/dev/null || true
    done
    ((left)) || break
    sleep 0.1
  done
  rm -f "$1/mntns"
}

stop_pidfile() { # PIDFILE
  local pid
  [[ -s "$1" ]] || return 0
  pid=$(cat "$1")
  alive "$pid" && kill -TERM "$pid" 2>/dev/null || true
  rm -f "$1"
}

stop_host() { # DIR NAME
  local pidfile="$1/$2/sshd.pid" pid i
  stop_pidfile "$1/$2/outer.pid"
  stop_pidfile "$1/$2/inner.pid"
  [[ -s "$pidfile" ]] || { stop_namespace "$1/$2"; return 0; }
  pid=$(cat "$pidfile")
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do
      alive "$pid" || break
      sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
  stop_namespace "$1/$2"
}

write_known_hosts() { # DIR
  local dir="$1" port entry entries name ip key
  port=$(cat "$dir/port")
  : >"$dir/known_hosts.tmp"
  mapfile -t entries < <(dir_hosts "$dir")
  for entry in "${entries[@]}"; do
    read -r name ip <<<"$entry"
    key=$(cut -d' ' -f1,2 "$dir/$name/ssh_host_ed25519_key.pub")
    echo "[$ip]:$port,[$name]:$port $key" >>"$dir/known_hosts.tmp"
  done
  mv "$dir/known_hosts.tmp" "$dir/known_hosts"
}

cmd="${1:-}"
dir="${2:-}"
[[ -n "$cmd" && -n "$dir" ]] || die "usage: $0 start|stop|restart|rekey|pid DIR [...]"
[[ $EUID -eq 0 ]] || die "must run as root"
shift 2
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

case "$cmd" in
  start)
    port=2222
    keys=()
    bare=0
    while (($#)); do
      case "$1" in
        --port) port="$2"; shift 2 ;;
        --key) keys+=("$2"); shift 2 ;;
        --bare) bare=1; shift ;;
        *) die "unknown option $1" ;;
      esac
    done
    install_tools
    exec 9>/tmp/cyborg-test-hosts.lock
    flock 9
    setup_machine
    flock -u 9
    echo "$port" >"$dir/port"
    if ((bare)) && ! grep -qx bare "$dir/hosts" 2>/dev/null; then echo bare >>"$dir/hosts"; fi
    touch "$dir/authorized_keys"
    chmod 644 "$dir/authorized_keys"
    for k in "${keys[@]+"${keys[@]}"}"; do
      if [[ -f "$k" ]]; then line=$(cat "$k"); else line="$k"; fi
      grep -qxF "$line" "$dir/authorized_keys" || echo "$line" >>"$dir/authorized_keys"
    done
    mapfile -t entries < <(dir_hosts "$dir")
    for entry in "${entries[@]}"; do
      read -r name _ <<<"$entry"
      start_host "$dir" "$name"
    done
    write_known_hosts "$dir"
    ;;
  stop)
    mapfile -t entries < <(dir_hosts "$dir")
    for entry in "${entries[@]}"; do
      read -r name _ <<<"$entry"
      stop_host "$dir" "$name"
    done
    ;;
  restart)
    name="${1:?host name}"
    host_ip "$name" >/dev/null
    stop_host "$dir" "$name"
    start_host "$dir" "$name"
    ;;
  rekey)
    name="${1:?host name}"
    host_ip "$name" >/dev/null
    stop_host "$dir" "$name"
    rm -f "$dir/$name/ssh_host_ed25519_key" "$dir/$name/ssh_host_ed25519_key.pub"
    start_host "$dir" "$name"
    write_known_hosts "$dir"
    ;;
  pid)
    name="${1:?host name}"
    cat "$dir/$name/sshd.pid"
    ;;
  *) die "unknown command $cmd" ;;
esac
