#!/bin/sh
# train.sh - end-to-end training through `aecc train`, as a user runs it:
# each example trains for 3 epochs on the first 2,000 Fashion-MNIST images
# (tested on the next 1,000) and its loss must fall: the mean loss of the
# last 10 steps below 80% of the first 10, and the last epoch's test loss
# below the first's; its --log has a column per loss term (the names of the
# twin's LOSS_TERMS), and in every row the terms times their weights add up
# to the loss. A model with a label input (`train_NAME = labels(...)`)
# gets the labels of the same images. One more run, `controls`, trains
# small_ae with a validation split, the plateau schedule and early
# stopping: the rate must drop, training must stop before its last epoch,
# and the weights saved at the end must be those of the best epoch
# (--save-best). Runs JOBS at a time (default: the number of cores), each
# on one thread. Prints `train: N passed, M failed`.
set -u
AECC=${AECC:-build/bin/aecc}
PY=${PYTHON:-/usr/bin/python3}
export OMP_NUM_THREADS=1

# The training controls on real data: $TRAIN_OUT/controls.{out,ok}.
if [ "${1:-}" = controls ]; then
	work=$TRAIN_OUT
	if "$AECC" train examples/small_ae.ae --epochs 40 --train "$work/train.idx" --test "$work/test.idx" \
		--validate 0.2 --schedule 'plateau(factor = 0.5, patience = 0, threshold = 0.01)' --early-stop 2 \
		--min-delta 0.001 --save "$work/last.st" --save-best "$work/best.st" --log "$work/controls.csv" \
		--quiet >"$work/controls.out" 2>&1 &&
		grep -q '^plateau: val_loss has not improved on .*; lr 0.001 -> 0.0005$' "$work/controls.out" &&
		grep -q '^early stop: val_loss has not improved on ' "$work/controls.out" &&
		grep -q '^early stop: back to the state after epoch ' "$work/controls.out" &&
		! grep -q '^epoch 40/40' "$work/controls.out" &&
		cmp -s "$work/last.st" "$work/best.st" &&
		awk -F, 'NR > 1 && $3 == "train" { if (NR > 2 && $4 > lr) up = 1; lr = $4 }
			END { exit !(!up && lr < 0.0005) }' "$work/controls.csv"; then
		touch "$work/controls.ok"
	fi
	exit 0
fi

# One example, run by the parallel loop below: writes $TRAIN_OUT/NAME.{out,csv,ok}.
if [ $# -eq 1 ]; then
	ae=$1 work=$TRAIN_OUT
	name=$(basename "$ae" .ae)
	labels=
	for input in $(sed -n 's/.*train_\([A-Za-z_0-9]*\)[ \t]*=[ \t]*labels(.*/\1/p' "$ae"); do
		[ "$input" = labels ] && continue # train_labels: the samples' classes, not an input
		labels="$labels --train-$input $work/train-labels.idx --test-$input $work/test-labels.idx"
	done
	# $labels splits into words on purpose (options and mktemp paths have no spaces).
	if "$AECC" train "$ae" --epochs 3 --train "$work/train.idx" --test "$work/test.idx" $labels \
		--log "$work/$name.csv" --quiet >"$work/$name.out" 2>&1 &&
		awk -F, 'NR > 1 && $3 == "train" { l[++n] = $5 }
			END { for (i = 1; i <= 10; i++) { a += l[i]; b += l[n - 10 + i] }
			      printf "first 10 steps %.4f, last 10 steps %.4f\n", a / 10, b / 10
			      exit !(b < 0.8 * a) }' "$work/$name.csv" >>"$work/$name.out" &&
		awk '/^epoch/ { for (i = 1; i <= NF; i++) if ($i == "test_loss") t[++n] = $(i + 1) }
			END { exit !(n == 3 && t[3] < t[1]) }' "$work/$name.out" &&
		"$PY" - "generated/$name/${name}_torch.py" "$work/$name.csv" >>"$work/$name.out" <<'PYEOF'
import csv, sys
sys.path.insert(0, "scripts")
import aecc_py
mod = aecc_py.load_module(sys.argv[1])
names = [n for n, _ in mod.LOSS_TERMS] if len(mod.LOSS_TERMS) > 1 else []
with open(sys.argv[2]) as f:
    reader = csv.DictReader(f)
    assert reader.fieldnames == ["step", "epoch", "set", "lr", "loss"] + names, reader.fieldnames
    rows = list(reader)
assert [r["set"] for r in rows].count("test") == 3, "a test row per epoch"
for r in rows:
    total = sum(w * float(r[n]) for n, w in mod.LOSS_TERMS) if names else float(r["loss"])
    assert abs(total - float(r["loss"])) <= 1e-5 * abs(float(r["loss"])), r
print(f"{len(rows)} rows of the log, {len(names) or 1} loss term(s) adding up to the loss")
PYEOF
	then
		touch "$work/$name.ok"
	fi
	exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# -O1: the trainers compile in a third of the time and compute the same.
export AECC_CACHE="$work/cache" TRAIN_OUT="$work" AECC_CFLAGS=${AECC_CFLAGS:--O1}
"$PY" - "$work" <<'PYEOF'
import sys
sys.path.insert(0, "scripts")
import aecc_py
imgs = aecc_py.read_idx("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
aecc_py.write_idx(sys.argv[1] + "/train.idx", imgs[:2000])
aecc_py.write_idx(sys.argv[1] + "/test.idx", imgs[2000:3000])
labels = aecc_py.read_idx("/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz")
aecc_py.write_idx(sys.argv[1] + "/train-labels.idx", labels[:2000])
aecc_py.write_idx(sys.argv[1] + "/test-labels.idx", labels[2000:3000])
PYEOF
{ ls examples/*.ae; echo controls; } | xargs -P "${JOBS:-$(nproc)}" -L 1 sh "$0"
pass=0 fail=0
for ae in examples/*.ae; do
	name=$(basename "$ae" .ae)
	if [ -e "$work/$name.ok" ]; then
		pass=$((pass + 1))
		echo "$name: $(grep '^epoch' "$work/$name.out" | tail -n 1); $(tail -n 1 "$work/$name.out")"
	else
		fail=$((fail + 1))
		cat "$work/$name.out"
		echo "FAIL: $name did not learn"
	fi
done
if [ -e "$work/controls.ok" ]; then
	pass=$((pass + 1))
	echo "controls: $(grep -c '^plateau:' "$work/controls.out") learning-rate cuts, $(grep '^early stop: back' "$work/controls.out")"
else
	fail=$((fail + 1))
	cat "$work/controls.out"
	echo "FAIL: controls: plateau or early stopping did not act"
fi
echo "train: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
