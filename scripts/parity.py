#!/usr/bin/python3
"""parity.py - check a model compiled by aecc against the same model in
PyTorch (the NAME_torch.py that `aecc emit` writes).

Both start from the same initial weights (written here with PyTorch's
default initialisation, loaded by the trainer with --init) and train on the
same first STEPS batches without shuffling. The check passes when
  - the loss of every step agrees to LOSS_TOL (relative), and
  - every parameter's change agrees to TOL of that tensor's largest change:
    max|delta_aecc - delta_torch| <= TOL * max|delta_torch|.

usage: parity.py FILE.ae [--steps 5] [--tol 1e-3] [--loss-tol 1e-5]
                 [--data IDX] [--seed 0] [--work DIR] [--aecc PATH]
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import aecc_py  # noqa: E402

FASHION = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--tol", type=float, default=1e-3)
    ap.add_argument("--loss-tol", type=float, default=1e-5)
    ap.add_argument("--data", default=FASHION)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dtype", choices=["f32", "f64"], default="f32")
    ap.add_argument("--work")
    ap.add_argument("--aecc", default=os.environ.get("AECC", "build/bin/aecc"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    work = args.work or tempfile.mkdtemp(prefix="aecc-parity-")
    os.makedirs(work, exist_ok=True)

    dtype = ["--dtype", args.dtype]
    tdtype = torch.float64 if args.dtype == "f64" else torch.float32
    subprocess.run([args.aecc, "emit", args.model, "-o", work] + dtype, check=True)
    subprocess.run([args.aecc, "build", args.model, "-o", work] + dtype, check=True)
    mod = aecc_py.load_module(next(os.path.join(work, f) for f in os.listdir(work)
                                   if f.endswith("_torch.py")))
    exe = os.path.join(work, mod.NAME + "-train")

    # The first steps * batch samples, as the trainer will see them.
    name, shape, scale = mod.INPUTS[0]
    raw = aecc_py.read_idx(args.data)[: args.steps * mod.BATCH]
    subset = os.path.join(work, "subset.idx")
    aecc_py.write_idx(subset, raw)
    data = torch.from_numpy(raw.reshape(len(raw), *shape).astype(np.float32) * np.float32(scale))
    data = data.to(tdtype) if args.dtype == "f32" else torch.from_numpy(raw.reshape(len(raw), *shape) * scale)

    init = mod.init_params(args.seed, tdtype)
    init_path = os.path.join(work, "init.safetensors")
    aecc_py.write_safetensors(init_path, {k: v.numpy() for k, v in init.items()})

    after_path, log_path = os.path.join(work, "after.safetensors"), os.path.join(work, "log.csv")
    subprocess.run([exe, "--init", init_path, "--no-shuffle", "--no-noise", "--steps", str(args.steps),
                    "--epochs", "1", "--train", subset, "--save", after_path, "--log", log_path,
                    "--quiet"], check=True, stdout=subprocess.DEVNULL)
    after_c = aecc_py.read_safetensors(after_path)
    with open(log_path) as f:
        losses_c = [float(r["loss"]) for r in csv.DictReader(f)]

    params = {k: v.clone().requires_grad_(True) for k, v in init.items()}
    opt = torch.optim.Adam(params.values(), **mod.ADAM)
    losses_t = []
    for s in range(args.steps):
        batch = data[s * mod.BATCH:(s + 1) * mod.BATCH]
        loss, _, _ = mod.run(params, [batch], training=True, noise=False)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses_t.append(loss.item())

    ok = len(losses_c) == args.steps
    if not ok:
        print(f"{mod.NAME}: trainer logged {len(losses_c)} steps, expected {args.steps}")
    for s, (lc, lt) in enumerate(zip(losses_c, losses_t)):
        rel = abs(lc - lt) / abs(lt)
        bad = rel > args.loss_tol
        ok &= not bad
        print(f"{mod.NAME}: step {s + 1} loss aecc {lc:.8g} torch {lt:.8g} rel {rel:.2e}{'  FAIL' if bad else ''}")
    for k, v in params.items():
        dt = v.detach().numpy() - init[k].numpy()
        dc = after_c[k].astype(np.float64) - init[k].numpy()
        big = np.abs(dt).max()
        err = np.abs(dc - dt).max() / big if big > 0 else np.abs(dc).max()
        bad = not err <= args.tol
        ok &= not bad
        print(f"{mod.NAME}: {k:28s} change {big:.3e} rel err {err:.2e}{'  FAIL' if bad else ''}")
    print(f"{mod.NAME}: parity {'ok' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
