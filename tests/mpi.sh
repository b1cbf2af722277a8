#!/bin/sh
# mpi.sh - the data-parallel trainer (`aecc build --mpi`, `aecc train
# --mpi`) on loopback under mpirun --oversubscribe, against the
# single-process trainer on the same batches (1,000 Fashion-MNIST images,
# shuffled, the same seed):
#   - one rank gives the single-process weights bit for bit; 2 and 4 ranks
#     agree to 1e-3 of each tensor's largest change in f32 (small_ae, each
#     way of summing) and to 1e-12 in f64 (vae, noise on: each row draws
#     its noise at its place in the batch), after 5 steps;
#   - the same number of ranks twice gives the same bits, and with
#     --micro-batch 1, 2 and 4 ranks give the same bits;
#   - a checkpoint written under 2 ranks resumes under 1, as the single
#     process resumes it;
#   - bad input (more ranks than samples, a batch smaller than the ranks,
#     a batch that is not a multiple of --micro-batch, a model with
#     buffers, a missing file) is one clear error from rank 0, status 1,
#     and every rank ends; a rank killed during training ends the job and
#     leaves no temporary or half-written checkpoint;
#   - with a validation split, a plateau schedule, early stopping and
#     --save-best, 2 ranks end as 1 rank does (the same cuts of the rate and
#     the same early stop) and print it once;
#   - `mpirun -np 2 aecc train --mpi` gives the weights of the static MPI
#     trainer.
# Runs as root with --allow-run-as-root. Prints `mpi: N passed, M failed`.
set -u
top=$(pwd)
AECC=${AECC:-$top/build/bin/aecc}
case $AECC in /*) ;; *) AECC=$top/$AECC ;; esac
PY=${PYTHON:-/usr/bin/python3}
pass=0 fail=0
if ! command -v mpirun >/dev/null 2>&1 || [ ! -e "$top/build/lib/libaecc_rt_mpi.a" ]; then
	echo "FAIL: Open MPI is not installed or aecc was built without it (sh scripts/deps.sh, then make)"
	echo "mpi: 0 passed, 1 failed"
	exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 2
. "$top/tests/expect.sh"
# -O1: the trainers compile in a third of the time and compute the same.
export AECC_CFLAGS=${AECC_CFLAGS:--O1} AECC_CACHE="$work/cache" OMP_NUM_THREADS=1
MPIRUN="mpirun --allow-run-as-root --oversubscribe --mca btl self,vader,tcp --mca btl_tcp_if_include lo"
# mpirun with a time limit, so that a rank left waiting fails the test instead of hanging it.
run() {
	np=$1
	shift
	[ -z "${MPI_TRACE:-}" ] || echo "$(date +%s.%N | cut -c1-14) np $np: $*" >&2
	timeout 120 $MPIRUN -np "$np" "$@"
}

TOP=$top "$PY" - <<'PYEOF'
import os, sys
sys.path.insert(0, os.environ["TOP"] + "/scripts")
import aecc_py
imgs = aecc_py.read_idx("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
aecc_py.write_idx("train.idx", imgs[:1000])
aecc_py.write_idx("test.idx", imgs[1000:1300])
aecc_py.write_idx("three.idx", imgs[:3])
PYEOF

# close A B TOL INIT: every tensor of A within TOL of the largest change of
# that tensor from INIT to B.
close() {
	TOP=$top "$PY" - "$@" <<'PYEOF'
import os, sys
sys.path.insert(0, os.environ["TOP"] + "/scripts")
import aecc_py
import numpy as np
a, b, tol = aecc_py.read_safetensors(sys.argv[1]), aecc_py.read_safetensors(sys.argv[2]), float(sys.argv[3])
w0 = aecc_py.read_safetensors(sys.argv[4])
worst = 0.0
for k in w0:
    change = np.abs(b[k].astype(np.float64) - w0[k]).max()
    err = np.abs(a[k].astype(np.float64) - b[k]).max() / change
    worst = max(worst, err)
print(f"largest difference {worst:.3g} of the largest change (tolerance {tol:g})")
sys.exit(0 if worst <= tol else 1)
PYEOF
}

for dt in f32 f64; do
	"$AECC" build --dtype $dt "$top/examples/small_ae.ae" -o s$dt >/dev/null 2>&1
	"$AECC" build --dtype $dt --mpi "$top/examples/small_ae.ae" -o m$dt >/dev/null 2>&1
done
"$AECC" build --dtype f64 "$top/examples/vae.ae" -o vs >/dev/null 2>&1
"$AECC" build --dtype f64 --mpi "$top/examples/vae.ae" -o vm >/dev/null 2>&1
ok "aecc build --mpi makes a data-parallel trainer" test -x mf32/small_ae-train -a -x vm/vae-train
S=sf32/small_ae-train M=mf32/small_ae-train
D="--train train.idx --test test.idx --quiet"

# Parity: the first 5 steps from the same weights.
$S $D --steps 1 --save init.safetensors >/dev/null
$S $D --init init.safetensors --steps 5 --save one.st >/dev/null
for np in 1 2 4; do
	run $np $M $D --init init.safetensors --steps 5 --save np$np.st >/dev/null 2>&1
done
ok "1 rank gives the single process's weights bit for bit" cmp -s np1.st one.st
for np in 2 4; do
	ok "f32, $np ranks: weights after 5 steps within 1e-3 of the largest change" close np$np.st one.st 1e-3 init.safetensors
done
for red in ring allreduce; do
	run 4 $M $D --init init.safetensors --steps 5 --reduce $red --save $red.st >/dev/null 2>&1
	ok "f32, 4 ranks, --reduce $red: within 1e-3" close $red.st one.st 1e-3 init.safetensors
done
vs/vae-train $D --steps 1 --save vinit.st >/dev/null
vs/vae-train $D --init vinit.st --steps 5 --save vone.st >/dev/null
for np in 2 4; do
	run $np vm/vae-train $D --init vinit.st --steps 5 --save vnp$np.st >/dev/null 2>&1
	ok "f64 vae with noise, $np ranks: within 1e-12 of the largest change" close vnp$np.st vone.st 1e-12 vinit.st
done

# Determinism.
run 2 $M $D --steps 5 --save a.st >/dev/null 2>&1
run 2 $M $D --steps 5 --save b.st >/dev/null 2>&1
ok "2 ranks twice: the same bits" cmp -s a.st b.st
run 4 $M $D --steps 5 --reduce ring --save a.st >/dev/null 2>&1
run 4 $M $D --steps 5 --reduce ring --save b.st >/dev/null 2>&1
ok "4 ranks twice, ring: the same bits" cmp -s a.st b.st
for np in 1 2 4; do
	run $np $M $D --steps 5 --micro-batch 32 --save mb$np.st >/dev/null 2>&1
done
ok "--micro-batch 32: 1 and 2 ranks give the same bits" cmp -s mb1.st mb2.st
ok "--micro-batch 32: 1 and 4 ranks give the same bits" cmp -s mb1.st mb4.st

# A checkpoint of 2 ranks resumes under 1, as the single process resumes it.
expect 0 "epoch 1/1" run 2 $M $D --epochs 1 --checkpoint ck.st
run 1 $M $D --resume ck.st --steps 3 --save r1.st >/dev/null 2>&1
$S $D --resume ck.st --steps 3 --save rs.st >/dev/null
ok "a checkpoint of 2 ranks resumes under 1 rank" cmp -s r1.st rs.st
expect 0 "test_loss" run 2 $M $D --test test.idx --resume ck.st --epochs 1

# Training controls: every rank evaluates the validation split, so all take
# the same schedule and stop; only rank 0 prints and writes.
C="--validate 0.2 --schedule plateau(factor=0.5,patience=0,threshold=0.07) --early-stop 2 --min-delta 0.04 --epochs 8
--micro-batch 32"
run 1 $M $D $C --save c1.st --save-best b1.st >c1.out 2>&1
run 2 $M $D $C --save c2.st --save-best b2.st >c2.out 2>&1
ok "validation, plateau and early stopping: 2 ranks end with 1 rank's weights" cmp -s c1.st c2.st
ok "--save-best: 2 ranks write 1 rank's best weights" cmp -s b1.st b2.st
sed -n 's/^\(epoch.*val_loss [0-9.]*\).*/\1/p; /^plateau\|^early stop/p' c1.out >c1.lines
sed -n 's/^\(epoch.*val_loss [0-9.]*\).*/\1/p; /^plateau\|^early stop/p' c2.out >c2.lines
ok "the same epochs, rate cuts and stop, printed once ($(wc -l <c2.lines) lines)" cmp -s c1.lines c2.lines
ok "the rate was cut and the run stopped early" grep -q "^early stop: back to" c2.lines

