#!/bin/sh
# gradcheck.sh - finite-difference gradient check, in f64, of every model in
# tests/gradcheck/*.ae (one per group of ops) and examples/*.ae.
# A model may set its own tolerance with a line `# gradcheck-tolerance: X`
# and the reason. Prints one line per model and a closing
# `gradcheck: N passed, M failed`.
set -u
AECC=${AECC:-build/bin/aecc}
CC=${CC:-cc}
TOL=${TOL:-1e-6}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pass=0 fail=0
for ae in tests/gradcheck/*.ae examples/*.ae; do
	name=$(sed -n 's/^model[ \t]*\([A-Za-z_0-9]*\).*/\1/p' "$ae" | head -n 1)
	dir=$work/$name
	upper=$(echo "$name" | tr a-z A-Z)
	if "$AECC" emit --dtype f64 "$ae" -o "$dir" &&
		$CC -std=c99 -O1 -march=native -DMODEL="$name" -DMODEL_UPPER="$upper" -I"$dir" \
			tests/gradcheck/gradcheck.c "$dir/$name.c" -lm -o "$dir/check" &&
		"$dir/check" "$(sed -n 's/^# gradcheck-tolerance: \([0-9.e+-]*\).*/\1/p' "$ae" | head -n 1 | grep . || echo "$TOL")" >"$dir/out"; then
		pass=$((pass + 1))
		tail -n 1 "$dir/out"
	else
		fail=$((fail + 1))
		cat "$dir/out" 2>/dev/null
		echo "FAIL: $ae"
	fi
done
echo "gradcheck: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
