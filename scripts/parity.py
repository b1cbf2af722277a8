#!/usr/bin/python3
"""parity.py - check a model compiled by aecc against the same model in
PyTorch (the NAME_torch.py that `aecc emit` writes).

Both start from the same initial weights (written here with PyTorch's
default initialisation, loaded by the trainer with --init) and train on the
same first STEPS batches without shuffling: every input reads the images
of --data, except label inputs (one-hot), which read --labels. A model
with a learning-rate schedule trains its own epochs over those batches,
with PyTorch's scheduler of the same name stepped after each (plateau with
the validation loss of the next 2 batches, as the trainer's --validation).
The check passes when
  - the loss of every step, and each of its loss terms, agrees to LOSS_TOL
    (relative), and so does the learning rate of every step and every
    validation loss, and
  - every parameter's change agrees to TOL of that tensor's largest change:
    max|delta_aecc - delta_torch| <= TOL * max|delta_torch|, and
  - every buffer (BatchNorm's running statistics) agrees to BUFFER_TOL of
    its largest value (default 1e-5 in f32, 1e-10 in f64), and every
    counter (num_batches_tracked) exactly.

With --precision bf16 aecc multiplies bf16 operands (rounded to nearest
even) with fp32 sums, and PyTorch either does the same (--reference
exact: F.linear, F.conv2d and F.conv_transpose2d take rounded operands,
and so do the products of their gradients, the incoming gradient rounded
too; bias gradients are fp32 sums) or runs under
torch.autocast("cpu", torch.bfloat16) (--reference autocast), which also
rounds every product's result to bf16: a looser comparison.

usage: parity.py FILE.ae [--steps 5] [--tol 1e-3] [--loss-tol 1e-5] [--buffer-tol X]
                 [--precision fp32|bf16] [--reference exact|autocast]
                 [--data IDX] [--labels IDX] [--seed 0] [--work DIR] [--aecc PATH]
"""
import contextlib
import argparse
import csv
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import aecc_py  # noqa: E402

FASHION = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
FASHION_LABELS = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz"


def input_tensor(raw, shape, scale, onehot, dtype):
    """Samples as the trainer feeds them: one-hot rows of `onehot` classes
    for labels, otherwise the values times the scale in the element type."""
    tdtype = torch.float64 if dtype == "f64" else torch.float32
    if onehot:
        return F.one_hot(torch.from_numpy(raw.astype(np.int64)), onehot).to(tdtype)
    if dtype == "f32":
        return torch.from_numpy(raw.reshape(len(raw), *shape).astype(np.float32) * np.float32(scale))
    return torch.from_numpy(raw.reshape(len(raw), *shape) * scale)


def bf16(t):
    """t rounded to bf16 (to nearest even), in t's own dtype."""
    return t.to(torch.bfloat16).to(t.dtype)


def bf16_product(op):
    """op(x, w, b, **kw) (a linear map of x and of w, plus b) as aecc's
    bf16 products compute it: x and w rounded to bf16 going forward, and
    going back the incoming gradient too, in the products that give x's and
    w's gradients; b's gradient is the fp32 sum of the incoming one."""
    class Product(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, w, b, kw):
            ctx.save_for_backward(x, w, b)
            ctx.kw = kw
            return op(bf16(x), bf16(w), b, **kw)

        @staticmethod
        def backward(ctx, dy):
            x, w, b = ctx.saved_tensors
            with torch.enable_grad():
                xr, wr = bf16(x).requires_grad_(), bf16(w).requires_grad_()
                gx, gw = torch.autograd.grad(op(xr, wr, None, **ctx.kw), [xr, wr], bf16(dy))
                gb = None
                if b is not None:
                    br = b.detach().requires_grad_()
                    gb, = torch.autograd.grad(op(xr.detach(), wr.detach(), br, **ctx.kw), [br], dy)
            return gx, gw, gb, None

    return lambda x, w, b=None, **kw: Product.apply(x, w, b, kw)


