#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Second stage of a lab guest's boot (see guest.py, docs/lab.md): the
# initramfs has mounted the host's root read-only over 9p and switched to
# it; this script, run with the host's /bin/sh, gives the guest its own
# writable /run, /var and /tmp, mounts the lab folder (read-write, where the
# host writes configurations and the daemons their logs), sets up the
# router's addresses and starts the command agent.
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH

arg() { sed -n "s/.*groupsec\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
fail() { echo "guest-init: $*" >&2; echo o >/proc/sysrq-trigger; sleep 10; }

mount -t proc proc /proc
mount -t sysfs sys /sys
mountpoint -q /dev || mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs shm /dev/shm
# the host's /tmp stays reachable under /mnt: a tree that lives there (a
# clone in /tmp) is bound back to its own path over the guest's own /tmp
mount --bind /tmp /mnt || fail "binding the host's /tmp to /mnt"
for d in /run /var /tmp; do mount -t tmpfs -o mode=0755 tmpfs "$d" || fail "tmpfs on $d"; done
chmod 1777 /tmp
mkdir -p /var/tmp /var/log /var/lib /var/cache /run/lock
chmod 1777 /var/tmp
ln -s /run /var/run
ln -s /run/lock /var/lock

LAB=$(arg lab)
ROUTER=$(arg router)
case "$LAB" in
/tmp/*)
	top=${LAB#/tmp/}
	top=/tmp/${top%%/*}
	mkdir -p "$top"
	mount --bind "/mnt/${top#/tmp/}" "$top" || fail "binding the host's $top"
	;;
esac
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=none lab "$LAB" || fail "9p lab folder $LAB"
. "$LAB/$ROUTER/guest.env" || fail "no $LAB/$ROUTER/guest.env"

# the suites' run directories are the router's own, as in a namespace router
mount -t tmpfs -o mode=0755 tmpfs "$RDIR/run" || fail "tmpfs on $RDIR/run"
mkdir -p "$RDIR/run/frr" "$RDIR/run/strongswan"
chmod 0777 "$RDIR/run/frr"
mount --bind "$RDIR/run/frr" "$FRR_PREFIX/var/run/frr"
mount --bind "$RDIR/run/strongswan" "$SS_PREFIX/var/run"

hostname "$HOSTNAME"
modprobe virtio_net
ip link set lo up
ip addr add "$ADDR/24" dev eth0
ip link set eth0 up
ip addr add "$LAN" dev lo
echo "guest-init: $HOSTNAME up ($(uname -r))" >/dev/console

/usr/bin/python3 "$AGENT" groupsec.agent >"$RDIR/agent.out" 2>&1 &
/usr/bin/python3 "$AGENT" groupsec.login >/dev/null 2>&1 &
# the first process: collects orphans until the host powers the guest off
while :; do wait; sleep 1; done