# Bad input: one message from rank 0, status 1, every rank gone.
expect 1 "three.idx: 3 samples cannot be shared by 4 ranks" run 4 $M --train three.idx --quiet
expect 1 "--batch 2 is smaller than the 4 ranks" run 4 $M $D --batch 2
expect 1 "--batch 100 is not a multiple of --micro-batch 32" run 2 $M $D --batch 100 --micro-batch 32
expect 1 "--batch 64 is 2 chunks of --micro-batch 32, fewer than the 4 ranks" run 4 $M $D --batch 64 --micro-batch 32
expect 1 "missing.idx: cannot open" run 2 $M --train missing.idx
expect 2 "--reduce: 'fast' must be tree, ring or allreduce" run 2 $M $D --reduce fast
run 4 $M --train three.idx --quiet >/dev/null 2>errs
ok "the error is printed once, by rank 0" test "$(grep -c 'cannot be shared' errs)" -eq 1
"$AECC" build --mpi "$top/tests/parity/bn_dense.ae" -o bn >/dev/null 2>&1
expect 1 "the model keeps buffers" run 2 bn/bn_dense-train $D

# A rank killed during training ends the job; the checkpoint is whole or absent.
run 2 $M $D --epochs 400 --checkpoint kill.st >kill.out 2>&1 &
job=$!
i=0
while [ ! -e kill.st ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
# rank 1 (rank 0 is left alone: a SIGKILL cannot be caught while it writes)
victim=
for pid in $(ps -eo pid=,args= | awk -v t="$M" '$2 == t { print $1 }'); do
	tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=1 && victim=$pid
done
ok "rank 1 is found" test -n "$victim"
[ -n "$victim" ] && kill -9 "$victim"
wait $job
status=$?
ok "a killed rank ends the job with a non-zero status ($status)" test $status -ne 0
ok "mpirun says which rank ended" grep -q "exited on signal 9" kill.out
ok "no temporary checkpoint is left" test -z "$(ls kill.st.tmp.* 2>/dev/null)"
run 1 $M $D --resume kill.st --steps 1 >/dev/null 2>&1
ok "the last checkpoint is whole: it resumes" test $? -eq 0

# aecc train --mpi in every rank: the static MPI trainer's weights.
run 2 "$AECC" train --mpi --cc "$top/examples/small_ae.ae" $D --steps 5 --save t.st >/dev/null 2>&1
run 2 $M $D --steps 5 --save s.st >/dev/null 2>&1
ok "mpirun -np 2 aecc train --mpi gives the static MPI trainer's weights" cmp -s t.st s.st
mkdir -p nompi/lib nompi/include
cp "$top/build/lib/libaecc_rt.a" nompi/lib/ && cp "$top/build/include/aecc_rt.h" nompi/include/
expect 1 "aecc was built without MPI" env AECC_HOME="$work/nompi" "$AECC" build --mpi "$top/examples/small_ae.ae" -o x
expect 1 "aecc was built without MPI" env AECC_HOME="$work/nompi" "$AECC" train --mpi "$top/examples/small_ae.ae"

echo "mpi: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
