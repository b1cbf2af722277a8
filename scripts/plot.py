"""plot.py - the charts of `aecc plot-latent` and `aecc plot-loss`, drawn
with matplotlib. aecc runs it; every chart is written atomically.

  plot.py latent CODES.npy OUT.png TITLE XLABEL YLABEL
      CODES.npy is [n, 3]: x, y and the class (-1: unknown) of each code.
  plot.py loss OUT.png LOG.csv [LOG.csv ...]
      each LOG.csv is a trainer's --log: a header, then rows with `step`
      or `epoch` and loss columns (empty cells are missing values).
"""
import csv
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def fail(msg):
    sys.stderr.write("plot.py: error: %s\n" % msg)
    sys.exit(1)


def save(fig, out):
    tmp = "%s.tmp.%d.png" % (out, os.getpid())
    try:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
        os.replace(tmp, out)
    except OSError as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        fail("%s: cannot write: %s" % (out, e.strerror))


def latent(codes, out, title, xlabel, ylabel):
    a = np.load(codes)
    fig, ax = plt.subplots(figsize=(7.5, 6))
    labels = a[:, 2].astype(int)
    classes = sorted(set(labels.tolist()))
    cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    for i, k in enumerate(classes):
        pick = labels == k
        ax.scatter(a[pick, 0], a[pick, 1], s=4, alpha=0.6, color=cmap(i % cmap.N),
                   label="class %d" % k if k >= 0 else "unlabelled")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if len(classes) > 1 or classes[0] >= 0:
        ax.legend(markerscale=4, fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    save(fig, out)


def read_log(path):
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except OSError as e:
        fail("%s: cannot read: %s" % (path, e.strerror))
    if len(rows) < 2:
        fail("%s: not a training log (a header and at least one row)" % path)
    head = rows[0]
    if "step" not in head and "epoch" not in head:
        fail("%s: not a training log (its header has no step or epoch column)" % path)
    cols = {}
    for j, name in enumerate(head):
        vals = []
        for r in rows[1:]:
            try:
                vals.append(float(r[j]) if j < len(r) and r[j] != "" else math.nan)
            except ValueError:
                fail("%s: column %s holds '%s', not a number" % (path, name, r[j]))
        cols[name] = np.array(vals)
    return cols


def loss(out, logs):
    runs = [(os.path.splitext(os.path.basename(p))[0], read_log(p)) for p in logs]
    axis_names = ("step", "epoch")
    series = []
    for _, cols in runs:
        for name in cols:
            if name not in axis_names and name not in series and name != "lr":
                series.append(name)
    if not series:
        fail("%s: no loss columns" % logs[0])
    n = len(series)
    ncol = 2 if n > 1 else 1
    nrow = (n + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(6.5 * ncol, 3.6 * nrow), squeeze=False)
    for k, name in enumerate(series):
        ax = axes[k // ncol][k % ncol]
        for run, cols in runs:
            if name not in cols:
                continue
            xname = "step" if "step" in cols else "epoch" if "epoch" in cols else None
            y = cols[name]
            x = cols[xname] if xname else np.arange(1, len(y) + 1)
            keep = ~np.isnan(y)
            ax.plot(x[keep], y[keep], label=run, linewidth=1.2,
                    marker="o" if keep.sum() < 40 else None, markersize=3)
            ax.set_xlabel(xname or "row")
        ax.set_title(name)
        ax.set_ylabel("loss")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    for k in range(n, nrow * ncol):
        axes[k // ncol][k % ncol].axis("off")
    fig.tight_layout()
    save(fig, out)


def main(argv):
    if len(argv) >= 7 and argv[1] == "latent":
        latent(argv[2], argv[3], argv[4], argv[5], argv[6])
    elif len(argv) >= 4 and argv[1] == "loss":
        loss(argv[2], argv[3:])
    else:
        fail("usage: plot.py latent CODES.npy OUT.png TITLE XLABEL YLABEL | loss OUT.png LOG.csv...")


if __name__ == "__main__":
    main(sys.argv)