@contextlib.contextmanager
def bf16_reference(mod, reference):
    """PyTorch's products as aecc's bf16 ones (exact) or under autocast."""
    if reference == "autocast":
        with torch.autocast("cpu", dtype=torch.bfloat16):
            yield
        return
    saved = {name: getattr(F, name) for name in ("linear", "conv2d", "conv_transpose2d")}
    try:
        for name, op in saved.items():
            setattr(F, name, bf16_product(op))
        yield
    finally:
        for name, op in saved.items():
            setattr(F, name, op)


def compare_buffers(name, torch_buffers, after_c, tol):
    """The buffers PyTorch updated in place against the trainer's saved ones:
    reals to tol of the tensor's largest value, counters exactly."""
    ok = True
    for k, v in torch_buffers.items():
        t, c = v.numpy(), after_c[k]
        if t.dtype == np.int64:
            bad = c.shape != t.shape or not np.array_equal(c, t)
            print(f"{name}: buffer {k:28s} aecc {c} torch {t}{'  FAIL' if bad else ''}")
        else:
            err = np.abs(c.astype(np.float64) - t).max() / max(np.abs(t).max(), 1e-30)
            bad = not err <= tol
            print(f"{name}: buffer {k:28s} rel diff {err:.2e}{'  FAIL' if bad else ''}")
        ok &= not bad
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--tol", type=float, default=1e-3)
    ap.add_argument("--loss-tol", type=float, default=1e-5)
    ap.add_argument("--buffer-tol", type=float)
    ap.add_argument("--data", default=FASHION)
    ap.add_argument("--labels", default=FASHION_LABELS)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dtype", choices=["f32", "f64"], default="f32")
    ap.add_argument("--kernels", choices=["simd", "scalar"], default="simd")
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    ap.add_argument("--reference", choices=["exact", "autocast"], default="exact")
    ap.add_argument("--norm-tol", type=float,
                    help="judge each parameter's change by its norm alone: |delta_aecc - delta_torch| <= "
                         "NORM_TOL |delta_torch| (bf16: a gradient element that rounds the other way "
                         "changes a row of the next gradient)")
    ap.add_argument("--losses-only", action="store_true",
                    help="report the weights' changes but judge only the losses")
    ap.add_argument("--work")
    ap.add_argument("--aecc", default=os.environ.get("AECC", "build/bin/aecc"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    work = args.work or tempfile.mkdtemp(prefix="aecc-parity-")
    os.makedirs(work, exist_ok=True)

    dtype = ["--dtype", args.dtype, "--kernels", args.kernels, "--precision", args.precision]
    tdtype = torch.float64 if args.dtype == "f64" else torch.float32
    subprocess.run([args.aecc, "emit", args.model, "-o", work] + dtype, check=True)
    subprocess.run([args.aecc, "build", args.model, "-o", work] + dtype, check=True)
    mod = aecc_py.load_module(next(os.path.join(work, f) for f in os.listdir(work)
                                   if f.endswith("_torch.py")))
    exe = os.path.join(work, mod.NAME + "-train")

    # The first steps * batch samples of every input, as the trainer will
    # see them, and with a plateau schedule the next 2 batches to validate.
    epochs = mod.EPOCHS if mod.SCHEDULE else 1
    plateau = bool(mod.SCHEDULE) and mod.SCHEDULE["kind"] == "plateau"
    n, n_val = args.steps * mod.BATCH, 2 * mod.BATCH if plateau else 0
    data, val, feeds = [], [], []
    for i, (name, shape, scale, onehot) in enumerate(mod.INPUTS):
        raw = aecc_py.read_idx(args.labels if onehot else args.data)[: n + n_val]
        for part, rows, opt, into in (("train", raw[:n], "--train", data), ("val", raw[n:], "--validation", val)):
            if not len(rows):
                continue
            subset = os.path.join(work, f"{part}-{name}.idx")
            aecc_py.write_idx(subset, rows)
            feeds += [opt if i == 0 else f"{opt}-{name}", subset]
            into.append(input_tensor(rows, shape, scale, onehot, args.dtype))

    init = mod.init_params(args.seed, tdtype)
    buffers = mod.init_buffers(tdtype)
    init_path = os.path.join(work, "init.safetensors")
    aecc_py.write_safetensors(init_path, {k: v.numpy() for k, v in {**init, **buffers}.items()})

    after_path, log_path = os.path.join(work, "after.safetensors"), os.path.join(work, "log.csv")
    run = ["--steps", str(args.steps), "--epochs", "1"] if epochs == 1 else ["--epochs", str(epochs)]
    subprocess.run([exe, "--init", init_path, "--no-shuffle", "--no-noise", "--save", after_path, "--log", log_path,
                    "--quiet"] + run + feeds, check=True, stdout=subprocess.DEVNULL)
    after_c = aecc_py.read_safetensors(after_path)
    with open(log_path) as f:
        rows = list(csv.DictReader(f))
    term_names = [name for name, _ in mod.LOSS_TERMS] if len(mod.LOSS_TERMS) > 1 else []
    steps_c = [r for r in rows if r["set"] == "train"]
    losses_c = [float(r["loss"]) for r in steps_c]
    lrs_c = [float(r["lr"]) for r in steps_c]
    terms_c = [[float(r[k]) for k in term_names] for r in steps_c]
    val_c = [float(r["loss"]) for r in rows if r["set"] == "val"]

    def validation_loss(p, rounded):
        """The sample-weighted mean evaluation loss of the validation batches
        (with bf16 products if rounded)."""
        with torch.no_grad(), bf16_reference(mod, args.reference) if rounded else contextlib.nullcontext():
            return sum(mod.run(p, [v[i:i + mod.BATCH].to(tdtype) for v in val], training=False)[0].item()
                       * len(val[0][i:i + mod.BATCH]) for i in range(0, n_val, mod.BATCH)) / n_val

    def torch_steps(dtype, rounded=args.precision == "bf16"):
        """PyTorch's parameters, losses, terms, learning rates and validation
        losses after the epochs, in dtype (its products bf16 if rounded)."""
        params = {k: v.clone().to(dtype).requires_grad_(True) for k, v in init.items()}
        bufs = {k: v.clone().to(dtype) if v.is_floating_point() else v.clone() for k, v in buffers.items()}
        opt = torch.optim.Adam(params.values(), **mod.ADAM)
        sched = mod.scheduler(opt, epochs) if mod.SCHEDULE else None
        losses, terms, lrs, vals = [], [], [], []
        for epoch in range(epochs):
            for s in range(args.steps):
                batch = [d[s * mod.BATCH:(s + 1) * mod.BATCH].to(dtype) for d in data]
                got = []
                with bf16_reference(mod, args.reference) if rounded else contextlib.nullcontext():
                    loss, _, _ = mod.run({**params, **bufs}, batch, training=True, noise=False, terms=got)
                loss = loss.float() if loss.dtype == torch.bfloat16 else loss
                lrs.append(opt.param_groups[0]["lr"])
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(loss.item())
                terms.append([t.item() for t in got] if term_names else [])
            if plateau:
                vals.append(validation_loss({**params, **bufs}, rounded))
                sched.step(vals[-1])
            elif sched:
                sched.step()
        buffers.update(bufs)
        return params, losses, terms, lrs, vals

    if args.precision == "bf16" and args.reference == "exact":
        # The same steps in fp32, to show that aecc's bf16 run is the bf16
        # reference's and not fp32's: its changes must be at most half as
        # far from the former (over all parameters) as from the latter.
        start = dict(buffers)
        fp32_params = torch_steps(tdtype, rounded=False)[0]
        buffers.clear()
        buffers.update(start)
    params, losses_t, terms_t, lrs_t, val_t = torch_steps(tdtype)

    ok = len(losses_c) == epochs * args.steps and len(val_c) == len(val_t)
    if not ok:
        print(f"{mod.NAME}: trainer logged {len(losses_c)} steps and {len(val_c)} validations, "
              f"expected {epochs * args.steps} and {len(val_t)}")

    def agree(what, c, t, scale=None, tol=None):
        """c against t to the loss tolerance (or tol), relative to t (or to scale)."""
        rel = abs(c - t) / max(abs(scale if scale is not None else t), 1e-300)
        bad = not rel <= (tol or args.loss_tol)
        print(f"{mod.NAME}: {what} aecc {c:.8g} torch {t:.8g} rel {rel:.2e}{'  FAIL' if bad else ''}")
        return not bad

    for s, (lc, lt) in enumerate(zip(losses_c, losses_t)):
        ok &= agree(f"step {s + 1} loss", lc, lt)
        for k, name in enumerate(term_names):
            # a term is compared at the scale of the loss it is part of
            ok &= agree(f"step {s + 1} {name}", terms_c[s][k], terms_t[s][k], max(abs(terms_t[s][k]), abs(lt)))
        if mod.SCHEDULE:
            # the log writes the rate with 9 digits
            ok &= agree(f"step {s + 1} lr", lrs_c[s], lrs_t[s], tol=1e-8)
    for e, (vc, vt) in enumerate(zip(val_c, val_t)):
        ok &= agree(f"epoch {e + 1} val_loss", vc, vt)
    for k, v in params.items():
        dt = v.detach().double().numpy() - init[k].double().numpy()
        dc = after_c[k].astype(np.float64) - init[k].double().numpy()
        big = np.abs(dt).max()
        err = np.abs(dc - dt).max() / big if big > 0 else np.abs(dc).max()
        bad = not err <= args.tol
        note = ""
        if bad and args.dtype == "f32" and big > 0:
            # A gradient element whose true value is below float32 rounding
            # gets a sign by chance, and Adam turns any sign into a whole
            # step (a loss summed over a batch makes such elements common):
            # in f32 a handful of such elements may differ, as long as the
            # tensor as a whole agrees.
            off = int((np.abs(dc - dt) > args.tol * big).sum())
            norm = np.linalg.norm(dc - dt) / np.linalg.norm(dt)
            if off <= max(2, dt.size // 10000) and norm <= args.tol:
                bad = False
            note = f" ({off} of {dt.size} elements off, norm rel err {norm:.2e})"
        if args.norm_tol is not None and big > 0:
            norm = np.linalg.norm(dc - dt) / np.linalg.norm(dt)
            bad = not norm <= args.norm_tol
            note = f" (norm rel err {norm:.2e}, judged)"
        if args.losses_only:
            note += " (not judged)"
            bad = False
        ok &= not bad
        print(f"{mod.NAME}: {k:28s} change {big:.3e} rel err {err:.2e}{note}{'  FAIL' if bad else ''}")
    if args.precision == "bf16" and args.reference == "exact":
        def distance(ref):
            """|aecc's changes - ref's| over all parameters (changes of ref)."""
            sq = [(after_c[k].astype(np.float64) - ref[k].detach().double().numpy()) ** 2 for k in params]
            return np.sqrt(sum(s.sum() for s in sq))
        d_bf16, d_fp32 = distance(params), distance(fp32_params)
        bad = not d_bf16 <= 0.5 * d_fp32
        print(f"{mod.NAME}: distance of the changes to the bf16 reference {d_bf16:.3e}, "
              f"to the fp32 one {d_fp32:.3e}{'  FAIL' if bad else ''}")
        ok &= not bad
    ok &= compare_buffers(mod.NAME, buffers, after_c, args.buffer_tol or (1e-5 if args.dtype == "f32" else 1e-10))
    print(f"{mod.NAME}: parity {'ok' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
