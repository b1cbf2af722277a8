#!/usr/bin/python3
"""torch_step.py - time PyTorch's train step for the PyTorch twin of a model
(NAME_torch.py from `aecc emit`): same batch size and Adam settings,
synthetic inputs, THREADS threads. Prints samples per second in the best
window of at least WINDOW seconds, as bench/step.c does.

usage: torch_step.py NAME_torch.py THREADS [SECONDS] [--bf16] [--compile] [--cpu]

--bf16 runs the forward pass and the loss under
torch.autocast("cpu", dtype=torch.bfloat16) (the products in bf16, the
weights, gradients and Adam in fp32), as PyTorch users switch on mixed
precision; --compile trains torch.compile(run) (Inductor: C++/OpenMP code
generated from the graph) instead of eager PyTorch, its compile time not
counted; --cpu times the windows by the process's CPU time (for one
thread: the rate while it had the core), as bench/step.c's `cpu`. The
thread count is pinned before torch loads: its own pool
(torch.set_num_threads) and the BLAS and OpenMP libraries under it
(OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS).
"""
import os
import sys
import time

ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
FLAGS = {a for a in sys.argv[1:] if a.startswith("--")}
THREADS = int(ARGS[1])
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(THREADS)

import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
import aecc_py  # noqa: E402


def main():
    unknown = FLAGS - {"--bf16", "--compile", "--cpu"}
    if unknown or len(ARGS) < 2:
        sys.exit(f"usage: torch_step.py NAME_torch.py THREADS [SECONDS] [--bf16] [--compile] [--cpu] ({' '.join(unknown)}?)")
    mod = aecc_py.load_module(ARGS[0])
    torch.set_num_threads(THREADS)
    seconds = float(ARGS[2]) if len(ARGS) > 2 else 3.0
    inputs = []
    for entry in mod.INPUTS:
        shape = entry[1]
        inputs.append(torch.rand([mod.BATCH] + list(shape)))
    params = {k: v.requires_grad_(True) for k, v in mod.init_params(1).items()}
    opt = torch.optim.Adam(list(params.values()), **mod.ADAM)
    params.update(mod.init_buffers())
    run = torch.compile(mod.run) if "--compile" in FLAGS else mod.run
    bf16 = "--bf16" in FLAGS

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss, _, _ = run(params, inputs)
        opt.zero_grad()
        loss.float().backward()
        opt.step()

    for _ in range(3):
        step()
    clock = time.process_time if "--cpu" in FLAGS else time.perf_counter
    window, best, start = 0.25, 0.0, clock()
    while clock() - start < seconds:
        steps, t0 = 0, clock()
        while True:
            step()
            steps += 1
            t = clock() - t0
            if t >= window:
                break
        best = max(best, steps * mod.BATCH / t)
    print(f"{best:.1f}")


if __name__ == "__main__":
    main()
