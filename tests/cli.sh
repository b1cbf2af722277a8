#!/bin/sh
# cli.sh - the command line as a user meets it: aecc's usage errors, the
# trainer's handling of bad data and weights files (a message naming the
# file, a non-zero exit, no output file left behind), saved weights loading
# into torch.nn, and `make install` producing a toolchain that builds a
# trainer outside the tree. Prints `cli: N passed, M failed`.
set -u
top=$(pwd)
AECC=${AECC:-$top/build/bin/aecc}
case $AECC in /*) ;; *) AECC=$top/$AECC ;; esac
PY=${PYTHON:-/usr/bin/python3}
FM=/usr/share/datasets/fashion-mnist
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 2
pass=0 fail=0

. "$top/tests/expect.sh"

# The compiler's own command line.
expect 2 "no command given" "$AECC"
expect 2 "unknown command 'frobnicate'" "$AECC" frobnicate x.ae
expect 2 "unknown option '--fast'" "$AECC" check --fast x.ae
expect 2 "unknown dtype 'f16'" "$AECC" check --dtype f16 x.ae
expect 2 "build needs an output folder" "$AECC" build "$top/examples/small_ae.ae"
expect 1 "aecc: error: cannot read missing.ae: No such file or directory" "$AECC" check missing.ae
printf 'model m\0' >nul.ae
expect 1 "nul.ae: not a text file" "$AECC" check nul.ae
expect 0 "usage: aecc COMMAND" "$AECC" --help
expect 0 "aecc 0.1.0" "$AECC" --version
expect 0 "dense" "$AECC" ops
expect 0 "Work arena:" "$AECC" summary "$top/examples/small_ae.ae"
"$AECC" summary "$top/examples/conv_ae.ae" >summary.out
ok "summary: the shapes and the parameter counts line up under long fused op names" \
	awk '/\[n,|\[\]/ { s[index($0, "[")]++; p[length($0) - length($NF)]++ } END { exit !(length(s) == 1) }' summary.out
expect 0 "usage: fashion_ae-train" "$AECC" train "$top/examples/fashion_ae.ae" --help
expect 0 "--classes LIST" "$AECC" train "$top/examples/fashion_ae.ae" --help
expect 2 "unknown command" "$AECC" plot-loss-typo x.csv
expect 0 "digraph aecc" "$AECC" graph --dot "$top/examples/small_ae.ae"
expect 0 "bwd = dense_dw" "$AECC" graph --pass grad "$top/examples/small_ae.ae"
expect 0 "[encoder]" "$AECC" graph --pass entry "$top/examples/small_ae.ae"
expect 0 "@grad" "$AECC" graph --pass plan "$top/examples/small_ae.ae"
expect 2 "unknown pass 'emit' (lower, grad, fuse, entry or plan)" "$AECC" graph --pass emit "$top/examples/small_ae.ae"

# A trainer and small data files.
"$AECC" build "$top/examples/small_ae.ae" -o t >/dev/null 2>&1
T=./t/small_ae-train
ok "aecc build makes a trainer" test -x "$T"
TOP=$top "$PY" - <<'PYEOF'
import os, sys
sys.path.insert(0, os.environ["TOP"] + "/scripts")
import aecc_py
import numpy as np
imgs = aecc_py.read_idx("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
aecc_py.write_idx("sub.idx", imgs[:300])
aecc_py.write_idx("small.idx", imgs[:300, :10, :10])
aecc_py.write_safetensors("wrong.safetensors", {"encoder.0.weight": np.zeros((64, 784), np.float32)})
aecc_py.write_safetensors("partial.safetensors", {"encoder.0.weight": np.zeros((128, 784), np.float32)})
nan = np.full((300, 784), 0.5, np.float32)
nan[17, 203] = np.nan
np.save("nan.npy", nan)
with open("claims.idx", "wb") as f:
    f.write(bytes([0, 0, 8, 3]) + (60000).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2)
    f.write(imgs[:300].tobytes())
PYEOF
seq -s, 784 | sed 's/[0-9]*/0/g' >inf.csv
seq -s, 784 | sed 's/[0-9]*/0/g; s/^0,0,0/0,0,inf/' >>inf.csv
head -c 1000 $FM/t10k-images-idx3-ubyte.gz >trunc.gz
echo garbage >garbage.safetensors

expect 1 "missing.idx: cannot open" $T --train missing.idx --save w1.safetensors
ok "no weights written after a failed run" test ! -e w1.safetensors
expect 1 "trunc.gz: truncated" $T --train trunc.gz --save w2.safetensors
ok "no weights written after a truncated file" test ! -e w2.safetensors
expect 1 "small.idx: samples have 100 values, model input 'x' needs 784" $T --train small.idx
expect 1 "samples have 1 value" $T --train $FM/t10k-labels-idx1-ubyte.gz
# Data checked at load time: values that are not finite, a header that
# claims more samples than the file holds (before they are allocated).
expect 1 "nan.npy: sample 17, element 203 is NaN, not a finite number" $T --train nan.npy
expect 1 "inf.csv: line 2, field 3: 'inf' is not a finite number in float range (sample 1, element 2)" $T --train inf.csv
expect 1 "claims.idx: truncated: expected 47040000 bytes of pixels, found 235200 (the header describes 60000 samples)" \
	$T --train claims.idx
expect 1 "wrong.safetensors: tensor encoder.0.weight has shape [64, 784], model expects [128, 784]" \
	$T --init wrong.safetensors --train sub.idx
expect 1 "partial.safetensors" $T --init partial.safetensors --train sub.idx
expect 1 "garbage.safetensors" $T --init garbage.safetensors --train sub.idx
expect 2 "--epochs" $T --epochs abc
expect 2 "--batch" $T --batch 1000
expect 2 "unknown option" $T --frobnicate
expect 0 "small_ae-train (aecc runtime" $T --version

