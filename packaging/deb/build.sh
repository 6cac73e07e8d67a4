#!/usr/bin/env bash
# Builds the Debian package of CyBorgBackup with dpkg-deb (no other tool needed):
#   packaging/deb/build.sh [--binary PATH] [--out DIR]
# Without --binary it first runs `cargo build --release` and packages that binary. The package
# holds /usr/bin/cyborgbackup, the hardened systemd unit, /etc/cyborgbackup/cyborgbackup.toml
# (a conffile) and maintainer scripts that create the `cyborgbackup` system user, keep the data
# on `dpkg -r` and delete it on `dpkg -P`. DEB_COMPRESSION (default xz) picks the compression.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=""
out=target/deb
while (($#)); do
  case "$1" in
    --binary) bin=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: $0 [--binary PATH] [--out DIR]" >&2; exit 2 ;;
  esac
done
if [[ -z $bin ]]; then
  cargo build --release --locked --bin cyborgbackup
  bin=target/release/cyborgbackup
fi
[[ -x $bin ]] || { echo "build.sh: $bin is not an executable" >&2; exit 1; }

version=$(sed -n '/^\[workspace.package\]/,/^\[/ s/^version = "\(.*\)"/\1/p' Cargo.toml)
arch=$(dpkg --print-architecture)
# The newest glibc symbol version the binary needs.
glibc=$(objdump -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1)

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
here=packaging/deb
install -D -m 0755 "$bin" "$root/usr/bin/cyborgbackup"
install -D -m 0644 "$here/cyborgbackup.service" "$root/lib/systemd/system/cyborgbackup.service"
install -D -m 0640 "$here/cyborgbackup.toml" "$root/etc/cyborgbackup/cyborgbackup.toml"
install -D -m 0644 README.md "$root/usr/share/doc/cyborgbackup/README.md"
cat >"$root/usr/share/doc/cyborgbackup/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: cyborgbackup
License: BSD-3-Clause

Files: *
Copyright: the CyBorgBackup authors
License: BSD-3-Clause
COPYRIGHT
install -d "$root/DEBIAN"
install -m 0755 "$here/postinst" "$here/prerm" "$here/postrm" "$root/DEBIAN/"
echo /etc/cyborgbackup/cyborgbackup.toml >"$root/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<CONTROL
Package: cyborgbackup
Version: ${version}-1
Architecture: ${arch}
Maintainer: CyBorgBackup <cyborgbackup@localhost>
Installed-Size: ${size}
Depends: libc6 (>= ${glibc}), libgcc-s1, borgbackup (>= 1.2), openssh-client, passwd, procps
Section: admin
Priority: optional
Homepage: https://github.com/cyborgbackup/cyborgbackup
Description: central backup orchestrator for BorgBackup
 One server keeps the inventory of clients, repositories, schedules and policies, runs borg
 on the hosts over SSH when schedules fire, and keeps a searchable catalog of every file
 version in every archive, served through a web UI, GraphQL and a REST API.
CONTROL
mkdir -p "$out"
deb="$out/cyborgbackup_${version}-1_${arch}.deb"
dpkg-deb --root-owner-group -Z"${DEB_COMPRESSION:-xz}" --build "$root" "$deb" >/dev/null
echo "$deb"
