#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Rebuild FRR's vtysh so that it knows the CLI of groupsec's bgpd module.
#
# vtysh learns daemon commands at build time: FRR's vtysh/extract.pl scans the
# daemons' sources for DEFUN/DEFPY and writes vtysh/vtysh_cmd.c. This script
# runs that same extractor over FRR's own list plus our module's sources and
# relinks and installs vtysh. A command's daemon is taken from the folder it
# sits in, so the module's sources are scanned through a `bgpd/` folder of
# links.
#
# The module's own node (`crypto gdoi group NAME`) is not one vtysh knows:
# NODE_C (vtysh/gsa_vtysh.c, after the node number in NODE_H) is appended to
# the generated file and installed first from vtysh_init_cmd().
#
# usage: rebuild-vtysh.sh FRR_SRC SCANDIR NODE_H NODE_C MODULE_SOURCE...
set -euo pipefail
frr_src=$1 scan=$2
node_h=$(cd "$(dirname "$3")" && pwd)/$(basename "$3")
node_c=$(cd "$(dirname "$4")" && pwd)/$(basename "$4")
shift 4
mkdir -p "$scan/bgpd"
scanned=()
for f in "$@"; do
	ln -sf "$(cd "$(dirname "$f")" && pwd)/$(basename "$f")" "$scan/bgpd/$(basename "$f")"
	scanned+=("$scan/bgpd/$(basename "$f")")
done
cd "$frr_src"
frr_scan=$(printf 'print-vtysh-scan:\n\t@echo $(vtysh_scan)\n' |
	make -s --no-print-directory -f Makefile -f - print-vtysh-scan)
[ -n "$frr_scan" ] || { echo "rebuild-vtysh: cannot read vtysh_scan from $frr_src/Makefile" >&2; exit 1; }
# shellcheck disable=SC2086
{
	# the extractor's includes, then the node, then the commands
	vtysh/extract.pl $frr_scan "${scanned[@]}" >vtysh/vtysh_cmd.c.ext
	sed -n '1,/^#include "vtysh\/vtysh.h"/p' vtysh/vtysh_cmd.c.ext
	cat "$node_h" "$node_c"
	sed -e '1,/^#include "vtysh\/vtysh.h"/d' \
		-e 's/^void vtysh_init_cmd(void)$/static void vtysh_init_cmd_extracted(void);\n&\n{\n  gsa_vtysh_init();\n  vtysh_init_cmd_extracted();\n}\nstatic void vtysh_init_cmd_extracted(void)/' \
		vtysh/vtysh_cmd.c.ext
} >vtysh/vtysh_cmd.c.new
rm vtysh/vtysh_cmd.c.ext
grep -q '^  gsa_vtysh_init();' vtysh/vtysh_cmd.c.new || { echo "rebuild-vtysh: cannot hook vtysh_init_cmd()" >&2; exit 1; }
for f in "${scanned[@]}"; do
	n=$(grep -c "$(basename "$f" .c)" vtysh/vtysh_cmd.c.new || true)
	[ "$n" -gt 0 ] || { echo "rebuild-vtysh: no command of $f reached vtysh" >&2; exit 1; }
done
if cmp -s vtysh/vtysh_cmd.c.new vtysh/vtysh_cmd.c; then
	rm vtysh/vtysh_cmd.c.new
else
	mv vtysh/vtysh_cmd.c.new vtysh/vtysh_cmd.c
fi
make -s --no-print-directory vtysh/vtysh >/dev/null
make -s --no-print-directory install-binPROGRAMS >/dev/null
echo "rebuild-vtysh: vtysh knows $(grep -c '^DEFSH' vtysh/vtysh_cmd.c) daemon commands, including the GSA module's"
