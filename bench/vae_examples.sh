#!/bin/sh
# vae_examples.sh - pytorch/examples' VAE (bench/vae_examples.ae) trained
# by `aecc train` on Fashion-MNIST, in the numbers pytorch/examples prints:
# nats per image, the train loss the mean over the last epoch of each
# step's loss before its update, the test loss the negative ELBO with z
# drawn (its model samples in evaluation too). The trainer runs with
# --test-loss sampled; the per-image test losses, sampled (the mean of
# DRAWS draws, default 10) and with z = mu, are then computed from the
# saved weights by the PyTorch twin over all 10,000 test images (the
# trainer reports a summed loss per batch of 128, not per image).
#
#   sh bench/vae_examples.sh      (about 10 epochs of a 784-400-20 VAE)
set -eu
AECC=${AECC:-build/bin/aecc}
PY=${PYTHON:-/usr/bin/python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$AECC" train bench/vae_examples.ae --test-loss sampled --quiet --log "$work/log.csv" --save "$work/w.st" |
	tee "$work/out"
"$AECC" emit bench/vae_examples.ae -o "$work/emit" >/dev/null
"$PY" - "$work" "${DRAWS:-10}" <<'PYEOF'
import csv, os, sys
import numpy as np
import torch
sys.path.insert(0, "scripts")
import aecc_py
work, draws = sys.argv[1], int(sys.argv[2])
mod = aecc_py.load_module(os.path.join(work, "emit", "vae_examples_torch.py"))
with open(os.path.join(work, "log.csv")) as f:
    rows = [r for r in csv.DictReader(f) if r["set"] == "train"]
last = max(int(r["epoch"]) for r in rows)
steps = [r for r in rows if int(r["epoch"]) == last]
n_train = 60000
print(f"train loss, epoch {last}: {sum(float(r['loss']) for r in steps) / n_train:.2f} nats per image "
      f"(bce {sum(float(r['bce']) for r in steps) / n_train:.2f}, kl {sum(float(r['kl_normal']) for r in steps) / n_train:.2f})")
p = {k: torch.from_numpy(v) for k, v in aecc_py.read_safetensors(os.path.join(work, "w.st")).items()}
raw = aecc_py.read_idx("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
x = torch.from_numpy(raw.reshape(len(raw), 784).astype(np.float32) * np.float32(1 / 255))
torch.manual_seed(1)
with torch.no_grad():
    def total(training):
        return sum(mod.run(p, [x[i:i + 128]], training=training, noise=training)[0].item()
                   for i in range(0, len(x), 128)) / len(x)
    mean = total(False)
    sampled = [total(True) for _ in range(draws)]
print(f"test loss: {np.mean(sampled):.2f} nats per image with z drawn (mean of {draws} draws, "
      f"sd {np.std(sampled):.2f}), {mean:.2f} with z = mu")
PYEOF
