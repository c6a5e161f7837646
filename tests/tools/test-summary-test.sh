#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Tests tools/test-summary.sh, the judge of `make check`, on crafted result
# trees (automake .log/.trs files): a good run passes with the right counts;
# a stale result, a program that printed PASSED but exited 1, a missing
# program, a skipped lab, reported failures with exit status 0 and a
# program that ran no test each fail the run.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
summary=${TEST_SUMMARY:-$top/tools/test-summary.sh}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0 cases=0

# result OBJDIR NAME STATUS EXIT TEXT: the files the automake driver leaves
result() {
	local objdir=$1 name=$2 status=$3 rc=$4 text=$5
	mkdir -p "$(dirname "$objdir/$name")"
	printf '%s\n%s %s (exit status: %s)\n' "$text" "$status" "$name" "$rc" >"$objdir/$name.log"
	printf ':test-result: %s\n:global-test-result: %s\n:recheck: no\n:copy-in-global-log: no\n' \
		"$status" "$status" >"$objdir/$name.trs"
}

GTEST_OK='[==========] 5 tests from 2 test suites ran. (3 ms total)
[  PASSED  ] 5 tests.'
CMOCKA_OK='[==========] 2 test(s) run.
[  PASSED  ] 2 test(s).'
PYTEST_OK='tests/lab/test_x.py::test_one PASSED [100%]

============================== 3 passed in 12.50s =============================='
REPLAY_OK='replay: 6 corpus inputs and 20000 generated inputs, no crash'
GOOD_TESTS="tests/unit/core_test tests/unit/glue_test tests/lab/run-lab-tests.sh tests/fuzz/fuzz_x"

# a tree of a good run of the four programs above, begun after its stamp
good_tree() {
	local objdir=$1
	mkdir -p "$objdir"
	touch -d '1 minute ago' "$objdir/stamp"
	result "$objdir" tests/unit/core_test PASS 0 "$GTEST_OK"
	result "$objdir" tests/unit/glue_test PASS 0 "$CMOCKA_OK"
	result "$objdir" tests/lab/run-lab-tests.sh PASS 0 "$PYTEST_OK"
	result "$objdir" tests/fuzz/fuzz_x PASS 0 "$REPLAY_OK"
}

# check NAME WANT_RC PATTERN OBJDIR TEST...: the summary exits WANT_RC and
# prints a line matching PATTERN (extended regex)
check() {
	local name=$1 want=$2 pattern=$3 objdir=$4
	shift 4
	local out rc
	cases=$((cases + 1))
	out=$("$summary" "$objdir" "$objdir/stamp" "$@" 2>&1)
	rc=$?
	if [ "$rc" != "$want" ] || ! grep -qE -- "$pattern" <<<"$out"; then
		failures=$((failures + 1))
		echo "FAIL: $name: exit status $rc (want $want), output should match /$pattern/:"
		sed 's/^/    /' <<<"$out"
	else
		echo "ok: $name"
	fi
}

t=$work/good
good_tree "$t"
check "a good run passes with every program's count" 0 \
	'^check: 11 passed, 0 failed, 0 skipped( |$)' "$t" $GOOD_TESTS

t=$work/stale
good_tree "$t"
touch -d '1 hour ago' "$t/tests/unit/glue_test.log" "$t/tests/unit/glue_test.trs"
check "a result older than the run fails it" 1 '^STALE +tests/unit/glue_test' "$t" $GOOD_TESTS

t=$work/stale-log
good_tree "$t"
touch -d '1 hour ago' "$t/tests/unit/core_test.log"
check "a log older than the run fails it" 1 '^STALE +tests/unit/core_test' "$t" $GOOD_TESTS

t=$work/exit1
good_tree "$t"
result "$t" tests/unit/core_test FAIL 1 "$GTEST_OK"
check "PASSED printed but exit status 1 fails the run" 1 '^FAIL +tests/unit/core_test' "$t" $GOOD_TESTS

t=$work/missing
good_tree "$t"
check "a program without a result fails the run" 1 '^NONE +tests/unit/gone_test' "$t" $GOOD_TESTS tests/unit/gone_test
check "the closing line counts the programs" 1 '\(4 of 5 test programs passed\)$' "$t" $GOOD_TESTS tests/unit/gone_test

t=$work/no-trs
good_tree "$t"
rm "$t/tests/fuzz/fuzz_x.trs"
check "a log without its .trs fails the run" 1 '^NONE +tests/fuzz/fuzz_x' "$t" $GOOD_TESTS

t=$work/skipped
good_tree "$t"
result "$t" tests/lab/run-lab-tests.sh PASS 0 \
	'============================= 24 skipped in 0.05s =============================='
check "a skipped lab fails the run" 1 '24 skipped' "$t" $GOOD_TESTS

t=$work/failed-exit0
good_tree "$t"
result "$t" tests/unit/core_test PASS 0 '[  PASSED  ] 4 tests.
[  FAILED  ] 1 test, listed below:'
check "reported failures with exit status 0 fail the run" 1 '^FAIL +tests/unit/core_test' "$t" $GOOD_TESTS

t=$work/pytest-failed
good_tree "$t"
result "$t" tests/lab/run-lab-tests.sh FAIL 1 \
	'=================== 1 failed, 20 passed, 2 errors in 80.00s (0:01:20) ==================='
check "pytest failures and errors are counted" 1 '^check: 28 passed, 3 failed, 0 skipped' "$t" $GOOD_TESTS

t=$work/no-tests
good_tree "$t"
result "$t" tests/unit/core_test PASS 0 '[==========] 0 tests from 0 test suites ran. (0 ms total)
[  PASSED  ] 0 tests.'
check "a program that ran no test fails the run" 1 'ran no test' "$t" $GOOD_TESTS

t=$work/usage
good_tree "$t"
check "no expected program is a usage error" 2 'usage' "$t"

echo "test-summary-test: $((cases - failures)) of $cases cases passed"
[ "$failures" -eq 0 ]
