#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Install what building and testing groupsec needs on Debian 12: the build
# dependencies of the pinned FRR and strongSwan source packages, the test and
# lab tools (QEMU, Debian's kernel and busybox for the lab's guest routers),
# and a deb-src line so that `apt-get source` works.
set -euo pipefail

. "$(dirname "$0")/versions.sh"

log() { printf 'groupsec: %s\n' "$*" >&2; }
die() { printf 'groupsec: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "installing packages needs root (run as root, or install the packages in $0 by hand)"
command -v apt-get >/dev/null || die "apt-get not found: groupsec builds on Debian 12"

export DEBIAN_FRONTEND=noninteractive

have_src() {
	apt-cache showsrc frr 2>/dev/null | grep -x "Version: $FRR_VERSION" >/dev/null &&
		apt-cache showsrc strongswan 2>/dev/null | grep -x "Version: $STRONGSWAN_VERSION" >/dev/null
}

if ! have_src; then
	# add deb-src next to every deb entry that lacks one
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		sed -i 's/^Types: deb$/Types: deb deb-src/' "$f"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		grep -q '^deb-src ' "$f" || sed -n 's/^deb \(.*debian.*\)$/deb-src \1/p' "$f" >>"$f"
	done
	log "apt-get update"
	apt-get update -q >/dev/null
	have_src || die "the registry has no source packages frr=$FRR_VERSION and strongswan=$STRONGSWAN_VERSION"
fi

log "installing build dependencies of frr=$FRR_VERSION and strongswan=$STRONGSWAN_VERSION"
apt-get build-dep -y -q "frr=$FRR_VERSION" "strongswan=$STRONGSWAN_VERSION" >/dev/null

packages=(
	dpkg-dev autoconf automake libtool pkg-config make g++ clang
	libssl-dev libyang2-dev libyang2-tools
	libgtest-dev libgmock-dev libcmocka-dev libbenchmark-dev
	python3 python3-pytest python3-cryptography
	iproute2 iputils-ping nftables procps psmisc util-linux
	tshark gobgpd bird2 exabgp
	netconfd libyuma-dev yangcli python3-ncclient openssh-server
	qemu-system-x86 linux-image-amd64 busybox cpio kmod
)
log "installing ${#packages[@]} tool packages"
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get install -y -q --no-install-recommends "${packages[@]}" >/dev/null
log "dependencies installed"
