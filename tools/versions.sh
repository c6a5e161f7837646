# SPDX-License-Identifier: GPL-2.0-or-later
# The suite versions groupsec builds against: the ones Debian 12 ships.
FRR_VERSION=8.4.4-1.1~deb12u2
STRONGSWAN_VERSION=5.9.8-5+deb12u5
