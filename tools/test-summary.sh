#!/usr/bin/env bash
# Prints each test program's own summary from the automake logs, then one
# closing line for all of them: "check: N passed, N failed".
objdir=${1:?usage: test-summary.sh OBJDIR}
passed=0 failed=0 skipped=0
echo
echo "==== test summaries"
while IFS= read -r trs; do
	log=${trs%.trs}.log
	name=${trs#"$objdir"/}
	name=${name%.trs}
	result=$(sed -n 's/^:test-result: //p' "$trs" | head -1)
	# the program's own closing lines: GoogleTest, CMocka, pytest, replay
	summary=$(grep -E '^\[  (PASSED|FAILED|SKIPPED)  \]|^=+ .*(passed|failed|error).* =+$|^replay: ' "$log" | tr '\n' ' ')
	printf '%-6s %-44s %s\n' "$result" "$name" "$summary"
	# count the test cases each runner reports
	g_pass=$(sed -nE 's/^\[  PASSED  \] ([0-9]+) tests?.*/\1/p' "$log" | tail -1)
	g_fail=$(sed -nE 's/^\[  FAILED  \] ([0-9]+) tests?.*/\1/p' "$log" | tail -1)
	p_line=$(grep -E '^=+ .* in [0-9.]+s.*=+$' "$log" | tail -1)
	if [ -n "$p_line" ]; then
		p_pass=$(echo "$p_line" | sed -nE 's/.* ([0-9]+) passed.*/\1/p')
		p_fail=$(echo "$p_line" | sed -nE 's/.* ([0-9]+) (failed|error).*/\1/p')
		p_skip=$(echo "$p_line" | sed -nE 's/.* ([0-9]+) skipped.*/\1/p')
		passed=$((passed + ${p_pass:-0}))
		failed=$((failed + ${p_fail:-0}))
		skipped=$((skipped + ${p_skip:-0}))
	elif [ -n "$g_pass$g_fail" ]; then
		passed=$((passed + ${g_pass:-0}))
		failed=$((failed + ${g_fail:-0}))
	else
		case $result in
		PASS) passed=$((passed + 1)) ;;
		SKIP) skipped=$((skipped + 1)) ;;
		*) failed=$((failed + 1)) ;;
		esac
	fi
done < <(find "$objdir/tests" -name '*.trs' | sort)
echo
echo "check: $passed passed, $failed failed, $skipped skipped"
