#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Judges a `make check` run from the automake results and prints each test
# program's own summary, then one closing line for all of them:
# "check: N passed, N failed, N skipped".
#
#   test-summary.sh OBJDIR STAMP TEST...
#
# TEST... are the TESTS of OBJDIR's Makefile (`make -s list-tests`), STAMP a
# file touched before the run began. The run passes only if every TEST has a
# result (.trs and .log) written after STAMP, that result is PASS (the exit
# status, as the automake driver recorded it, not what the program printed),
# and the program's own report shows at least one test, none failed and none
# skipped. Exit status: 0 the run passed, 1 it did not, 2 usage error.
set -u

if [ $# -lt 3 ]; then
	echo "usage: test-summary.sh OBJDIR STAMP TEST..." >&2
	exit 2
fi
objdir=$1 stamp=$2
shift 2
if [ ! -f "$stamp" ]; then
	echo "test-summary.sh: $stamp: no such file (touch it before the run)" >&2
	exit 2
fi

passed=0 failed=0 skipped=0
programs=0 programs_ok=0

# number N of "N WORD" in a pytest closing line, 0 if absent
pytest_count() {
	local n
	n=$(sed -nE "s/.*[ =]([0-9]+) $1[, ].*/\\1/p" <<<"$2")
	echo "${n:-0}"
}

echo
echo "==== test summaries"
for t in "$@"; do
	programs=$((programs + 1))
	trs=$objdir/$t.trs log=$objdir/$t.log
	status= summary= problem=
	r_pass= r_fail=0 r_skip=0
	if [ ! -f "$trs" ] || [ ! -f "$log" ]; then
		status=NONE
		problem="no result from this run: it did not build or did not run"
	elif [ "$stamp" -nt "$trs" ] || [ "$stamp" -nt "$log" ]; then
		status=STALE
		problem="the result is from an earlier run: this run did not build or did not run it"
	else
		results=$(sed -n 's/^:test-result: *//p' "$trs")
		status=$(sed -n 's/^:global-test-result: *//p' "$trs" | head -1)
		status=${status:-NONE}
		# the program's own closing lines: GoogleTest, CMocka, pytest, replay
		summary=$(grep -E '^\[  (PASSED|FAILED)  \]|^\[  SKIPPED \]|^=+ .* in [0-9.]+s.*=+$|^replay: ' "$log" | tr '\n' ' ')
		p_line=$(grep -E '^=+ .* in [0-9.]+s.*=+$' "$log" | tail -1)
		g_pass=$(sed -nE 's/^\[  PASSED  \] ([0-9]+) tests?.*/\1/p' "$log" | tail -1)
		g_fail=$(sed -nE 's/^\[  FAILED  \] ([0-9]+) tests?.*/\1/p' "$log" | tail -1)
		g_skip=$(sed -nE 's/^\[  SKIPPED \] ([0-9]+) tests?.*/\1/p' "$log" | tail -1)
		if [ -n "$p_line" ]; then
			r_pass=$(pytest_count passed "$p_line")
			r_fail=$(( $(pytest_count failed "$p_line") + $(pytest_count errors? "$p_line") ))
			r_skip=$(pytest_count skipped "$p_line")
		elif [ -n "$g_pass$g_fail$g_skip" ]; then
			r_pass=${g_pass:-0} r_fail=${g_fail:-0} r_skip=${g_skip:-0}
		fi
		if [ "$status" != PASS ] || [ -z "$results" ] || grep -qv '^PASS$' <<<"$results"; then
			problem="the automake driver recorded ${status}: see $log"
		elif [ "$r_fail" -gt 0 ]; then
			problem="exit status 0, but it reports $r_fail failed"
		elif [ "$r_skip" -gt 0 ]; then
			problem="$r_skip skipped: a skipped test tests nothing"
		elif [ "$r_pass" = 0 ]; then
			problem="it ran no test"
		fi
	fi
	[ -n "$problem" ] && [ "$status" = PASS ] && status=FAIL
	printf '%-6s %-44s %s\n' "$status" "$t" "$summary"
	if [ -z "$problem" ]; then
		programs_ok=$((programs_ok + 1))
		passed=$((passed + ${r_pass:-1}))
	else
		printf '       ^ %s\n' "$problem"
		# the program's own counts, and it is one failure at least
		passed=$((passed + ${r_pass:-0}))
		failed=$((failed + (r_fail > 0 ? r_fail : 1)))
		skipped=$((skipped + r_skip))
	fi
done
echo
echo "check: $passed passed, $failed failed, $skipped skipped ($programs_ok of $programs test programs passed)"
if [ "$programs_ok" -ne "$programs" ]; then
	echo "check: FAILED"
	exit 1
fi
exit 0
