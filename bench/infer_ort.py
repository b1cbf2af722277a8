"""infer_ort.py - the inference anchor of `make bench` (bench/infer.sh):
the PyTorch twin of a model (NAME_torch.py from `aecc emit`) in evaluation
form exported to ONNX by the current PyTorch, and run by onnxruntime on one
thread. Runs in the benchmark's own virtual environment, never in tests.

    infer_ort.py weights NAME_torch.py OUT.safetensors
        the twin's initial weights (seed 1), for aecc export --weights
    infer_ort.py time NAME_torch.py SECONDS BATCH...
        calls per second of the model's forward at each BATCH samples a
        call, in the best quarter-second window of SECONDS, as bench/infer.c
        times it (one line, one number per batch)
    infer_ort.py floor SECONDS
        the same for a graph of one Identity op on 784 values: what a call
        of onnxruntime's Python API costs by itself
"""
import logging
import os
import sys
import tempfile
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
import aecc_py  # noqa: E402


def best_rate(call, seconds):
    for _ in range(3):
        call()
    best, start = 0.0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        calls, t0 = 0, time.perf_counter()
        while True:
            call()
            calls += 1
            t = time.perf_counter() - t0
            if t >= 0.25:
                break
        best = max(best, calls / t)
    return best


def session(path):
    import onnxruntime as ort
    opt = ort.SessionOptions()
    opt.intra_op_num_threads = 1
    opt.inter_op_num_threads = 1
    opt.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opt.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, opt, providers=["CPUExecutionProvider"])


def main():
    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)
    import torch
    torch.set_num_threads(1)
    what = sys.argv[1]
    if what == "floor":
        class Same(torch.nn.Module):
            def forward(self, x):
                return x + 0
        path = os.path.join(tempfile.mkdtemp(), "floor.onnx")
        x = torch.rand(1, 784)
        torch.onnx.export(Same().eval(), (x,), path, input_names=["x"], external_data=False, verbose=False)
        s = session(path)
        feed = {"x": x.numpy()}
        print(f"{best_rate(lambda: s.run(None, feed), float(sys.argv[2])):.1f}")
        return
    mod = aecc_py.load_module(sys.argv[2])
    params = mod.init_params(1)
    params.update(mod.init_buffers())
    if what == "weights":
        aecc_py.write_safetensors(sys.argv[3], {k: v.numpy() for k, v in params.items()})
        return
    seconds, rates = float(sys.argv[3]), []

    class Forward(torch.nn.Module):
        def forward(self, *inputs):
            return mod.run(params, list(inputs), training=False, noise=False)[2]

    for batch in map(int, sys.argv[4:]):
        g = torch.Generator().manual_seed(12345)
        inputs = tuple(torch.rand([batch] + list(shape), generator=g) for _, shape, _, _ in mod.INPUTS)
        names = [name for name, _, _, _ in mod.INPUTS]
        path = os.path.join(tempfile.mkdtemp(), "%s-%d.onnx" % (mod.NAME, batch))
        with torch.no_grad():
            torch.onnx.export(Forward().eval(), inputs, path, input_names=names, external_data=False, verbose=False)
            want = Forward()(*inputs).numpy()
        s = session(path)
        feed = {n: t.numpy() for n, t in zip(names, inputs)}
        got = s.run(None, feed)[0]
        if not np.allclose(got.reshape(want.shape), want, rtol=1e-4, atol=1e-5):
            sys.exit(f"infer_ort.py: onnxruntime's {mod.NAME} differs from PyTorch's")
        rates.append(f"{best_rate(lambda: s.run(None, feed), seconds):.1f}")
    print(" ".join(rates))


if __name__ == "__main__":
    main()
