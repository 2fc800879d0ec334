"""PyTorch training throughput on the workload of `benches/train.rs`.

    "$VENV"/bin/python benches/torch_train.py
    (any Python with torch; optional: --runs 5 --sequences 1024)

Model LSTM(1, 16) -> GRU(16, 16) -> Linear(16, 1) on the last step, f32, CPU; inputs
[32, 50, 1] (the same `generate_time_series` data: two sines plus noise, target = step 51);
MSE; Adam(lr=1e-3). One timed run is one epoch of 1024 sequences in shuffled batches of 32
(forward, backward, optimizer step), as `rnn::train::fit` with `epochs: 1` does it. One warm-up
epoch first, then the median of 5 epochs, reported in sequences per second, once with
`torch.set_num_threads(1)` and once with all cores (`os.cpu_count()`). Prints one line per
setting:

    torch 2.15.0 threads=1: 3512 sequences/s

(details, min and max, go to stderr).
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np
import torch
from torch import nn


def generate_time_series(rng, batch, n_steps):
    """`rnn::data::generate_time_series`: 0.5 sin((t - o1)(10 f1 + 10)) + 0.2 sin((t - o2)(20 f2
    + 20)) + 0.1 (u - 0.5) over t = linspace(0, 1, n_steps)."""
    f1, f2, o1, o2 = rng.random((4, batch, 1))
    t = np.linspace(0, 1, n_steps)
    s = 0.5 * np.sin((t - o1) * (f1 * 10 + 10))
    s += 0.2 * np.sin((t - o2) * (f2 * 20 + 20))
    s += 0.1 * (rng.random((batch, n_steps)) - 0.5)
    return s.astype(np.float32)


class Card(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(1, 16, batch_first=True)
        self.gru = nn.GRU(16, 16, batch_first=True)
        self.dense = nn.Linear(16, 1)

    def forward(self, x):
        h, _ = self.lstm(x)
        h, _ = self.gru(h)
        return self.dense(h[:, -1])


def epoch(model, opt, loss_fn, x, y, batch_size, gen):
    order = torch.randperm(x.shape[0], generator=gen)
    for start in range(0, x.shape[0], batch_size):
        idx = order[start : start + batch_size]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x[idx]), y[idx])
        loss.backward()
        opt.step()


def measure(threads, x, y, runs, batch_size):
    torch.set_num_threads(threads)
    torch.manual_seed(3)
    gen = torch.Generator().manual_seed(0)
    model = Card()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.MSELoss()
    model.train()
    epoch(model, opt, loss_fn, x, y, batch_size, gen)  # warm-up
    rates = []
    for _ in range(runs):
        t0 = time.perf_counter()
        epoch(model, opt, loss_fn, x, y, batch_size, gen)
        rates.append(x.shape[0] / (time.perf_counter() - t0))
    return rates


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--sequences", type=int, default=1024)
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args()

    series = generate_time_series(np.random.default_rng(1), args.sequences, 51)
    x = torch.from_numpy(series[:, :50, None].copy())  # [1024, 50, 1]
    y = torch.from_numpy(series[:, 50:51].copy())  # [1024, 1]
    version = torch.__version__.split("+")[0]
    cores = os.cpu_count() or 1
    for threads in dict.fromkeys([1, cores]):
        rates = measure(threads, x, y, args.runs, args.batch_size)
        med = statistics.median(rates)
        print(f"torch {version} threads={threads}: {med:.0f} sequences/s", flush=True)
        print(
            f"  (torch {torch.__version__}, {args.runs} epochs of {args.sequences} sequences, "
            f"batch {args.batch_size}: min {min(rates):.0f}, max {max(rates):.0f} sequences/s; "
            f"{1e3 * args.sequences / med:.1f} ms per epoch)",
            file=sys.stderr,
            flush=True,
        )


if __name__ == "__main__":
    main()
