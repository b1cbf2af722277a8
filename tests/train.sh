#!/bin/sh
# train.sh - end-to-end training through `aecc train`, as a user runs it:
# each example trains for 3 epochs on the first 2,000 Fashion-MNIST images
# (tested on the next 1,000) and its loss must fall: the mean loss of the
# last 10 steps below 80% of the first 10, and the last epoch's test loss
# below the first's. A model with a label input (`train_NAME = labels(...)`)
# gets the labels of the same images. Runs JOBS examples at a time (default:
# the number of cores), each on one thread. Prints `train: N passed, M failed`.
set -u
AECC=${AECC:-build/bin/aecc}
export OMP_NUM_THREADS=1

# One example, run by the parallel loop below: writes $TRAIN_OUT/NAME.{out,csv,ok}.
if [ $# -eq 1 ]; then
	ae=$1 work=$TRAIN_OUT
	name=$(basename "$ae" .ae)
	labels=
	for input in $(sed -n 's/.*train_\([A-Za-z_0-9]*\)[ \t]*=[ \t]*labels(.*/\1/p' "$ae"); do
		labels="$labels --train-$input $work/train-labels.idx --test-$input $work/test-labels.idx"
	done
	# $labels splits into words on purpose (options and mktemp paths have no spaces).
	if "$AECC" train "$ae" --epochs 3 --train "$work/train.idx" --test "$work/test.idx" $labels \
		--log "$work/$name.csv" --quiet >"$work/$name.out" 2>&1 &&
		awk -F, 'NR > 1 { l[NR - 1] = $3; n = NR - 1 }
			END { for (i = 1; i <= 10; i++) { a += l[i]; b += l[n - 10 + i] }
			      printf "first 10 steps %.4f, last 10 steps %.4f\n", a / 10, b / 10
			      exit !(b < 0.8 * a) }' "$work/$name.csv" >>"$work/$name.out" &&
		awk '/^epoch/ { for (i = 1; i <= NF; i++) if ($i == "test_loss") t[++n] = $(i + 1) }
			END { exit !(n == 3 && t[3] < t[1]) }' "$work/$name.out"; then
		touch "$work/$name.ok"
	fi
	exit 0
fi

PY=${PYTHON:-/usr/bin/python3}
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
ls examples/*.ae | xargs -P "${JOBS:-$(nproc)}" -L 1 sh "$0"
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
echo "train: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
