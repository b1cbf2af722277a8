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
    _, shape, scale = mod.INPUTS[0]

    def load(name):
        raw = aecc_py.read_idx(FASHION + name)
        return torch.from_numpy(raw.reshape(len(raw), *shape).astype(np.float32) * np.float32(scale))

    train, test = load("train-images-idx3-ubyte.gz"), load("t10k-images-idx3-ubyte.gz")
    params = {k: v.requires_grad_(True) for k, v in mod.init_params(seed).items()}
    opt = torch.optim.Adam(params.values(), **mod.ADAM)
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        perm, total = torch.randperm(len(train)), 0.0
        for i in range(0, len(train), mod.BATCH):
            batch = train[perm[i:i + mod.BATCH]]
            loss, _, _ = mod.run(params, [batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(batch)
        dt = time.perf_counter() - t0
        with torch.no_grad():
            tl = sum(mod.run(params, [test[i:i + 1000]], training=False)[0].item() * len(test[i:i + 1000])
                     for i in range(0, len(test), 1000)) / len(test)
        print(f"epoch {epoch}/{epochs}  train_loss {total / len(train):.4f}  test_loss {tl:.4f}  "
              f"{len(train) / dt / 1000:.1f}k samples/s", flush=True)


if __name__ == "__main__":
    main()
