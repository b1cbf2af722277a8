#!/usr/bin/env python3
"""scaling.py - the arithmetic of docs/scaling.md: step time against ring
allreduce time for data-parallel training across N machines.

A step on N machines with a global batch of B rows costs each machine
  T(N) = T_part(B / N) + T_ar(N)
where T_part(r) is a train step on r rows (forward, backward and the Adam
update, which every machine applies to all parameters), measured on one
thread (bench/mpi.sh), and
  T_ar(N) = 2 (N - 1) / N * S / BW + 2 (N - 1) * alpha
is a ring allreduce of the S gradient bytes over links of BW bytes/s with
alpha seconds of latency per message (N - 1 reduce-scatter and N - 1
allgather steps). The trainer sums after the whole gradient is computed,
so the two do not overlap. Between the given row counts T_part is
interpolated linearly, and beyond them extrapolated.

usage: scaling.py MODEL=BYTES:ROWS=MS,ROWS=MS,...  [...]
  e.g. scaling.py fashion_ae=4334788:128=9.9,64=5.2,16=1.9,8=1.2,2=0.6
Prints the Markdown tables of docs/scaling.md.
"""
import sys

LINKS = [("10 Gb/s", 10e9 / 8, 10e-6), ("100 Gb/s", 100e9 / 8, 2e-6)]
NODES = [1, 2, 4, 8, 16, 64]
BATCH = 128


def t_part(points, rows):
    """Step time (s) on `rows` rows, from the measured (rows, seconds)."""
    pts = sorted(points)
    if rows <= pts[0][0]:
        return pts[0][1]
    for (r0, t0), (r1, t1) in zip(pts, pts[1:]):
        if rows <= r1:
            return t0 + (t1 - t0) * (rows - r0) / (r1 - r0)
    (r0, t0), (r1, t1) = pts[-2], pts[-1]
    return t1 + (t1 - t0) * (rows - r1) / (r1 - r0)


def t_ar(n, size, bw, alpha):
    if n == 1:
        return 0.0
    return 2 * (n - 1) / n * size / bw + 2 * (n - 1) * alpha


def main():
    for arg in sys.argv[1:]:
        name, rest = arg.split("=", 1)
        size, pts = rest.split(":", 1)
        size = float(size)
        points = [(float(r), float(ms) / 1e3) for r, ms in (p.split("=") for p in pts.split(","))]
        t1 = t_part(points, BATCH)
        print(f"\n### {name}: {size / 1e6:.3f} MB of gradient per step, one machine {t1 * 1e3:.2f} ms per step of {BATCH}\n")
        print("| N | rows per machine | T_part | link | T_ar = 2(N-1)/N * S / BW + 2(N-1) alpha | T(N) | speedup | efficiency |")
        print("|---|---|---|---|---|---|---|---|")
        for n in NODES:
            rows = BATCH / n
            tp = t_part(points, rows)
            for label, bw, alpha in LINKS:
                if n == 1 and label != LINKS[0][0]:
                    continue
                ta = t_ar(n, size, bw, alpha)
                formula = "-" if n == 1 else (
                    f"{2 * (n - 1) / n:.4g} * {size / 1e6:.3f} MB / {bw / 1e9:.3g} GB/s + {2 * (n - 1)} * {alpha * 1e6:.0f} us"
                    f" = {ta * 1e3:.3f} ms")
                print(f"| {n} | {rows:g} | {tp * 1e3:.2f} ms | {label if n > 1 else '-'} | {formula} | "
                      f"{(tp + ta) * 1e3:.2f} ms | {t1 / (tp + ta):.2f} | {t1 / (tp + ta) / n:.0%} |")
        print(f"\nRows per machine r, and the global batch N r, for 80% efficiency: one machine's step on N r rows"
              f" against N machines' steps on r rows each, T_part(N r) >= 0.8 N (T_part(r) + T_ar(N)):\n")
        print("| N | link | T_ar | rows per machine r | T_part(r) | global batch |")
        print("|---|---|---|---|---|---|")
        for n in NODES[3:]:
            for label, bw, alpha in LINKS:
                ta = t_ar(n, size, bw, alpha)
                r = 1
                while t_part(points, n * r) < 0.8 * n * (t_part(points, r) + ta) and r < 1 << 20:
                    r += 1
                print(f"| {n} | {label} | {ta * 1e3:.3f} ms | {r} | {t_part(points, r) * 1e3:.1f} ms | {n * r:,} |")


if __name__ == "__main__":
    main()
