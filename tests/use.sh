#!/bin/sh
# use.sh - the model commands as a user runs them: five examples (dense,
# VAE, conditional VAE, denoising, convolutional) train for 60 steps on the
# first 2,000 Fashion-MNIST images, then encode, reconstruct, score,
# denoise, sample, interpolate, probe and plot them. Outputs are checked
# for shape, against the model's own entry points called directly
# (tests/use/capi.c), against statistics recomputed in numpy, and pictures
# by decoding them; bad input must fail with a clear message and leave
# nothing behind. Prints `use: N passed, M failed`.
set -u
top=$(pwd)
AECC=${AECC:-$top/build/bin/aecc}
PY=${PYTHON:-/usr/bin/python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export AECC_CACHE="$work/cache" AECC_JIT=0 OMP_NUM_THREADS=1
pass=0 fail=0
. "$top/tests/expect.sh"
cd "$work" || exit 2

"$PY" - <<PYEOF
import sys
sys.path.insert(0, "$top/scripts")
import aecc_py
import numpy as np
imgs = aecc_py.read_idx("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
labels = aecc_py.read_idx("/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz")
aecc_py.write_idx("train.idx", imgs[:2000])
aecc_py.write_idx("train-labels.idx", labels[:2000])
np.save("test.npy", imgs[2000:2300])
np.save("test-labels.npy", labels[2000:2300])
np.savetxt("wide.csv", np.ones((5, 10)), delimiter=",")
np.save("short-labels.npy", labels[:7])
PYEOF

# train NAME: 60 steps on the 2,000 images, weights in NAME.st, log in NAME.csv.
train() {
	lab=
	[ "$1" = cvae ] && lab="--train-y train-labels.idx --test-y test-labels.npy"
	# $lab splits into words on purpose (no spaces in these paths).
	"$AECC" train "$top/examples/$1.ae" --steps 60 --train train.idx --test test.npy $lab \
		--save "$1.st" --log "$1.csv" --quiet >"$1.train" 2>&1 || { echo "FAIL: training $1"; cat "$1.train"; }
}
for m in fashion_ae vae cvae denoising_ae conv_ae; do
	train $m
done
ls ./*.st >/dev/null 2>&1 || { echo "use: 0 passed, 1 failed"; exit 1; }

# capi NAME [LABELS]: the reference outputs of NAME's entry points in ref-NAME/.
capi() {
	name=$1
	shift
	mkdir -p "ref-$name"
	cc -std=c99 -O3 -march=native -fopenmp -DAERT_NO_MAIN -DDESC="${name}_aert_model" -I"$top/build/include" \
		-o "capi-$name" "$top/tests/use/capi.c" "$top/generated/$name/$name.c" \
		"$top/generated/$name/${name}_main.c" "$top/build/lib/libaecc_rt.a" -lpng -lz -lm &&
		"./capi-$name" "$name.st" test.npy "$@" "ref-$name"
}
capi fashion_ae && capi vae && capi cvae test-labels.npy && capi conv_ae || echo "FAIL: the reference programs"

# npcheck TEXT PYTHON: a numpy condition (the last expression) that must hold.
npcheck() {
	text=$1
	printf 'import numpy as np, csv, sys\nimport matplotlib.pyplot as plt\n%s\n' "$2" >check.py
	if "$PY" check.py >check.out 2>&1; then pass=$((pass + 1)); else
		fail=$((fail + 1))
		echo "FAIL: $text"
		cat check.out
	fi
}

# ---- encode
W="--weights fashion_ae.st --data test.npy"
FA="$top/examples/fashion_ae.ae"
expect 0 "300 codes of 32 values" "$AECC" encode "$FA" $W -o z.npy
npcheck "encode equals NAME_encode" "
z = np.load('z.npy'); r = np.load('ref-fashion_ae/encode.npy')
assert z.shape == (300, 32) and z.dtype == np.float32, z.shape
assert np.abs(z - r).max() <= 1e-6 * max(1, np.abs(r).max()), np.abs(z - r).max()"
expect 0 "" "$AECC" encode "$FA" $W -o z.csv
npcheck "encode writes CSV with a header" "
z = np.loadtxt('z.csv', delimiter=',', skiprows=1); assert z.shape == (300, 32)
assert open('z.csv').readline().startswith('z0,z1,')
assert np.abs(z - np.load('z.npy')).max() < 1e-6"
expect 0 "then their log-variances" "$AECC" encode "$top/examples/vae.ae" --weights vae.st --data test.npy --logvar -o zl.npy
npcheck "encode --logvar: the means (NAME_encode) then log-variances" "
z = np.load('zl.npy'); r = np.load('ref-vae/encode.npy')
assert z.shape == (300, 64)
assert np.abs(z[:, :32] - r).max() < 1e-5 and np.isfinite(z).all() and (z[:, 32:] != z[:, :32]).any()"
expect 1 "code of model fashion_ae is not a gaussian(mu, logvar) draw" "$AECC" encode "$FA" $W --logvar -o x.npy
expect 0 "" "$AECC" encode "$top/examples/cvae.ae" --weights cvae.st --data test.npy --labels test-labels.npy -o zc.npy
npcheck "encode of a conditional model takes labels" "
assert np.abs(np.load('zc.npy') - np.load('ref-cvae/encode.npy')).max() < 1e-5"
expect 1 "is conditional: give its labels with --labels" "$AECC" encode "$top/examples/cvae.ae" --weights cvae.st --data test.npy -o zc.npy

# ---- reconstruct
expect 0 "300 reconstructions" "$AECC" reconstruct "$FA" $W -o r.npy --png r.png --rows 2
npcheck "reconstruct equals NAME_forward; the grid is 8 wide, 2 pairs of rows, upscaled" "
r = np.load('r.npy'); f = np.load('ref-fashion_ae/forward.npy')
assert r.shape == (300, 784) and np.abs(r - f).max() < 1e-6
im = plt.imread('r.png'); assert im.shape[:2] == (4 * (84 + 2) + 2, 8 * (84 + 2) + 2), im.shape
assert im.std() > 0.05"
expect 0 "" "$AECC" reconstruct "$top/examples/conv_ae.ae" --weights conv_ae.st --data test.npy --png rc.png --cols 4 -o rc.npy
npcheck "reconstruct a convolutional model ([1, 28, 28])" "
assert np.abs(np.load('rc.npy') - np.load('ref-conv_ae/forward.npy')).max() < 1e-5
assert plt.imread('rc.png').shape[:2] == (2 * 86 + 2, 4 * 86 + 2)"

# ---- score
expect 0 "flagged" "$AECC" score "$FA" $W --train-data train.idx --contamination 0.1 -o s.csv
cp out score.out
expect 0 "" "$AECC" score "$FA" --weights fashion_ae.st --data train.idx -o strain.csv --threshold 1
npcheck "score: each sample's loss (NAME_loss of it alone); threshold the training scores' 90th percentile" "
s = np.loadtxt('s.csv', delimiter=',', skiprows=1); ref = np.load('ref-fashion_ae/loss1.npy')[:, 0]
assert s.shape == (300, 3) and (s[:, 0] == np.arange(300)).all()
assert np.abs(s[:, 1] - ref).max() <= 1e-6 * ref.max()
tr = np.loadtxt('strain.csv', delimiter=',', skiprows=1)[:, 1]
t = float(open('score.out').read().split('threshold ')[1].split()[0])
assert abs(t - np.percentile(tr, 90)) <= 1e-5 * t, (t, np.percentile(tr, 90))
assert (s[:, 2] == (s[:, 1] > t)).all()
assert 'flagged %d of 300' % (s[:, 1] > t).sum() in open('score.out').read()"
expect 0 "ROC-AUC" "$AECC" score "$FA" $W --labels test-labels.npy --threshold 0.03 --normal 0-8 -o s.csv
npcheck "score --normal: ROC-AUC and average precision as scikit-learn defines them" "
s = np.loadtxt('s.csv', delimiter=',', skiprows=1)[:, 1]; y = np.load('test-labels.npy') == 9
out = open('out').read()
auc = float(out.split('ROC-AUC ')[1].split()[0]); ap = float(out.split('average precision ')[1].split()[0])
pos, neg = s[y], s[~y]
ref = ((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()) / (len(pos) * len(neg))
o = np.argsort(-s, kind='stable'); tp = np.cumsum(y[o]); prec = tp / np.arange(1, len(s) + 1)
refap = (prec * y[o]).sum() / y.sum()
assert abs(auc - ref) < 1e-4 and abs(ap - refap) < 1e-4, (auc, ref, ap, refap)"
V="$top/examples/vae.ae"
expect 0 "the negative ELBO" "$AECC" score "$V" --weights vae.st --data test.npy --threshold 300 --samples 20 -o e.csv
expect 0 "importance-weighted bound" "$AECC" score "$V" --weights vae.st --data test.npy --threshold 300 --iwae 20 -o i.csv
npcheck "score of a VAE: the IWAE bound (20 draws) is at or below the negative ELBO" "
e = np.loadtxt('e.csv', delimiter=',', skiprows=1)[:, 1]; i = np.loadtxt('i.csv', delimiter=',', skiprows=1)[:, 1]
assert np.isfinite(e).all() and np.isfinite(i).all()
assert i.mean() < e.mean() and (i <= e + 1.0).mean() > 0.95, (i.mean(), e.mean())"
expect 1 "need a VAE whose loss is a likelihood" "$AECC" score "$FA" $W --threshold 1 --iwae 5
expect 1 "every sample is of the normal classes" "$AECC" score "$FA" $W --labels test-labels.npy --threshold 1 --normal 0-9

# ---- denoise
D="$top/examples/denoising_ae.ae"
expect 0 "denoised  mse" "$AECC" denoise "$D" --weights denoising_ae.st --data test.npy -o dn.npy --png dn.png
npcheck "denoise: noisy, denoised and clean rows; the reported MSEs" "
out = open('out').read(); assert 'noise gaussian_noise:0.3' in out
nm = float(out.split('noisy     mse ')[1].split()[0]); dm = float(out.split('denoised  mse ')[1].split()[0])
assert 0.03 < nm < 0.08 and 0 < dm < nm, (nm, dm)
assert np.load('dn.npy').shape == (300, 784)
assert plt.imread('dn.png').shape[:2] == (3 * 86 + 2, 8 * 86 + 2)"
expect 0 "noise mask:0.5" "$AECC" denoise "$FA" $W --noise mask:0.5 -o dm.npy
expect 1 "adds no noise to its input" "$AECC" denoise "$FA" $W -o dm.npy
expect 1 "expected gaussian:STD" "$AECC" denoise "$FA" $W --noise salt:1 -o dm.npy

# ---- sample
expect 0 "64 draws from the prior" "$AECC" sample "$V" --weights vae.st --seed 3 -o s1.npy --png s1.png
expect 0 "" "$AECC" sample "$V" --weights vae.st --seed 3 --n 10 -o s2.npy
expect 0 "" "$AECC" sample "$V" --weights vae.st --seed 4 -o s3.npy
npcheck "sample: [n, 784] in (0, 1), rows fixed by the seed, a square grid" "
a, b, c = np.load('s1.npy'), np.load('s2.npy'), np.load('s3.npy')
assert a.shape == (64, 784) and (a > 0).all() and (a < 1).all()
assert np.abs(a[:10] - b).max() < 1e-6 and np.abs(a - c).max() > 0.1
assert plt.imread('s1.png').shape[:2] == (8 * 86 + 2, 8 * 86 + 2)"
expect 0 "one row per class" "$AECC" sample "$top/examples/cvae.ae" --weights cvae.st --cols 6 -o cs.npy --png cs.png
expect 0 "" "$AECC" sample "$top/examples/cvae.ae" --weights cvae.st --label 3 --n 6 -o c3.npy
npcheck "sample a conditional VAE: a row per class; --label k gives that row" "
a, b = np.load('cs.npy'), np.load('c3.npy')
assert a.shape == (60, 784) and np.abs(a[18:24] - b).max() < 1e-6 and np.abs(a[:6] - b).max() > 0.01
assert plt.imread('cs.png').shape[:2] == (10 * 86 + 2, 6 * 86 + 2)"
expect 1 "has no prior to sample from" "$AECC" sample "$FA" --weights fashion_ae.st -o x.npy
expect 1 "--label 10: model cvae has classes 0..9" "$AECC" sample "$top/examples/cvae.ae" --weights cvae.st --label 10 -o x.npy

# ---- interpolate
expect 0 "lerp from sample 2 to sample 7 in 5 steps" "$AECC" interpolate "$FA" $W --from 2 --to 7 --steps 5 -o in.npy --png in.png
npcheck "interpolate: the ends decode the two samples' codes" "
a = np.load('in.npy'); f = np.load('ref-fashion_ae/decoded.npy')
assert a.shape == (5, 784) and np.abs(a[0] - f[2]).max() < 1e-5 and np.abs(a[4] - f[7]).max() < 1e-5
assert plt.imread('in.png').shape[:2] == (86 + 2, 5 * 86 + 2)"
expect 0 "slerp" "$AECC" interpolate "$V" --weights vae.st --data test.npy --slerp -o sl.npy
expect 0 "unit 4 of sample 0's code from -3 to 3" "$AECC" interpolate "$V" --weights vae.st --data test.npy --traverse 4 --steps 7 -o tr.npy
npcheck "interpolate --traverse: one unit varies, the decodes change along it" "
a = np.load('tr.npy'); assert a.shape == (7, 784) and np.abs(a[0] - a[6]).max() > 0.01"
expect 1 "--from 300 and --to 1 must be sample numbers below 300" "$AECC" interpolate "$FA" $W --from 300 -o x.npy
expect 1 "--traverse 32: the code has units 0..31" "$AECC" interpolate "$FA" $W --traverse 32 -o x.npy

# ---- probe, plots
expect 0 "test accuracy on the codes" "$AECC" probe "$FA" --weights fashion_ae.st --epochs 2 -o probe.csv --limit 3000
npcheck "probe: two accuracies well above chance" "
a = np.loadtxt('probe.csv', delimiter=',', skiprows=1); assert a.shape == (2,) and (a > 0.5).all() and (a <= 1).all(), a"
expect 0 "300 codes, coloured by class" "$AECC" plot-latent "$FA" $W --labels test-labels.npy -o lat.png
expect 0 "2 runs" "$AECC" plot-loss fashion_ae.csv vae.csv -o loss.png
npcheck "the charts decode, and are not blank" "
for f in ('lat.png', 'loss.png'):
    im = plt.imread(f); assert im.shape[0] > 300 and im.shape[1] > 300 and im.std() > 0.05, (f, im.shape)"
expect 1 "not a training log" "$AECC" plot-loss wide.csv s.csv -o bad.png
ok "a failed chart leaves no file" test ! -e bad.png

# ---- pictures while training (--png-every)
mkdir -p pics/fa
expect 0 "epoch 2/2" "$AECC" train "$V" --epochs 2 --train train.idx --test test.npy --png-every 1 --png-dir pics --quiet
expect 0 "epoch 1/1" "$AECC" train "$FA" --epochs 1 --train train.idx --test test.npy --png-every 5 --png-dir pics/fa --quiet
npcheck "--png-every: the reconstruction grid of every epoch, a VAE's samples, the last epoch always" "
import os
for e in (1, 2):
    assert plt.imread('pics/reconstruction_%d.png' % e).shape[:2] == (2 * 86 + 2, 8 * 86 + 2)
    assert plt.imread('pics/sample_%d.png' % e).shape[:2] == (8 * 86 + 2, 8 * 86 + 2)
assert os.listdir('pics/fa') == ['reconstruction_1.png'], os.listdir('pics/fa')"
expect 2 "--png-every" "$AECC" train "$FA" --png-every 0

# ---- bad input: a clear message, exit 1, nothing written
expect 1 "conv_ae.st" "$AECC" encode "$FA" --weights conv_ae.st --data test.npy -o bad.npy
expect 1 "wide.csv: samples have 10 values, model input 'x' needs 784" "$AECC" encode "$FA" --weights fashion_ae.st --data wide.csv -o bad.npy
expect 1 "short-labels.npy: 7 labels for the 300 samples" "$AECC" score "$FA" $W --labels short-labels.npy --threshold 1 --normal 0-8
expect 1 "classes '12x'" "$AECC" score "$FA" $W --labels test-labels.npy --threshold 1 --normal 12x
expect 1 "no sample is of the classes asked for" "$AECC" score "$FA" $W --train-data train.idx --train-labels train-labels.idx --classes 200
expect 1 "cannot create a temporary file" "$AECC" encode "$FA" $W -o /nonexistent/dir/z.npy
ok "no output of a failed command is left" test ! -e bad.npy
expect 2 "--weights FILE is required" "$AECC" encode "$FA" -o z.npy
expect 2 "unknown option '--frobnicate'" "$AECC" sample "$V" --weights vae.st --frobnicate
expect 0 "usage: aecc score FILE.ae --weights" "$AECC" score "$FA" --help
expect 0 "--contamination F" "$AECC" score "$FA" --help
ls ./*.tmp.* >/dev/null 2>&1 && { fail=$((fail + 1)); echo "FAIL: temporary files left: $(ls ./*.tmp.*)"; }

echo "use: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
