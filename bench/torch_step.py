#!/usr/bin/python3
"""torch_step.py - time PyTorch's train step for the PyTorch twin of a model
(NAME_torch.py from `aecc emit`): same batch size and Adam settings,
synthetic inputs, THREADS threads. Prints samples per second in the best
window of at least WINDOW seconds, as bench/step.c does.

usage: torch_step.py NAME_torch.py THREADS [SECONDS]
"""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
import aecc_py  # noqa: E402


def main():
    mod = aecc_py.load_module(sys.argv[1])
    torch.set_num_threads(int(sys.argv[2]))
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 3.0
    inputs = []
    for entry in mod.INPUTS:
        shape = entry[1]
        inputs.append(torch.rand([mod.BATCH] + list(shape)))
    params = {k: v.requires_grad_(True) for k, v in mod.init_params(1).items()}
    opt = torch.optim.Adam(list(params.values()), **mod.ADAM)
    params.update(mod.init_buffers())

    def step():
        loss, _, _ = mod.run(params, inputs)
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    window, best, start = 0.25, 0.0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        steps, t0 = 0, time.perf_counter()
        while True:
            step()
            steps += 1
            t = time.perf_counter() - t0
            if t >= window:
                break
        best = max(best, steps * mod.BATCH / t)
    print(f"{best:.1f}")


if __name__ == "__main__":
    main()