# The training controls: usage errors, and --save-best, --validate, the
# log's columns in a run.
expect 2 "--schedule: unknown schedule 'bogus'" $T --train sub.idx --schedule bogus
expect 2 "the plateau schedule watches the validation loss, but there is no validation data" \
	$T --train sub.idx --schedule 'plateau(patience = 2)'
expect 2 "--save-best watches the validation loss" $T --train sub.idx --save-best b.st
expect 2 "--test-loss sampled: model 'small_ae' draws no latent" $T --train sub.idx --test-loss sampled
expect 2 "--validate: '1.5' must be a fraction from 0 to below 1" $T --train sub.idx --validate 1.5
expect 1 "validate 0.999 of 300 samples leaves none to train on" $T --train sub.idx --validate 0.999
expect 1 "nodir/b.st" $T --train sub.idx --validate 0.2 --save-best nodir/b.st --epochs 1 --quiet
ok "no weights after an unwritable --save-best" test ! -e b.st
expect 0 "--schedule SPEC" $T --help
expect 0 "lr 0.0005  train_loss" $T --train sub.idx --validate 0.2 --schedule 'step(every = 1, factor = 0.5)' \
	--epochs 2 --save-best b.st --log controls.csv --quiet
ok "the epoch line has val_loss before test_loss" grep -q "val_loss [0-9.]*  test_loss" out
ok "--save-best is written, atomically" sh -c 'test -s b.st && ! ls b.st.tmp* >/dev/null 2>&1'
ok "the log's columns and rows" sh -c 'head -n 1 controls.csv | grep -qx "step,epoch,set,lr,loss" &&
	test "$(grep -c ",val," controls.csv)" -eq 2 && test "$(grep -c ",train,0.0005," controls.csv)" -eq 2'

# A good run: weights load into torch.nn; a checkpoint resumes.
expect 0 "epoch 1/1" $T --train sub.idx --test sub.idx --epochs 1 --save w.safetensors \
	--checkpoint ck.safetensors --quiet
expect 0 "loaded" "$PY" -c "
import sys, torch
sys.path.insert(0, '$top/scripts')
import aecc_py
w = {k: torch.from_numpy(v) for k, v in aecc_py.read_safetensors('w.safetensors').items()}
enc = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 32))
dec = torch.nn.Sequential(torch.nn.Linear(32, 128), torch.nn.ReLU(), torch.nn.Linear(128, 784), torch.nn.Sigmoid())
enc.load_state_dict({k[8:]: v for k, v in w.items() if k.startswith('encoder.')})
dec.load_state_dict({k[8:]: v for k, v in w.items() if k.startswith('decoder.')})
print('loaded')"
expect 0 "epoch 1/1" $T --train sub.idx --resume ck.safetensors --epochs 1 --quiet

# Batch normalization: the saved running statistics and batch counter load
# into torch.nn.BatchNorm1d, which in evaluation mode gives the trainer's
# test loss (printed to four decimals).
cat >bn.ae <<'EOF'
model bn_ae
input x[784]
encoder { z = x |> dense(32, bias = false) |> batchnorm |> tanh |> dense(8) }
decoder { xhat = z |> dense(784) |> sigmoid }
loss = bce(xhat, x)
train { batch 64  epochs 1 }
data { train = idx("sub.idx") / 255 }
EOF
"$AECC" build bn.ae -o bn >/dev/null 2>&1
expect 0 "epoch 1/1" ./bn/bn_ae-train --test sub.idx --save bn.safetensors --quiet
bn_test_loss=$(sed -n 's/.*test_loss \([0-9.]*\).*/\1/p' out)
expect 0 "batchnorm loaded" "$PY" -c "
import sys, torch
sys.path.insert(0, '$top/scripts')
import aecc_py
w = {k: torch.from_numpy(v) for k, v in aecc_py.read_safetensors('bn.safetensors').items()}
nn = torch.nn
enc = nn.Sequential(nn.Linear(784, 32, bias=False), nn.BatchNorm1d(32), nn.Tanh(), nn.Linear(32, 8))
dec = nn.Sequential(nn.Linear(8, 784), nn.Sigmoid())
enc.load_state_dict({k[8:]: v for k, v in w.items() if k.startswith('encoder.')})
dec.load_state_dict({k[8:]: v for k, v in w.items() if k.startswith('decoder.')})
assert enc[1].num_batches_tracked.item() == 5, enc[1].num_batches_tracked
x = torch.from_numpy(aecc_py.read_idx('sub.idx').reshape(-1, 784).astype('float32')) / 255
enc.eval()
with torch.no_grad():
    loss = torch.nn.functional.binary_cross_entropy(dec(enc(x)), x).item()
assert abs(loss - float('$bn_test_loss')) <= 6e-5, (loss, '$bn_test_loss')
print('batchnorm loaded')"

# make install, then a trainer built by hand against the installed files.
if make -C "$top" install PREFIX="$work/prefix" >install.log 2>&1; then
	"$work/prefix/bin/aecc" emit "$top/examples/small_ae.ae" -o own >/dev/null 2>&1
	expect 0 "" cc -std=c99 -O2 -I"$work/prefix/include" -Iown own/small_ae.c own/small_ae_main.c \
		"$work/prefix/lib/libaecc_rt.a" -lpng -lz -lm -o own/trainer
	expect 0 "epoch 1/1" own/trainer --train sub.idx --epochs 1 --quiet
	expect 0 "epoch 1/1" env AECC_CACHE="$work/cache" "$work/prefix/bin/aecc" train "$top/examples/small_ae.ae" \
		--train sub.idx --epochs 1 --quiet
else
	fail=$((fail + 1))
	cat install.log
fi
echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
