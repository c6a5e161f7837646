#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs libFuzzer targets one after the other, each for a fixed number of
# executions, and prints what each reached.
#
#   run-fuzzers.sh CORPUS_ROOT OUTDIR RUNS MAX_TIME TARGET...
#
# OUTDIR/TARGET is the libFuzzer program (`make fuzz-build`). Each run starts
# from the seed corpus CORPUS_ROOT/TARGET (read only) and the working corpus
# OUTDIR/corpus/TARGET (kept between runs, new inputs go there); libFuzzer's
# -runs=RUNS stops it, MAX_TIME seconds (0: no limit) too. A finding lands
# in OUTDIR/findings/ as TARGET-crash-..., leak-... or timeout-...; add it to
# the seed corpus once fixed. OUTDIR/fuzz-summary.txt collects one line per
# run: TARGET, executions, wall seconds, executions per wall second, CPU
# seconds, executions per CPU second, result.
# Exit status: 0 no finding, 1 a finding or a run that failed, 2 usage.
set -u
if [ $# -lt 5 ]; then
	echo "usage: run-fuzzers.sh CORPUS_ROOT OUTDIR RUNS MAX_TIME TARGET..." >&2
	exit 2
fi
seeds=$1 out=$2 runs=$3 max_time=$4
shift 4
mkdir -p "$out/findings" "$out/logs"
summary=$out/fuzz-summary.txt
status=0
for t in "$@"; do
	prog=$out/$t
	if [ ! -x "$prog" ]; then
		echo "fuzz: $prog: not built (make fuzz-build)" >&2
		exit 2
	fi
	if [ ! -d "$seeds/$t" ]; then
		echo "fuzz: $seeds/$t: no seed corpus folder for this target" >&2
		exit 2
	fi
	mkdir -p "$out/corpus/$t"
	log=$out/logs/$t.log
	start=$(date +%s.%N)
	# the CPU seconds the run had (user + system), through a subshell's
	# `times`: on a shared machine a niced run gets a small share
	cpu=$(
		"$prog" -runs="$runs" -max_total_time="$max_time" -print_final_stats=1 \
			-artifact_prefix="$out/findings/$t-" "$out/corpus/$t" "$seeds/$t" >"$log" 2>&1
		echo "rc=$?" >"$log.rc"
		times
	)
	cpu=$(awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); c += a[1] * 60 + a[2] } printf "%.1f", c }' <<<"$cpu")
	rc=$(sed -n 's/^rc=//p' "$log.rc")
	rm -f "$log.rc"
	end=$(date +%s.%N)
	execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -1)
	secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.0f", b - a }')
	rate=$(awk -v n="${execs:-0}" -v s="$secs" 'BEGIN { printf "%.0f", (s > 0 ? n / s : n) }')
	cpu_rate=$(awk -v n="${execs:-0}" -v s="${cpu:-0}" 'BEGIN { printf "%.0f", (s > 0 ? n / s : n) }')
	artifact=$(sed -nE 's/.*Test unit written to (.*)$/\1/p' "$log" | tail -1)
	if [ "$rc" -eq 0 ]; then
		result="no finding"
	elif [ -n "$artifact" ]; then
		result="FINDING $artifact"
		status=1
	else
		result="FAILED (exit status $rc, see $log)"
		status=1
	fi
	line=$(printf '%-22s %12s %7s s %8s exec/s %7s CPU s %8s exec/CPU s  %s' "$t" "${execs:-?}" "$secs" \
		"$rate" "${cpu:-?}" "$cpu_rate" "$result")
	echo "fuzz: $line"
	echo "$(date -u +%FT%TZ) runs=$runs $line" >>"$summary"
done
exit $status
