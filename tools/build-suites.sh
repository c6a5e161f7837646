#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Fetch FRR and strongSwan from Debian's source packages (pinned), apply
# Debian's patch series, then ours (tools/patches/SRCPKG/*.patch, each with
# its reason at the top), and build both into a prefix inside the build tree.
# The prefix is cached by version and patch set: a finished prefix is never
# rebuilt unless our patches change.
#
# usage: tools/build-suites.sh BUILDDIR
# prints the variables the top-level configure needs (KEY=VALUE) on success.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.sh"

builddir=${1:?usage: build-suites.sh BUILDDIR}
mkdir -p "$builddir"
builddir=$(cd "$builddir" && pwd)
jobs=${GROUPSEC_JOBS:-$(nproc)}

log() { printf 'groupsec: %s\n' "$*" >&2; }
die() { printf 'groupsec: error: %s\n' "$*" >&2; exit 1; }

fetch() { # fetch SRCPKG VERSION DIR
	local pkg=$1 ver=$2 dir=$3 upstream=${2%%-*}
	if [ -d "$dir/$pkg-$upstream" ]; then
		return 0
	fi
	if ! apt-cache showsrc "$pkg" 2>/dev/null | grep -x "Version: $ver" >/dev/null; then
		die "the registry has no source package $pkg=$ver (apt-get update, and a deb-src line for bookworm, are needed: run tools/install-deps.sh)"
	fi
	log "fetching source package $pkg=$ver"
	rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
	# dpkg-source applies Debian's patch series while unpacking
	(cd "$dir.tmp" && apt-get source -q "$pkg=$ver" >"$dir.tmp/fetch.log" 2>&1) ||
		{ cat "$dir.tmp/fetch.log" >&2; die "apt-get source $pkg=$ver failed"; }
	grep -q 'dpkg-source: info: applying' "$dir.tmp/fetch.log" ||
		die "$pkg: Debian's patch series was not applied"
	rm -rf "$dir" && mv "$dir.tmp" "$dir"
}

# patches_id SRCPKG: names and content hash of tools/patches/SRCPKG/*.patch
patches_id() {
	local d=$here/patches/$1
	if compgen -G "$d/*.patch" >/dev/null; then
		cat "$d"/*.patch | sha256sum | cut -c1-16
	else
		echo none
	fi
}

# apply_patches SRCPKG SRCDIR: our own changes on top of Debian's, in order
apply_patches() {
	local p
	for p in "$here/patches/$1"/*.patch; do
		[ -e "$p" ] || continue
		log "$1: applying $(basename "$p")"
		patch -d "$2" -p1 --forward --quiet <"$p" >&2 ||
			die "$1: patch $(basename "$p") does not apply"
	done
}

# build TITLE SRCPKG VERSION CONFIGURE_ARGS...: fetch, configure, make and
# install one suite into build/suites/SRCPKG-VERSION/prefix, unless done.
# "@prefix@" in an argument stands for that prefix.
build() {
	local title=$1 pkg=$2 ver=$3
	shift 3
	local top=$builddir/suites/$pkg-$ver
	local prefix=$top/prefix src=$top/src/$pkg-${ver%%-*}
	local patches
	patches=$(patches_id "$pkg")
	if [ -f "$top/.done" ] && [ "$(cat "$top/.done")" = "$patches" ] ||
		{ [ -f "$top/.done" ] && [ ! -s "$top/.done" ] && [ "$patches" = none ]; }; then
		log "$title $ver: cached in $prefix"
		return 0
	fi
	if [ -e "$top/.done" ] || [ -e "$top/.patched" ]; then
		# built or patched with another patch set: start from clean sources
		rm -rf "$top/src" "$prefix" "$top/.done" "$top/.patched"
	fi
	fetch "$pkg" "$ver" "$top/src"
	if [ ! -e "$top/.patched" ]; then
		apply_patches "$pkg" "$src"
		echo "$patches" >"$top/.patched"
	fi
	log "building $title $ver into $prefix (log: $top/build.log)"
	(
		cd "$src"
		[ -x configure ] || ./bootstrap.sh
		./configure "${@//@prefix@/$prefix}"
		make -j"$jobs"
		make install
	) >"$top/build.log" 2>&1 || { tail -40 "$top/build.log" >&2; die "$title build failed (see $top/build.log)"; }
	echo "$patches" >"$top/.done"
}

build strongSwan strongswan "$STRONGSWAN_VERSION" \
	--prefix=@prefix@ --sysconfdir=@prefix@/etc \
	--with-piddir=@prefix@/var/run \
	--disable-static --enable-openssl --enable-kdf \
	--enable-kernel-libipsec --enable-load-tester \
	--enable-vici --enable-swanctl --enable-updown \
	--disable-gmp --disable-ikev1 --disable-stroke \
	--disable-scepclient --disable-pki

build FRR frr "$FRR_VERSION" \
	--prefix=@prefix@ --sysconfdir=@prefix@/etc/frr \
	--localstatedir=@prefix@/var/run/frr \
	--sbindir=@prefix@/lib/frr \
	--with-moduledir=@prefix@/lib/frr/modules \
	--enable-user=root --enable-group=root --enable-vty-group=root \
	--disable-static --enable-multipath=64 --disable-doc --disable-snmp \
	--disable-rpki --disable-scripting --disable-grpc \
	--disable-protobuf --disable-zeromq --disable-bgp-vnc \
	--disable-ripd --disable-ripngd --disable-ospfd --disable-ospf6d \
	--disable-ldpd --disable-nhrpd --disable-eigrpd --disable-babeld \
	--disable-isisd --disable-fabricd --disable-pimd --disable-pim6d \
	--disable-pbrd --disable-vrrpd --disable-pathd --disable-bfdd \
	--disable-sharpd

echo "FRR_SRC=$builddir/suites/frr-$FRR_VERSION/src/frr-${FRR_VERSION%%-*}"
echo "FRR_PREFIX=$builddir/suites/frr-$FRR_VERSION/prefix"
echo "STRONGSWAN_SRC=$builddir/suites/strongswan-$STRONGSWAN_VERSION/src/strongswan-${STRONGSWAN_VERSION%%-*}"
echo "STRONGSWAN_PREFIX=$builddir/suites/strongswan-$STRONGSWAN_VERSION/prefix"
