#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Builds every fuzz target with clang's libFuzzer and AddressSanitizer.
# usage: build-fuzzers.sh SRCDIR BUILDDIR OUTDIR "TARGETS" "CORE_SOURCES"
set -euo pipefail
srcdir=$1 builddir=$2 out=$3 targets=$4 sources=$5
cxx=${CLANGXX:-clang++}
command -v "$cxx" >/dev/null || { echo "fuzz: $cxx not found (apt-get install clang)" >&2; exit 1; }
flags=(-std=c++17 -g -O1 -fsanitize=fuzzer-no-link,address,undefined
	-I"$srcdir/lib" -I"$builddir" $CRYPTO_CFLAGS)
mkdir -p "$out/obj"
objs=()
for s in $sources; do
	o=$out/obj/$(echo "$s" | tr / _).o
	"$cxx" "${flags[@]}" -I"$srcdir/$(dirname "$s")" -c "$srcdir/$s" -o "$o"
	objs+=("$o")
done
for t in $targets; do
	"$cxx" "${flags[@]}" -fsanitize=fuzzer "$srcdir/tests/fuzz/$t.cc" "${objs[@]}" \
		$CRYPTO_LIBS -o "$out/$t"
	echo "fuzz: built $out/$t (run: $out/$t -max_total_time=60 $srcdir/tests/fuzz/corpus/$t)"
done
