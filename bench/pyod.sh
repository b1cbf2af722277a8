#!/bin/sh
# pyod.sh - anomaly detection on Fashion-MNIST, aecc against PyOD: train on
# classes 0-8 of the training set, score the whole test set, with class 9
# (ankle boot) as the anomaly; ROC-AUC and wall time (training plus
# scoring) side by side in one run. A benchmark, not a test: PyOD comes
# from PyPI into a virtual environment (that sees Debian's numpy and
# torch), made on first use under $AECC_BENCH_VENV (default
# ~/.cache/aecc/venv-pyod). EPOCHS (default 5) applies to every model.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
AECC=${AECC:-$top/build/bin/aecc}
EPOCHS=${EPOCHS:-5}
venv=${AECC_BENCH_VENV:-$HOME/.cache/aecc/venv-pyod}
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import pyod' 2>/dev/null; then
	echo "pyod.sh: installing PyOD into $venv"
	/usr/bin/python3 -m venv --system-site-packages "$venv"
	"$venv/bin/pip" install -q pyod tqdm
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-SKYLAKEX} OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

# aecc NAME: train on classes 0-8, score the test set; prints "NAME AUC SECONDS".
aecc_row() {
	t0=$(date +%s.%N)
	"$AECC" train "$top/examples/$1.ae" --classes 0-8 --epochs "$EPOCHS" --threads 1 --quiet \
		--save "$work/$1.st" >"$work/$1.train" 2>&1
	"$AECC" score "$top/examples/$1.ae" --weights "$work/$1.st" --classes 0-8 --normal 0-8 \
		--threads 1 >"$work/$1.score" 2>&1
	t1=$(date +%s.%N)
	auc=$(sed -n 's/^ROC-AUC \([0-9.]*\).*/\1/p' "$work/$1.score")
	echo "aecc $1 $auc $(echo "$t1 - $t0" | bc)"
}
{
	aecc_row fashion_ae
	aecc_row vae
	"$venv/bin/python" - "$EPOCHS" <<'PYEOF'
import sys, time, gzip
import numpy as np, torch
from sklearn.metrics import roc_auc_score
torch.set_num_threads(1)
def idx(p):
    with gzip.open(p) as f:
        d = f.read()
    dims = [int.from_bytes(d[4 + 4 * i:8 + 4 * i], "big") for i in range(d[3])]
    return np.frombuffer(d, np.uint8, offset=4 + 4 * d[3]).reshape(dims)
D = "/usr/share/datasets/fashion-mnist/"
x = idx(D + "train-images-idx3-ubyte.gz").reshape(-1, 784) / 255.0
y = idx(D + "train-labels-idx1-ubyte.gz")
xt = idx(D + "t10k-images-idx3-ubyte.gz").reshape(-1, 784) / 255.0
yt = idx(D + "t10k-labels-idx1-ubyte.gz")
x = x[y != 9].astype(np.float32)
xt = xt.astype(np.float32)
epochs = int(sys.argv[1])
from pyod.models.auto_encoder import AutoEncoder
rows = [("AutoEncoder", lambda: AutoEncoder(hidden_neuron_list=[512, 256, 32], epoch_num=epochs, batch_size=128,
                                            lr=1e-3, preprocessing=False, batch_norm=False, dropout_rate=0,
                                            optimizer_params={"weight_decay": 0}, verbose=0))]
try:
    from pyod.models.vae import VAE
    rows.append(("VAE", lambda: VAE(encoder_neuron_list=[512, 256], decoder_neuron_list=[256, 512], latent_dim=32,
                                    epoch_num=epochs, batch_size=128, lr=1e-3, preprocessing=False,
                                    output_activation_name="sigmoid", dropout_rate=0,
                                    optimizer_params={"weight_decay": 0}, verbose=0)))
except ImportError:
    pass
for name, make in rows:
    t0 = time.time()
    m = make()
    m.fit(x)
    s = m.decision_function(xt)
    print("pyod %s %.4f %.1f" % (name, roc_auc_score(yt == 9, s), time.time() - t0))
PYEOF
} | awk 'BEGIN { print "| detector | ROC-AUC (class 9 anomalous) | train + score, s |"; print "|---|---|---|" }
	{ printf "| %s %s | %s | %.1f |\n", $1, $2, $3, $4 }'
