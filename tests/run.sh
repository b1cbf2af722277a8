#!/bin/sh
# run.sh - golden tests of the aecc command line.
#
# For every DIR/NAME.ae of a golden error directory, `aecc check` must exit
# with status 1 and print exactly DIR/NAME.err on stderr. Each directory
# prints one line, "NAME: N passed, M failed"; the script exits 1 if any
# case failed.
#
# Usage: sh tests/run.sh        (from anywhere; paths are relative to the
#                                repository root, as in the .err files)
# AECC names the compiler to test (default build/bin/aecc).

cd "$(dirname "$0")/.." || exit 2
AECC=${AECC:-build/bin/aecc}

if [ ! -x "$AECC" ]; then
	echo "run.sh: $AECC not found (run make first, or set AECC)" >&2
	exit 2
fi

tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 2' INT TERM

status=0

# check_errors DIR: run `aecc check` on each DIR/*.ae and compare its stderr
# with the .err file beside it.
check_errors() {
	dir=$1
	passed=0
	failed=0
	for ae in "$dir"/*.ae; do
		[ -e "$ae" ] || continue
		err=${ae%.ae}.err
		"$AECC" check "$ae" >/dev/null 2>"$tmp/stderr"
		code=$?
		if [ "$code" -ne 1 ]; then
			echo "FAIL $ae: exit status $code, expected 1"
			failed=$((failed + 1))
		elif ! diff -u "$err" "$tmp/stderr"; then
			echo "FAIL $ae: stderr differs from $err"
			failed=$((failed + 1))
		else
			passed=$((passed + 1))
		fi
	done
	echo "${dir##*/}: $passed passed, $failed failed"
	[ "$failed" -eq 0 ] || status=1
}

check_errors tests/diag

exit "$status"
