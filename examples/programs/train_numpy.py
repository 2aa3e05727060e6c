"""Train a tiny two-layer network with numpy on a synthetic dataset; CPU only, no downloads.

The data: points in the plane, labelled by whether they fall inside a circle (not linearly
separable, so the hidden layer earns its keep). Full-batch gradient descent with momentum on the
binary cross-entropy. Prints one line per epoch, e.g. ``epoch 3/20 loss 0.4123 accuracy 0.87``,
and a final ``done: ...`` line. The same seed gives the same numbers.

    python3 -u examples/programs/train_numpy.py --epochs 20 --seed 0
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np


def make_dataset(rng: np.random.Generator, samples: int) -> tuple[np.ndarray, np.ndarray]:
    x = rng.uniform(-1.0, 1.0, size=(samples, 2))
    y = (np.sum(x**2, axis=1) < 0.5).astype(np.float64)  # about 39% inside the circle
    return x, y


def sigmoid(z: np.ndarray) -> np.ndarray:
    result: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0)))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=20, help="passes over the data (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="random seed for data and weights (default 0)")
    parser.add_argument("--samples", type=int, default=2000, help="training examples (default 2000)")
    parser.add_argument("--hidden", type=int, default=32, help="hidden units (default 32)")
    parser.add_argument("--lr", type=float, default=0.5, help="learning rate (default 0.5)")
    parser.add_argument("--steps-per-epoch", type=int, default=25, help="gradient steps per epoch (default 25)")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.samples < 10 or args.hidden < 1 or args.steps_per_epoch < 1:
        parser.error("--epochs, --hidden and --steps-per-epoch must be >= 1, --samples >= 10")

    job = os.environ.get("SUANLI_JOB_ID", "-")
    attempt = os.environ.get("SUANLI_ATTEMPT", "-")
    print(f"suanli job {job} attempt {attempt}: training a 2-{args.hidden}-1 MLP with numpy {np.__version__}")
    print(f"data: {args.samples} points, seed {args.seed}; {args.epochs} epochs x {args.steps_per_epoch} steps")
    sys.stdout.flush()

    started = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    x, y = make_dataset(rng, args.samples)
    w1 = rng.normal(0.0, 1.0, size=(2, args.hidden))
    b1 = np.zeros(args.hidden)
    w2 = rng.normal(0.0, 1.0 / np.sqrt(args.hidden), size=(args.hidden, 1))
    b2 = np.zeros(1)
    params = [w1, b1, w2, b2]
    velocity = [np.zeros_like(p) for p in params]
    n = float(len(y))

    loss = accuracy = 0.0
    for epoch in range(1, args.epochs + 1):
        for _ in range(args.steps_per_epoch):
            hidden = np.tanh(x @ w1 + b1)
            p = sigmoid(hidden @ w2 + b2)[:, 0]
            # Gradients of the mean binary cross-entropy.
            dz2 = ((p - y) / n)[:, None]
            dw2 = hidden.T @ dz2
            db2 = dz2.sum(axis=0)
            dz1 = (dz2 @ w2.T) * (1.0 - hidden**2)
            dw1 = x.T @ dz1
            db1 = dz1.sum(axis=0)
            for param, grad, vel in zip(params, [dw1, db1, dw2, db2], velocity, strict=True):
                vel *= 0.9
                vel -= args.lr * grad
                param += vel
        p = sigmoid(np.tanh(x @ w1 + b1) @ w2 + b2)[:, 0]
        eps = 1e-12
        loss = float(-np.mean(y * np.log(p + eps) + (1.0 - y) * np.log(1.0 - p + eps)))
        accuracy = float(np.mean((p > 0.5) == (y > 0.5)))
        print(f"epoch {epoch}/{args.epochs} loss {loss:.4f} accuracy {accuracy:.2f}", flush=True)

    if not np.isfinite(loss):
        print(f"training diverged: loss {loss}", file=sys.stderr, flush=True)
        return 1
    elapsed = time.perf_counter() - started
    print(f"done: final loss {loss:.4f} accuracy {accuracy:.2f} in {elapsed:.2f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
