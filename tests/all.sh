#!/bin/sh
# all.sh - every test suite, in order of speed, then one closing line
# `tests: N passed, M failed` that adds up the suites' own counts.
# Each suite still runs when an earlier one fails.
set -u
cd "$(dirname "$0")/.." || exit 2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
total_pass=0 total_fail=0 status=0

# suite NAME COMMAND...: run it, echo its output, add its counts.
suite() {
	name=$1
	shift
	echo "=== $name"
	t0=$(date +%s)
	"$@" 2>&1 | tee "$log"
	echo "($name: $(($(date +%s) - t0)) s)"
	counts=$(sed -n 's/^.*Tested: \([0-9]*\) | Passing: \([0-9]*\) | Failing: \([0-9]*\) | Crashing: \([0-9]*\).*$/\2 \3 \4/p;
		s/^[A-Za-z_-]*: \([0-9]*\) passed, \([0-9]*\) failed.*$/\1 \2 0/p' "$log" | tail -n 1)
	if [ -z "$counts" ]; then
		echo "$name: no result line"
		total_fail=$((total_fail + 1))
		status=1
		return
	fi
	set -- $counts
	total_pass=$((total_pass + $1))
	total_fail=$((total_fail + $2 + $3))
	[ $(($2 + $3)) -eq 0 ] || status=1
}

suite compiler build/tests/compiler_tests --jobs 2
suite runtime build/tests/runtime_tests --jobs 2
suite diagnostics sh tests/run.sh
suite generated sh tests/generated.sh
suite fusion sh tests/fusion.sh
suite gradcheck sh tests/gradcheck.sh
suite noise sh tests/noise.sh
suite cli sh tests/cli.sh
suite use sh tests/use.sh
suite precision sh tests/precision.sh
suite checkpoint sh tests/checkpoint.sh
suite loader sh tests/loader.sh
suite jit sh tests/jit.sh
suite export sh tests/export.sh
suite train sh tests/train.sh
suite mpi sh tests/mpi.sh
suite parity sh tests/parity.sh
suite sanitize sh tests/sanitize.sh
suite fuzz sh tests/fuzz/run.sh 30 2

echo "tests: $total_pass passed, $total_fail failed"
exit "$status"
