#!/usr/bin/python3
"""torch_train.py - train the PyTorch twin of a model (NAME_torch.py from
`aecc emit`) the way the generated trainer does: same initialisation
scheme, Adam settings, batch size, epochs and shuffled mini-batches
(drop_last=False), reporting the test loss of every epoch.

usage: torch_train.py FILE.ae [--epochs N] [--threads N] [--seed N]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import aecc_py  # noqa: E402

FASHION = "/usr/share/datasets/fashion-mnist/"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--aecc", default=os.environ.get("AECC", "build/bin/aecc"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    work = tempfile.mkdtemp(prefix="aecc-torch-")
    subprocess.run([args.aecc, "emit", args.model, "-o", work], check=True)
    mod = aecc_py.load_module(next(os.path.join(work, f) for f in os.listdir(work) if f.endswith("_torch.py")))
    epochs = args.epochs or mod.EPOCHS
    seed = mod.SEED if args.seed is None else args.seed
    torch.manual_seed(seed)

    def load(part, shape, scale, onehot):
        """One input's samples of Fashion-MNIST's `part` ("train" or "t10k"):
        the images, or the labels as one-hot rows for a label input."""
        if onehot:
            raw = aecc_py.read_idx(f"{FASHION}{part}-labels-idx1-ubyte.gz")
            return F.one_hot(torch.from_numpy(raw.astype(np.int64)), onehot).float()
        raw = aecc_py.read_idx(f"{FASHION}{part}-images-idx3-ubyte.gz")
        return torch.from_numpy(raw.reshape(len(raw), *shape).astype(np.float32) * np.float32(scale))

    train = [load("train", *spec[1:]) for spec in mod.INPUTS]
    test = [load("t10k", *spec[1:]) for spec in mod.INPUTS]
    n_train, n_test = len(train[0]), len(test[0])
    params = {k: v.requires_grad_(True) for k, v in mod.init_params(seed).items()}
    opt = torch.optim.Adam(list(params.values()), **mod.ADAM)
    params.update(mod.init_buffers())
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        perm, total = torch.randperm(n_train), 0.0
        for i in range(0, n_train, mod.BATCH):
            rows = perm[i:i + mod.BATCH]
            loss, _, _ = mod.run(params, [t[rows] for t in train])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(rows)
        dt = time.perf_counter() - t0
        # Batches of the model's size, weighted by their sizes, as the
        # trainer reports it (so summed losses are in the same units). With
        # autograd on: a penalty such as the contractive one differentiates
        # the model inside its own loss.
        b = mod.BATCH
        tl = sum(mod.run(params, [t[i:i + b] for t in test], training=False)[0].item()
                 * len(test[0][i:i + b]) for i in range(0, n_test, b)) / n_test
        print(f"epoch {epoch}/{epochs}  train_loss {total / n_train:.4f}  test_loss {tl:.4f}  "
              f"{n_train / dt / 1000:.1f}k samples/s", flush=True)


if __name__ == "__main__":
    main()
