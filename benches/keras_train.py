"""Keras 3 (TensorFlow backend) training throughput on the workload of `benches/train.rs`.

    "$VENV"/bin/python benches/keras_train.py
    (any Python with tensorflow-cpu and keras 3; optional: --runs 5 --sequences 1024)

Model LSTM(16, return_sequences=True) -> GRU(16) -> Dense(1) on inputs [32, 50, 1] (the same
`generate_time_series` data as `benches/torch_train.py`), MSE, Adam(learning_rate=1e-3),
`model.fit(x, y, batch_size=32, epochs=1, shuffle=True, verbose=0)` on 1024 sequences, with
`compile`'s default `jit_compile="auto"` (XLA on the TensorFlow backend when every layer
supports it; the resolved value is printed). One warm-up `fit` (tracing, compilation), then
the median of 5 `fit` calls, in sequences per second. TensorFlow's thread pools can only be
sized before it starts, so each setting runs in its own process: intra- and inter-op
parallelism 1, then all cores (`os.cpu_count()`). Prints one line per setting:

    keras 3.15.1 (tensorflow 2.21.0, jit_compile=False) threads=1: 2835 sequences/s

`jit_compile="auto"` resolves to False here: Keras turns XLA off for LSTM/GRU layers whose
configuration is cuDNN-eligible (the defaults), even on CPU.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def generate_time_series(rng, batch, n_steps):
    import numpy as np

    f1, f2, o1, o2 = rng.random((4, batch, 1))
    t = np.linspace(0, 1, n_steps)
    s = 0.5 * np.sin((t - o1) * (f1 * 10 + 10))
    s += 0.2 * np.sin((t - o2) * (f2 * 20 + 20))
    s += 0.1 * (rng.random((batch, n_steps)) - 0.5)
    return s.astype(np.float32)


def worker(threads, runs, sequences, batch_size):
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    import keras

    series = generate_time_series(np.random.default_rng(1), sequences, 51)
    x, y = series[:, :50, None], series[:, 50:51]
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((50, 1)),
            keras.layers.LSTM(16, return_sequences=True),
            keras.layers.GRU(16),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="mse")
    fit = lambda: model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=True, verbose=0)
    t0 = time.perf_counter()
    fit()  # warm-up: tracing and (XLA) compilation
    warm = time.perf_counter() - t0
    rates = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fit()
        rates.append(sequences / (time.perf_counter() - t0))
    med = statistics.median(rates)
    print(
        f"keras {keras.__version__} (tensorflow {tf.__version__}, jit_compile={model.jit_compile}) "
        f"threads={threads}: {med:.0f} sequences/s",
        flush=True,
    )
    print(
        f"  ({runs} fits of {sequences} sequences, batch {batch_size}: min {min(rates):.0f}, "
        f"max {max(rates):.0f} sequences/s; {1e3 * sequences / med:.1f} ms per epoch; "
        f"warm-up fit {warm:.1f} s)",
        file=sys.stderr,
        flush=True,
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--sequences", type=int, default=1024)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, help="run one setting in this process")
    args = ap.parse_args()
    if args.threads is not None:
        worker(args.threads, args.runs, args.sequences, args.batch_size)
        return
    cores = os.cpu_count() or 1
    for threads in dict.fromkeys([1, cores]):
        cmd = [sys.executable, __file__, "--threads", str(threads), "--runs", str(args.runs)]
        cmd += ["--sequences", str(args.sequences), "--batch-size", str(args.batch_size)]
        subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()
