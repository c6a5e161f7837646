#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Tests tools/check-layering.py: the real tree passes; crafted trees with
# one planted violation each (a plugin including another plugin's file by
# path, by a relative path or by a bare name reached through -I; lib/
# including a plugin file; a core including a strongSwan or FRR header)
# fail naming the file and line; the same trees without the violation
# pass.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
check="${PYTHON:-python3} $top/tools/check-layering.py"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0 cases=0

fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

# a small clean tree: two plugins with core and glue, and lib
clean_tree() {
	local t=$1
	rm -rf "$t"
	mkdir -p "$t/a-plugin/core" "$t/b-plugin/core" "$t/lib/groupsec/base"
	printf '#pragma once\n' >"$t/lib/groupsec/base/bytes.h"
	printf '#pragma once\n' >"$t/a-plugin/core/a_core.h"
	printf '#pragma once\n' >"$t/b-plugin/core/b_only.h"
	printf '#include "a_core.h"\n#include "groupsec/base/bytes.h"\n#include <string>\n' >"$t/a-plugin/core/a_core.cc"
	printf '#include <library.h>\n#include "a_core.h"\n' >"$t/a-plugin/a_plugin.c"
	printf '#include "zebra.h"\n#include "bgpd/bgpd.h"\n#include "b_only.h"\n' >"$t/b-plugin/b_glue.c"
	printf '#include "b_only.h"\n#include "groupsec/base/bytes.h"\n' >"$t/b-plugin/core/b_core.cc"
}

# expect_fail NAME FILE LINE TEXT: plant TEXT as line LINE+ of FILE in a
# clean tree; the check must fail and name FILE:LINE
expect_fail() {
	local name=$1 file=$2 line=$3 text=$4
	local t=$work/$name out
	cases=$((cases + 1))
	clean_tree "$t"
	printf '%s\n' "$text" >>"$t/$file"
	out=$($check "$t" 2>&1)
	local rc=$?
	[ $rc -eq 1 ] || fail "$name: exit status $rc, not 1: $out"
	printf '%s\n' "$out" | grep -q "^$file:$line: " || fail "$name: no report of $file:$line in: $out"
	printf '%s\n' "$out" | grep -q "1 violation" || fail "$name: not exactly one violation: $out"
}

# the real tree
cases=$((cases + 1))
out=$($check "$top" 2>&1) || fail "the source tree has layering violations: $out"

# a clean crafted tree passes (suite headers in glue, not in cores)
cases=$((cases + 1))
clean_tree "$work/clean"
out=$($check "$work/clean" 2>&1) || fail "clean tree: $out"

expect_fail by-path a-plugin/core/a_core.cc 4 '#include "b-plugin/core/b_only.h"'
expect_fail by-relative-path a-plugin/a_plugin.c 3 '#include "../b-plugin/core/b_only.h"'
expect_fail by-bare-name a-plugin/core/a_core.cc 4 '#include "b_only.h"'
expect_fail glue-by-bare-name a-plugin/a_plugin.c 3 '#  include "b_only.h"'
expect_fail lib-includes-plugin lib/groupsec/base/bytes.h 2 '#include "a_core.h"'
expect_fail core-strongswan a-plugin/core/a_core.cc 4 '#include <library.h>'
expect_fail core-strongswan-utils a-plugin/core/a_core.h 2 '#include "utils/debug.h"'
expect_fail core-strongswan-daemon b-plugin/core/b_core.cc 3 '#include <daemon.h>'
expect_fail core-frr b-plugin/core/b_core.cc 3 '#include "zebra.h"'
expect_fail core-frr-lib b-plugin/core/b_core.cc 3 '#include "lib/vty.h"'
expect_fail core-frr-bgpd b-plugin/core/b_only.h 2 '#include "bgpd/bgp_route.h"'
expect_fail lib-frr lib/groupsec/base/bytes.h 2 '#include <zebra.h>'

if [ "$failures" -gt 0 ]; then
	echo "check-layering-test: $failures of $cases cases failed"
	exit 1
fi
echo "check-layering-test: $cases cases passed"
