"""plot.py - the charts of `aecc plot-latent` and `aecc plot-loss`, drawn
with matplotlib. aecc runs it; every chart is written atomically.

  plot.py latent CODES.npy OUT.png TITLE XLABEL YLABEL
      CODES.npy is [n, 3]: x, y and the class (-1: unknown) of each code.
  plot.py loss OUT.png LOG.csv [LOG.csv ...]
      each LOG.csv is a trainer's --log: a header, then rows with `step`
      or `epoch`, optionally `set` (train, val, test), and loss columns
      (empty cells are missing values); one panel per column.
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
    """The columns of a --log file: {set: {column: values}}, where set is
    the `set` column's value (train, val, test) or "train" without one."""
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
    kind = head.index("set") if "set" in head else None
    sets = {}
    for r in rows[1:]:
        name = r[kind] if kind is not None and kind < len(r) else "train"
        cols = sets.setdefault(name, {h: [] for h in head if h != "set"})
        for j, h in enumerate(head):
            if j == kind:
                continue
            cell = r[j] if j < len(r) else ""
            try:
                cols[h].append(float(cell) if cell != "" else math.nan)
            except ValueError:
                fail("%s: column %s holds '%s', not a number" % (path, h, cell))
    return {k: {h: np.array(v) for h, v in c.items()} for k, c in sets.items()}


def loss(out, logs):
    runs = [(os.path.splitext(os.path.basename(p))[0], read_log(p)) for p in logs]
    axis_names = ("step", "epoch")
    series = []  # panels: the loss, then each term, then the learning rate
    for _, sets in runs:
        for cols in sets.values():
            for name in cols:
                if name not in axis_names and name not in series and not np.isnan(cols[name]).all():
                    series.append(name)
    if "lr" in series:
        series.remove("lr")
        series.append("lr")
    if not series:
        fail("%s: no loss columns" % logs[0])
    n = len(series)
    ncol = 2 if n > 1 else 1
    nrow = (n + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(6.5 * ncol, 3.6 * nrow), squeeze=False)
    styles = {"train": "-", "val": "--", "test": ":"}
    for k, name in enumerate(series):
        ax = axes[k // ncol][k % ncol]
        for i, (run, sets) in enumerate(runs):
            for kind, cols in sets.items():
                if name not in cols:
                    continue
                xname = "step" if "step" in cols else "epoch"
                y, x = cols[name], cols[xname]
                keep = ~np.isnan(y)
                if not keep.any():
                    continue
                label = run if len(sets) == 1 else "%s %s" % (run, kind)
                ax.plot(x[keep], y[keep], styles.get(kind, "-"), color="C%d" % i, label=label,
                        linewidth=0.8 if kind == "train" else 1.6,
                        marker="o" if kind != "train" else None, markersize=3)
                ax.set_xlabel(xname)
        ax.set_title(name if name != "lr" else "learning rate")
        ax.set_ylabel(name if name == "lr" else "loss")
        lo = min((np.nanmin(c[name]) for _, s in runs for c in s.values() if name in c), default=1)
        hi = max((np.nanmax(c[name]) for _, s in runs for c in s.values() if name in c), default=1)
        if lo > 0 and hi / lo > 20:
            ax.set_yscale("log")
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
