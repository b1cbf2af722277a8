#!/bin/sh
# fusion.sh - fused code against unfused code (aecc --no-fuse), and one
# thread against two: for every example and every model of tests/parity/,
# the losses of a few train steps, the whole state after them, the output
# of NAME_forward and NAME_encode, NAME_loss and NAME_gradient must be the
# same bit for bit
# (tests/fusion/fusion.c). Fusion only moves arithmetic while the data is
# in the cache; threads split the work, never a sum. In f32, where the
# vector kernels are. And each rewrite must show in `aecc graph` where it
# applies, and not with --no-fuse. The narrow product must give the
# blocked one's values (tests/fusion/narrow.c). Runs JOBS models at a time (default: the number of
# cores).
#
#   sh tests/fusion.sh            all of them
#   sh tests/fusion.sh FILE       one model (what the parallel runs call)
# Prints one line per failure and `fusion: N passed, M failed`.
set -u
AECC=${AECC:-build/bin/aecc}
CC=${CC:-cc}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# fingerprint AE DTYPE FLAGS THREADS: the output of tests/fusion/fusion.c.
fingerprint() {
	name=$(sed -n 's/^model[ \t]*\([A-Za-z_0-9]*\).*/\1/p' "$1" | head -n 1)
	dir=$work/$name-$2${3:+-unfused}
	if [ ! -x "$dir/fusion" ]; then
		"$AECC" emit --dtype "$2" $3 "$1" -o "$dir" >/dev/null &&
			$CC -std=c99 -O1 -march=native -fopenmp -DMODEL="$name" \
				-DMODEL_UPPER="$(echo "$name" | tr a-z A-Z)" -I"$dir" \
				tests/fusion/fusion.c "$dir/$name.c" -lm -o "$dir/fusion" || return 1
	fi
	OMP_NUM_THREADS=$4 "$dir/fusion" 3
}

# One model: prints "ok FILE" or its failures.
if [ $# -eq 1 ]; then
	ae=$1
	ref=$(fingerprint "$ae" f32 "" 1) || { echo "FAIL: $ae: does not build"; exit 0; }
	ok=1
	for variant in "--no-fuse 1" "- 2"; do
		set -- $variant
		[ "$1" = - ] && set -- "" "$2"
		got=$(fingerprint "$ae" f32 "$1" "$2")
		if [ "$got" != "$ref" ]; then
			ok=0
			echo "FAIL: $ae: ${1:-fused} on $2 thread(s) differs from fused on 1"
			printf '%s\n' "$ref" >"$work/a"
			printf '%s\n' "$got" >"$work/b"
			diff "$work/a" "$work/b" | head -n 6
		fi
	done
	[ $ok = 1 ] && echo "ok $ae"
	exit 0
fi

ls examples/*.ae tests/parity/*.ae | xargs -P "${JOBS:-$(nproc)}" -n 1 sh "$0" >"$work/all"

# Each rewrite of compiler/fuse.c takes place where it should, and none
# with --no-fuse: the fused graph names the fused nodes.
rewrites() {
	ae=$1
	shift
	"$AECC" graph --pass fuse "$ae" >"$work/graph" && "$AECC" graph --pass fuse --no-fuse "$ae" >"$work/plain" || {
		echo "FAIL: aecc graph $ae"
		return
	}
	for node in "$@"; do
		if ! grep -qF -- "$node" "$work/graph"; then
			echo "FAIL: $ae: no $node in the fused graph"
		elif grep -qF -- "$node" "$work/plain"; then
			echo "FAIL: $ae: $node in the graph with --no-fuse"
		else
			echo "ok $ae: $node"
		fi
	done >>"$work/all"
}
rewrites examples/fashion_ae.ae "= dense+relu(" "= dense+sigmoid(" "= dense_dx*relu'(" "= mse_grad*sigmoid'(" \
	"= mse+mse_grad(" "(computed by "
rewrites examples/vae.ae "= gaussian+kl_normal(" "= bce+bce_grad("
rewrites tests/parity/concat_img.ae "= bce+bce_grad("
rewrites examples/conv_ae.ae "= conv2d+relu(" "= conv_transpose2d+relu(" "= conv_transpose2d+sigmoid(" \
	"= conv2d*relu'(" "= conv_transpose2d*relu'(" "= conv_workspace/32x4(" \
	"= conv_workspace/15x8("
# The narrow product against the blocked one (tests/fusion/narrow.c).
if "$AECC" emit examples/conv_ae.ae -o "$work/narrow" >/dev/null &&
	$CC -std=c99 -O1 -march=native -fopenmp -DMODEL_C="\"$work/narrow/conv_ae.c\"" -DPFX=conv_ae \
		-DPFX_UPPER=CONV_AE -I"$work/narrow" tests/fusion/narrow.c -lm -o "$work/narrow/narrow"; then
	"$work/narrow/narrow" >>"$work/all"
else
	echo "FAIL: tests/fusion/narrow.c does not build" >>"$work/all"
fi
grep -v '^ok ' "$work/all"
pass=$(grep -c '^ok ' "$work/all")
fail=$(grep -c '^FAIL' "$work/all")
echo "fusion: $pass passed, $fail failed"
