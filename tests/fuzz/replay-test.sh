#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Tests the replay driver of the fuzz targets (replay_main.cc) through one
# target built with it, both ways `make check` builds it (the regular
# compiler, and clang with ASan and UBSan): a missing or empty corpus
# folder, an input that cannot be read or no seed at all fail the replay; a
# corpus with inputs passes. Runs from the build tree (make check), where
# the targets are built.
set -u

targets=${REPLAY_TARGETS:-tests/fuzz/fuzz_key_tree fuzz-replay/fuzz_key_tree.san}
for target in $targets; do
	if [ ! -x "$target" ]; then
		echo "replay-test: $target: not built" >&2
		exit 99
	fi
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0 cases=0
export GROUPSEC_REPLAY_RUNS=50

# check WHAT WANT_RC PATTERN COMMAND...: COMMAND exits WANT_RC and prints a
# line matching PATTERN (extended regex)
check() {
	local what=$1 want=$2 pattern=$3
	shift 3
	local out rc
	cases=$((cases + 1))
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" != "$want" ] || ! grep -qE -- "$pattern" <<<"$out"; then
		failures=$((failures + 1))
		echo "FAIL: $what: exit status $rc (want $want), output should match /$pattern/:"
		sed 's/^/    /' <<<"$out"
	else
		echo "ok: $what"
	fi
}

for target in $targets; do
	name=$(basename "$target" .san)
	echo "# $target"
	rm -rf "${work:?}"/*
	mkdir -p "$work/none" "$work/empty/$name" "$work/good/$name" "$work/hidden/$name"
	printf 'seed' >"$work/good/$name/a"
	printf '' >"$work/good/$name/b"
	printf 'x' >"$work/hidden/$name/.only-a-dot-file"

	check "a corpus root without the target's folder fails" 2 "$name: no seed corpus folder" \
		env GROUPSEC_FUZZ_CORPUS="$work/none" "$target"
	check "an empty corpus folder fails" 2 "$name: no input in this folder" \
		env GROUPSEC_FUZZ_CORPUS="$work/empty" "$target"
	check "a folder with only hidden files fails" 2 "no input in this folder" \
		env GROUPSEC_FUZZ_CORPUS="$work/hidden" "$target"
	check "no seed at all fails" 2 "no seed input" \
		env -u GROUPSEC_FUZZ_CORPUS "$target"
	check "an empty folder named on the command line fails" 2 "no input in this folder" \
		env -u GROUPSEC_FUZZ_CORPUS "$target" "$work/empty/$name"
	check "a missing file named on the command line fails" 2 "not found" \
		env -u GROUPSEC_FUZZ_CORPUS "$target" "$work/good/$name/missing"
	# reading a process's own memory at offset 0 fails with EIO, even as root
	check "an input that cannot be read fails" 2 "/proc/self/mem: cannot read" \
		env -u GROUPSEC_FUZZ_CORPUS "$target" /proc/self/mem
	check "a corpus with inputs is replayed" 0 "^replay: 2 corpus inputs and 50 generated inputs, no crash$" \
		env GROUPSEC_FUZZ_CORPUS="$work/good" "$target"
	check "inputs named on the command line are replayed" 0 "^replay: 3 corpus inputs" \
		env -u GROUPSEC_FUZZ_CORPUS "$target" "$work/good/$name" "$work/good/$name/a"

done
# the sanitizer replay is built with both sanitizers, and needs clang++:
# every step of its build (and of `make fuzz`) starts with fuzz-clang
san=$(for t in $targets; do case $t in *.san) echo "$t" ;; esac; done | head -1)
if [ -n "$san" ]; then
	check "the sanitizer replay carries ASan and UBSan" 0 "asan.*ubsan" \
		bash -c "nm '$san' | grep -q __asan_init && nm '$san' | grep -q __ubsan_handle && echo asan ubsan"
	check "the sanitizer build fails without clang++" 2 "clang\+\+ not found" \
		env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory CLANGXX= fuzz-clang
	check "the sanitizer build passes its clang++ check with clang++" 0 "^$" \
		env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory fuzz-clang
	# automake names its results fuzz-replay/NAME.log: the summary of
	# `make check` looks for them under the names list-tests gives
	check "list-tests names the sanitizer replay as its results are named" 0 "^${san%.san}$" \
		env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory list-tests
fi
echo "replay-test: $((cases - failures)) of $cases cases passed"
[ "$failures" -eq 0 ]
