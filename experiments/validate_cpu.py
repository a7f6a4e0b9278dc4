"""Validate the calibrated CPU model against NumPy (BLAS) timings on this host.

Order of work: calibrate the host (micro-benchmarks only), predict every case with the
calibrated model, then time every case (median of repeats) and compare. No parameter is
fitted to the validation shapes. NumPy loops over the batch of a stacked product (one BLAS
call per matrix) and runs ufuncs on one thread; the model is told so (``batch_parallel`` and
``parallel_vector_ops`` off), which describes the library, not the machine.

Run: ``python experiments/validate_cpu.py [--quick]``. Prints one row per case and thread
count, then the median and worst absolute error.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from collections.abc import Callable
from itertools import pairwise

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from threadpoolctl import threadpool_limits

from accelerators.calibrate import calibrate_host
from accelerators.cpu import CPUConfig
from hwsim.graph import Op, OpKind

# (label, groups, M, K, N): square, tall-skinny, vector, small and batched products.
SHAPES = [
    ("square", 1, 64, 64, 64), ("square", 1, 128, 128, 128), ("square", 1, 256, 256, 256),
    ("square", 1, 512, 512, 512), ("square", 1, 1024, 1024, 1024),
    ("tall", 1, 8192, 64, 64), ("tall", 1, 4096, 256, 256), ("tall", 1, 2048, 16, 2048),
    ("wide", 1, 16, 2048, 2048), ("tall", 1, 1024, 1024, 16), ("wide", 1, 64, 4096, 64),
    ("gemv", 1, 1, 1024, 1024), ("gemv", 1, 1, 4096, 4096), ("gemv", 1, 1, 2048, 512),
    ("gemv", 1, 1024, 1024, 1),
    ("small", 1, 8, 8, 8), ("small", 1, 16, 16, 16), ("small", 1, 32, 32, 32),
    ("small", 1, 48, 64, 32),
    ("batched", 12, 128, 64, 128), ("batched", 8, 256, 256, 256), ("batched", 64, 32, 32, 32),
]


def matmul_op(g: int, m: int, k: int, n: int, name: str = "mm") -> Op:
    """A product of two fp32 arrays, batched when ``g > 1``."""
    lead = (g,) if g > 1 else ()
    return Op(name=name, kind=OpKind.MATMUL, inputs=("a", "b"),
              in_shapes=((*lead, m, k), (*lead, k, n)), out_shape=(*lead, m, n))


def vector_op(kind: OpKind, shape: tuple[int, ...], func: str, name: str, **geo) -> Op:
    """A one-input elementwise or pooling op on an fp32 array."""
    out = geo.pop("out_shape", shape)
    return Op(name=name, kind=kind, inputs=("x",), in_shapes=(shape,), out_shape=out,
              func=func, **geo)


def median_time(fn: Callable[[], object], repeats: int) -> float:
    """Median seconds of one call over ``repeats`` repeats of at least 5 ms each."""
    fn()
    start = time.perf_counter()
    fn()
    inner = max(1, int(5e-3 / max(time.perf_counter() - start, 1e-7)))
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - start) / inner)
    return statistics.median(samples)


def gemm_case(g: int, m: int, k: int, n: int) -> Callable[[], object]:
    """The NumPy call of a product, with a preallocated output."""
    rng = np.random.default_rng(1)
    lead = (g,) if g > 1 else ()
    a = rng.random((*lead, m, k), dtype=np.float32)
    b = rng.random((*lead, k, n), dtype=np.float32)
    out = np.empty((*lead, m, n), dtype=np.float32)
    return lambda: np.matmul(a, b, out=out)


def mlp_case(batch: int = 64, dims: tuple[int, ...] = (784, 512, 512, 10)):
    """A NumPy MLP forward pass and the ops it runs (product, bias add, ReLU per layer)."""
    rng = np.random.default_rng(2)
    x = rng.random((batch, dims[0]), dtype=np.float32)
    layers = [(rng.random((i, o), dtype=np.float32), rng.random(o, dtype=np.float32),
               np.empty((batch, o), dtype=np.float32)) for i, o in pairwise(dims)]
    ops = []
    for i, (w, _, _) in enumerate(layers):
        ops.append(matmul_op(1, batch, w.shape[0], w.shape[1], name=f"fc{i}"))
        ops.append(vector_op(OpKind.ELEMENTWISE, (batch, w.shape[1]), "add", f"bias{i}"))
        if i < len(layers) - 1:
            ops.append(vector_op(OpKind.ELEMENTWISE, (batch, w.shape[1]), "relu", f"relu{i}"))

    def forward() -> None:
        h = x
        for i, (w, bias, out) in enumerate(layers):
            np.matmul(h, w, out=out)
            np.add(out, bias, out=out)
            if i < len(layers) - 1:
                np.maximum(out, 0.0, out=out)
            h = out

    return forward, ops


def _conv_ops(n: int, h: int, c: int, k: int, tag: str) -> list[Op]:
    """Ops of one 3x3 'same' convolution done as pad copy, im2col copy, GEMM and ReLU."""
    return [
        vector_op(OpKind.ELEMENTWISE, (n, h, h, c), "identity", f"{tag}.pad"),
        vector_op(OpKind.ELEMENTWISE, (n * h * h, 9 * c), "identity", f"{tag}.im2col"),
        matmul_op(1, n * h * h, 9 * c, k, name=f"{tag}.gemm"),
        vector_op(OpKind.ELEMENTWISE, (n * h * h, k), "relu", f"{tag}.relu"),
    ]


def cnn_case(n: int = 8, size: int = 32):
    """A NumPy CNN forward pass (NHWC): two 3x3 convolutions with ReLU, max pool, global
    average pool and a classifier, and the ops it runs."""
    rng = np.random.default_rng(3)
    x = rng.random((n, size, size, 3), dtype=np.float32)
    w1, w2 = rng.random((27, 16), dtype=np.float32), rng.random((144, 32), dtype=np.float32)
    fc = rng.random((32, 10), dtype=np.float32)
    half = size // 2
    ops = [*_conv_ops(n, size, 3, 16, "conv1"),
           vector_op(OpKind.POOL, (n, 16, size, size), "max", "pool", kernel=(2, 2),
                     stride=(2, 2), out_shape=(n, 16, half, half)),
           *_conv_ops(n, half, 16, 32, "conv2"),
           vector_op(OpKind.POOL, (n, 32, half, half), "avg", "gap", kernel=(half, half),
                     stride=(half, half), out_shape=(n, 32, 1, 1)),
           matmul_op(1, n, 32, 10, name="fc")]
    buffers = {s: (np.zeros((n, s + 2, s + 2, c), np.float32), np.empty((n, s, s, 3, 3, c),
               np.float32)) for s, c in ((size, 3), (half, 16))}

    def conv(inp: np.ndarray, w: np.ndarray) -> np.ndarray:
        padded, cols = buffers[inp.shape[1]]
        padded[:, 1:-1, 1:-1, :] = inp
        win = sliding_window_view(padded, (3, 3), axis=(1, 2))  # n, s, s, c, 3, 3
        np.copyto(cols, win.transpose(0, 1, 2, 4, 5, 3))
        y = cols.reshape(-1, w.shape[0]) @ w
        np.maximum(y, 0.0, out=y)
        return y.reshape(inp.shape[0], inp.shape[1], inp.shape[2], w.shape[1])

    def forward() -> None:
        y = conv(x, w1)
        y = y.reshape(n, half, 2, half, 2, 16).max(axis=(2, 4))
        y = conv(y, w2)
        y.mean(axis=(1, 2)) @ fc

    return forward, ops


def predict(cfg: CPUConfig, ops: list[Op]) -> float:
    """Predicted seconds of ops run one after another."""
    return sum(cfg.op_cost(op).latency_s for op in ops)


def cases() -> list[tuple[str, Callable[[], object], list[Op]]]:
    """Every validation case: (label, NumPy call, ops the model predicts)."""
    out = [(f"{lab} {g}x{m}x{k}x{n}", gemm_case(g, m, k, n), [matmul_op(g, m, k, n)])
           for lab, g, m, k, n in SHAPES]
    out.append(("mlp 64x784-512-512-10", *mlp_case()))
    out.append(("cnn 8x32x32x3", *cnn_case()))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="quick calibration, 3 repeats")
    args = parser.parse_args()
    host = calibrate_host(quick=args.quick)
    numpy_host = dataclasses.replace(host, batch_parallel=False, parallel_vector_ops=False)
    print(f"calibrated: {host}")
    thread_counts = sorted({1, host.cores})
    todo = [(label, fn, ops, t) for label, fn, ops in cases() for t in thread_counts]
    predicted = [predict(dataclasses.replace(numpy_host, cores=t), ops)
                 for _, _, ops, t in todo]
    errors = []
    print(f"{'case':34s} {'thr':>3s} {'measured_us':>12s} {'predicted_us':>12s} {'error':>8s}")
    for (label, fn, _, t), pred in zip(todo, predicted, strict=True):
        with threadpool_limits(limits=t):
            meas = median_time(fn, 3 if args.quick else 7)
        err = (pred - meas) / meas
        errors.append(abs(err))
        print(f"{label:34s} {t:3d} {meas * 1e6:12.1f} {pred * 1e6:12.1f} {err:+8.1%}")
    print(f"cases: {len(errors)}  median |error|: {statistics.median(errors):.1%}  "
          f"worst |error|: {max(errors):.1%}")


if __name__ == "__main__":
    main()
