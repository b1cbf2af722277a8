#!/usr/bin/python3
"""round.py PROGRAM - tests/precision/round.c's rounding against PyTorch's
float32 -> bfloat16 conversion (round to nearest, ties to even): the
patterns around every kind of boundary, then random ones. NaNs must stay
NaNs (PyTorch makes every NaN 0x7fc0; aecc keeps the sign and payload)."""
import subprocess
import sys

import numpy as np
import torch

special = [0x00000000, 0x80000000, 0x3f800000, 0x3f808000, 0x3f818000, 0x3f808001, 0x3f807fff,
           0xbf808000, 0xbf818000, 0x7f7fffff, 0x7f7f8000, 0x7f7f7fff, 0xff7fffff, 0x7f800000,
           0xff800000, 0x7f800001, 0x7fc00000, 0xffc00001, 0x7fbfffff, 0x00000001, 0x00008000,
           0x00018000, 0x007fffff, 0x00800000, 0x807fffff]
rng = np.random.default_rng(2026)
bits = np.concatenate([np.array(special, dtype=np.uint32), rng.integers(0, 2**32, 200000, dtype=np.uint32)])
# every 16-bit tie and its neighbours, with random high halves
high = rng.integers(0, 2**16, 2000, dtype=np.uint32) << 16
bits = np.concatenate([bits, high | 0x8000, high | 0x7fff, high | 0x8001])
out = subprocess.run([sys.argv[1]], input=bits.tobytes(), stdout=subprocess.PIPE, check=True).stdout
got = np.frombuffer(out, dtype=np.uint32)
x = torch.from_numpy(bits.view(np.float32).copy())
want = (x.to(torch.bfloat16).view(torch.int16).numpy().astype(np.uint32) & 0xffff) << 16
nan = np.isnan(bits.view(np.float32))
bad = (got != want) & ~nan
bad |= nan & ~np.isnan(got.view(np.float32))
if len(got) != len(bits) or bad.any():
    for i in np.flatnonzero(bad)[:10]:
        print(f"round: {bits[i]:08x} -> {got[i]:08x}, PyTorch {want[i]:08x}")
    print("round: FAILED")
    sys.exit(1)
print(f"round: {len(bits)} patterns as PyTorch rounds them ({int(nan.sum())} NaNs kept NaN)")
