#!/usr/bin/python3
"""random_dense.py - write COUNT random dense autoencoders as .ae files.

usage: random_dense.py DIR COUNT SEED

Widths, depths, activations, losses, learning rates and batch sizes are
drawn at random, so the parity check covers dense models of any shape,
not only the examples.
"""
import os
import random
import sys

FASHION = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
ACTS = ["relu", "leaky_relu", "leaky_relu(0.2)", "sigmoid", "tanh", "identity"]


def chain(rng, widths):
    parts = []
    for i, w in enumerate(widths):
        parts.append(f"dense({w}{', bias = false' if rng.random() < 0.15 else ''})")
        if i < len(widths) - 1:
            parts.append(rng.choice(ACTS))
    return " |> ".join(parts)


def model(rng, k):
    depth = rng.randint(1, 3)
    hidden = [rng.choice([8, 17, 32, 64, 100, 129, 256]) for _ in range(depth - 1)]
    latent = rng.choice([2, 5, 16, 31])
    loss = rng.choice(["mse", "bce"])
    reduction = rng.choice(["mean", "sum"]) if loss == "mse" else "mean"
    enc = chain(rng, hidden + [latent])
    dec = chain(rng, list(reversed(hidden)) + [784])
    out = " |> sigmoid" if loss == "bce" or rng.random() < 0.5 else ""
    lr = rng.choice(["1e-3", "3e-4", "2e-3"])
    wd = rng.choice(["0", "0", "1e-4"])
    batch = rng.choice([16, 32, 50, 64])
    return (f"# random dense autoencoder {k}\n"
            f"model rnd{k}\n"
            f"input x[784]\n"
            f"encoder {{ z = x |> {enc} }}\n"
            f"decoder {{ xhat = z |> {dec}{out} }}\n"
            f"loss = {loss}(xhat, x, reduction = \"{reduction}\")\n"
            f"train {{ adam(lr = {lr}, weight_decay = {wd})  batch {batch}  seed {k} }}\n"
            f"data {{ train = idx(\"{FASHION}\") / 255 }}\n")


def main():
    out, count, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    os.makedirs(out, exist_ok=True)
    for k in range(count):
        with open(os.path.join(out, f"rnd{k}.ae"), "w") as f:
            f.write(model(rng, k))


if __name__ == "__main__":
    main()
