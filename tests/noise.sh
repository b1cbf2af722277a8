#!/bin/sh
# noise.sh - the random parts of the generated code with the noise on
# (tests/gradcheck/noise_check.c), in f64:
#   - every model tests/gradcheck/vae*.ae and noise*.ae with a line
#     `# expect: MEAN SQUARE TOL` is a statistics model: its noise, drawn
#     over a whole batch, must have that mean and mean square;
#   - every other such model is gradient-checked with the noise on, and its
#     noise must change the loss, depend on the state's noise key and be
#     the same when drawn again.
# Prints one line per model and `noise: N passed, M failed`.
set -u
AECC=${AECC:-build/bin/aecc}
CC=${CC:-cc}
TOL=${TOL:-1e-6}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pass=0 fail=0
for ae in tests/gradcheck/vae*.ae tests/gradcheck/noise*.ae; do
	[ -e "$ae" ] || continue
	name=$(sed -n 's/^model[ \t]*\([A-Za-z_0-9]*\).*/\1/p' "$ae" | head -n 1)
	expect=$(sed -n 's/^# expect: //p' "$ae")
	dir=$work/$name
	upper=$(echo "$name" | tr a-z A-Z)
	if [ -n "$expect" ]; then
		set -- stats $expect
	else
		set -- grad "$TOL"
	fi
	if "$AECC" emit --dtype f64 "$ae" -o "$dir" &&
		$CC -std=c99 -O2 -DMODEL="$name" -DMODEL_UPPER="$upper" -I"$dir" \
			tests/gradcheck/noise_check.c "$dir/$name.c" -lm -o "$dir/check" &&
		"$dir/check" "$@" >"$dir/out"; then
		pass=$((pass + 1))
		if [ "$1" = grad ]; then head -n 1 "$dir/out"; fi
		tail -n 1 "$dir/out"
	else
		fail=$((fail + 1))
		cat "$dir/out" 2>/dev/null
		echo "FAIL: $ae"
	fi
done
echo "noise: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
