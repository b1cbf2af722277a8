#!/bin/sh
# mpi.sh - `make bench-mpi`: the data-parallel trainer on this machine,
# side by side in one run, on Fashion-MNIST images at the model's batch:
#   - samples/s of one process on 1 and 2 threads, and of 1, 2 (and 4,
#     oversubscribed) ranks on 1 thread each under mpirun on loopback;
#   - each way of summing gradients (tree, ring, MPI_Allreduce) on 2 ranks,
#     with the time a step spends summing;
#   - --micro-batch, which makes the weights the same for any number of
#     ranks, at 1 and 2 ranks;
#   - the time of one step on 1 thread at the rows one rank computes when
#     a batch is shared by 1, 2, 8, 16 and 64 ranks (for docs/scaling.md).
# Each rate is the best epoch of BENCH_EPOCHS (default 3) over the first
# BENCH_SAMPLES images (default 12,800: 100 steps), test set left out.
# Prints a Markdown table per model.
#
#   sh bench/mpi.sh [FILE.ae...]   default: fashion_ae and conv_ae
set -eu
top=$(pwd)
AECC=${AECC:-$top/build/bin/aecc}
case $AECC in /*) ;; *) AECC=$top/$AECC ;; esac
PY=${PYTHON:-/usr/bin/python3}
EPOCHS=${BENCH_EPOCHS:-3}
SAMPLES=${BENCH_SAMPLES:-12800}
[ $# -gt 0 ] || set -- examples/fashion_ae.ae examples/conv_ae.ae
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
MPIRUN="mpirun --allow-run-as-root --oversubscribe --bind-to none --mca btl self,vader,tcp --mca btl_tcp_if_include lo"
TOP=$top N=$SAMPLES "$PY" - "$work/train.idx" <<'PYEOF'
import os, sys
sys.path.insert(0, os.environ["TOP"] + "/scripts")
import aecc_py
x = aecc_py.read_idx("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")[: int(os.environ["N"])]
aecc_py.write_idx(sys.argv[1], x)
aecc_py.write_idx(sys.argv[1].replace("train", "test"), x[:128])
PYEOF

# best OUT: the best rate of the epoch lines in OUT, in samples/s.
best() {
	awk '/^epoch/ { r = $(NF - 1); m = 1; if (r ~ /k$/) m = 1e3; if (r ~ /M$/) m = 1e6; sub(/[kM]$/, "", r);
		r *= m; if (r > b) b = r } END { printf "%.0f", b }' "$1"
}
# summing OUT STEPS: milliseconds per step spent summing gradients, and
# waiting for the slowest rank before that (--times).
summing() {
	awk -v steps="$2" '/summing gradients/ { printf "%.2f | %.2f", 1000 * $5 / steps, 1000 * $11 / steps }' "$1"
}

for ae in "$@"; do
	name=$(basename "$ae" .ae)
	"$AECC" build "$ae" -o "$work/$name" >/dev/null 2>&1
	"$AECC" build --mpi "$ae" -o "$work/$name-mpi" >/dev/null 2>&1
	T="$work/$name/$name-train" M="$work/$name-mpi/$name-train"
	batch=$($T --help | sed -n 's/.*--batch N.*(default \([0-9]*\)).*/\1/p')
	steps=$((EPOCHS * ((SAMPLES + batch - 1) / batch)))
	D="--train $work/train.idx --test $work/test.idx --epochs $EPOCHS --quiet"
	echo
	echo "### $name ($(date -u +%Y-%m-%d), $(nproc) cores, shared machine)"
	echo
	echo "| run | samples/s | vs 1 process, 1 thread | summing, ms per step | waiting for the slowest rank, ms per step |"
	echo "|---|---|---|---|---|"
	# row LABEL CMD...: one run, its best epoch.
	base=
	row() {
		label=$1
		shift
		"$@" >"$work/out" 2>&1
		rate=$(best "$work/out")
		[ -n "$base" ] || base=$rate
		sum=$(grep -q "summing gradients" "$work/out" && summing "$work/out" $steps || echo "- | -")
		echo "| $label | $rate | $(awk -v a="$rate" -v b="$base" 'BEGIN { printf "%.2f", a / b }') | $sum |"
	}
	row "1 process, --threads 1" $T $D --threads 1
	row "1 process, --threads 2" $T $D --threads 2
	row "mpirun -np 1, 1 thread" $MPIRUN -np 1 $M $D --threads 1 --times
	for red in tree ring allreduce; do
		row "mpirun -np 2, 1 thread each, --reduce $red" $MPIRUN -np 2 $M $D --threads 1 --reduce $red --times
	done
	row "mpirun -np 4 (oversubscribed), 1 thread each, tree" $MPIRUN -np 4 $M $D --threads 1 --times
	row "mpirun -np 1, --micro-batch 32" $MPIRUN -np 1 $M $D --threads 1 --micro-batch 32 --times
	row "mpirun -np 2, --micro-batch 32" $MPIRUN -np 2 $M $D --threads 1 --micro-batch 32 --times
	echo
	echo "One rank's part of a batch of $batch: a train step on 1 thread, best quarter-second window of 3 s (bench/step.c)"
	echo
	echo "| rows | samples/s | ms per step |"
	echo "|---|---|---|"
	upper=$(echo "$name" | tr a-z A-Z)
	cc -O3 -march=native -fopenmp -std=c99 -DMODEL="$name" -DMODEL_UPPER="$upper" -I"$work/$name" \
		"$top/bench/step.c" "$work/$name/$name.c" -lm -o "$work/$name/step"
	for rows in $batch 64 16 8 2; do
		rate=$(OMP_NUM_THREADS=1 "$work/$name/step" 3 $rows)
		echo "| $rows | $rate | $(awk -v r="$rate" -v b="$rows" 'BEGIN { printf "%.2f", 1000 * b / r }') |"
	done
done
