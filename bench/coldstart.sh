#!/bin/sh
# coldstart.sh - the time from `aecc train` to the first step, in the three
# ways aecc gets a compiled model: the in-process JIT (its precompiled
# SIMDe header already built, as after the first run on a machine), the
# system compiler with an empty cache, and the cache filled. Each figure is
# the wall time of `aecc train FILE --steps 1` on 64 samples (so the data
# and the one step cost milliseconds), the best of BENCH_REPEAT (default
# 3) runs; and, of the JIT's time, compiling and loading the C (from the
# text in memory to the entry points, AECC_TIMES=1). Prints a Markdown
# table; bench/run.sh appends it to its results.
#
#   sh bench/coldstart.sh [FILE.ae...]   default: fashion_ae, conv_vae, contractive_ae
set -eu
AECC=${AECC:-build/bin/aecc}
case $AECC in /*) ;; *) AECC=$(pwd)/$AECC ;; esac
PY=${PYTHON:-/usr/bin/python3}
REPEAT=${BENCH_REPEAT:-3}
[ $# -gt 0 ] || set -- examples/fashion_ae.ae examples/conv_vae.ae examples/contractive_ae.ae
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
TOP=$(pwd) "$PY" - "$work/x.idx" <<'PYEOF'
import os, sys
sys.path.insert(0, os.environ["TOP"] + "/scripts")
import aecc_py
x = aecc_py.read_idx("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")[:64]
aecc_py.write_idx(sys.argv[1], x)
PYEOF

# seconds CMD...: wall time of one run, in seconds.
seconds() {
	t0=$(date +%s.%N)
	"$@" >/dev/null 2>&1 || { echo "coldstart: failed: $*" >&2; exit 1; }
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'
}
best() { sort -n | head -n 1; }

jit=yes
[ -e "$(dirname "$AECC")/../lib/aecc/aecc_jit.so" ] || jit=
echo "| model | JIT | cc, empty cache | cached | JIT: C to entry points |"
echo "|---|---|---|---|---|"
for ae in "$@"; do
	name=$(basename "$ae" .ae)
	args="$(pwd)/$ae --steps 1 --train $work/x.idx --test $work/x.idx --quiet"
	j=- l=-
	if [ -n "$jit" ]; then
		AECC_CACHE=$work/pch $AECC train --jit $args >/dev/null 2>&1 # the precompiled header, once
		j=$(for i in $(seq "$REPEAT"); do AECC_CACHE=$work/pch seconds $AECC train --jit $args; done | best)
		l=$(for i in $(seq "$REPEAT"); do AECC_TIMES=1 AECC_CACHE=$work/pch $AECC train --jit $args 2>&1 >/dev/null |
			sed -n 's/.* in \([0-9.]*\) s$/\1/p'; done | best)
	fi
	u=$(for i in $(seq "$REPEAT"); do rm -rf "$work/cc"; AECC_CACHE=$work/cc seconds $AECC train --cc $args; done | best)
	c=$(for i in $(seq "$REPEAT"); do AECC_CACHE=$work/cc seconds $AECC train --cc $args; done | best)
	if [ -n "$jit" ]; then
		printf '| %s | %.2f s | %.2f s | %.2f s | %.2f s |\n' "$name" "$j" "$u" "$c" "$l"
	else
		printf '| %s | - | %.2f s | %.2f s | - |\n' "$name" "$u" "$c"
	fi
done
