#!/bin/sh
# results.sh - train every example (or those named) for 5 epochs (or
# $EPOCHS) on all of Fashion-MNIST with `aecc train`, and the same model in
# PyTorch with scripts/torch_train.py, both on one thread; write the final
# test losses and the wall time of each whole run (compiling the model,
# loading the data and evaluating the test set included) to
# docs/results.md (the README's table). PyTorch runs on the best OpenBLAS
# kernels the CPU supports (scripts/fair_blas.sh), its threads pinned to
# one. The runs of one example follow each other, so their ratio is
# measured minutes apart on the same machine.
set -eu
AECC=${AECC:-build/bin/aecc}
PY=${PYTHON:-/usr/bin/python3}
EPOCHS=${EPOCHS:-5}
models=${*:-$(ls examples/*.ae)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out=docs/results.md
. scripts/fair_blas.sh
fair_blas "$PY"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
now() { date +%s.%N; }
{
	echo "# Results"
	echo
	echo "$(date -u +%Y-%m-%d), $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores; PyTorch $("$PY" -c 'import torch; print(torch.__version__)'), $FAIR_BLAS."
	echo "Test loss after $EPOCHS epochs on all of Fashion-MNIST (60,000 training images,"
	echo "shuffled; 10,000 test images), in the units of the model's own loss, and the wall"
	echo "time of the whole run on one thread (compiling the model, loading the data and the"
	echo "test evaluations included)."
	echo
	echo "| example | epochs | aecc test loss | aecc time | PyTorch test loss | PyTorch time | PyTorch time / aecc time |"
	echo "|---|---|---|---|---|---|---|"
} >"$out.tmp"
for ae in $models; do
	name=$(basename "$ae" .ae)
	t0=$(now)
	"$AECC" train "$ae" --epochs "$EPOCHS" --threads 1 --quiet >"$work/a.txt" 2>&1
	t1=$(now)
	"$PY" scripts/torch_train.py "$ae" --epochs "$EPOCHS" --threads 1 >"$work/t.txt" 2>&1
	t2=$(now)
	ep=$(tail -n 1 "$work/a.txt" | sed -n 's/^epoch [0-9]*\/\([0-9]*\).*/\1/p')
	al=$(tail -n 1 "$work/a.txt" | sed -n 's/.*test_loss \([0-9.e+-]*\).*/\1/p')
	tl=$(tail -n 1 "$work/t.txt" | sed -n 's/.*test_loss \([0-9.e+-]*\).*/\1/p')
	awk -v n="$name" -v ep="$ep" -v al="$al" -v tl="$tl" -v t0="$t0" -v t1="$t1" -v t2="$t2" 'BEGIN {
		printf "| %s | %s | %s | %.1f s | %s | %.1f s | %.2f |\n", n, ep, al, t1 - t0, tl, t2 - t1, (t2 - t1) / (t1 - t0) }' |
		tee -a "$out.tmp"
done
mv "$out.tmp" "$out"
