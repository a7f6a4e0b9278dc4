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
from collections.abc import Callable
from itertools import pairwise

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from threadpoolctl import threadpool_limits

from accelerators.calibrate import calibrate_host, median_time_s
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


def relu_op(shape: tuple[int, ...], name: str) -> Op:
    """ReLU as NumPy runs it fast: the elementwise maximum against a buffer of zeros
    (its array-array loop is vectorised, its scalar-broadcast loop is not)."""
    return Op(name=name, kind=OpKind.ELEMENTWISE, inputs=("x", "zeros"),
              in_shapes=(shape, shape), out_shape=shape, func="relu")


def median_time(fn: Callable[[], object], repeats: int) -> float:
    """Median seconds of one call over ``repeats`` repeats of at least 5 ms each."""
    return median_time_s(fn, repeats, min_repeat_s=5e-3)


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
    zeros = np.zeros((batch, max(dims)), dtype=np.float32)
    ops = []
    for i, (w, _, _) in enumerate(layers):
        ops.append(matmul_op(1, batch, w.shape[0], w.shape[1], name=f"fc{i}"))
        ops.append(vector_op(OpKind.ELEMENTWISE, (batch, w.shape[1]), "add", f"bias{i}"))
        if i < len(layers) - 1:
            ops.append(relu_op((batch, w.shape[1]), f"relu{i}"))

    def forward() -> None:
        h = x
        for i, (w, bias, out) in enumerate(layers):
            np.matmul(h, w, out=out)
            np.add(out, bias, out=out)
            if i < len(layers) - 1:
                np.maximum(out, zeros[:, : out.shape[1]], out=out)
            h = out

    return forward, ops


def _conv_ops(n: int, h: int, c: int, k: int, tag: str) -> list[Op]:
    """Ops of one 3x3 'same' convolution done as pad copy, im2col copy, GEMM and ReLU."""
    return [
        vector_op(OpKind.ELEMENTWISE, (n, h, h, c), "identity", f"{tag}.pad"),
        vector_op(OpKind.ELEMENTWISE, (n * h * h, 9 * c), "identity", f"{tag}.im2col"),
        matmul_op(1, n * h * h, 9 * c, k, name=f"{tag}.gemm"),
        relu_op((n * h * h, k), f"{tag}.relu"),
    ]


def _maxpool_ops(n: int, h: int, c: int) -> list[Op]:
    """2x2 max pooling as three elementwise maxima of strided quarter views."""
    q = (n, h // 2, h // 2, c)
    return [Op(name=f"pool{i}", kind=OpKind.ELEMENTWISE, inputs=("a", "b"),
               in_shapes=(q, q), out_shape=q, func="max") for i in range(3)]


def cnn_case(n: int = 8, size: int = 32, chans: tuple[int, int, int] = (16, 32, 64)):
    """A NumPy CNN forward pass (NHWC) on a 16-channel feature map: two 3x3 convolutions
    with ReLU, a 2x2 max pool between them, global average pooling and a classifier."""
    rng = np.random.default_rng(3)
    c0, c1, c2 = chans
    half = size // 2
    x = rng.random((n, size, size, c0), dtype=np.float32)
    w1 = rng.random((9 * c0, c1), dtype=np.float32)
    w2 = rng.random((9 * c1, c2), dtype=np.float32)
    fc = rng.random((c2, 10), dtype=np.float32)
    ops = [*_conv_ops(n, size, c0, c1, "conv1"), *_maxpool_ops(n, size, c1),
           *_conv_ops(n, half, c1, c2, "conv2"),
           vector_op(OpKind.POOL, (n, c2, half, half), "avg", "gap", kernel=(half, half),
                     stride=(half, half), out_shape=(n, c2, 1, 1)),
           matmul_op(1, n, c2, 10, name="fc")]
    bufs = {s: (np.zeros((n, s + 2, s + 2, c), np.float32), np.empty((n, s, s, 3, 3, c),
            np.float32), np.empty((n * s * s, k), np.float32), np.zeros((n * s * s, k),
            np.float32)) for s, c, k in ((size, c0, c1), (half, c1, c2))}
    pooled = np.empty((n, half, half, c1), np.float32)

    def conv(inp: np.ndarray, w: np.ndarray) -> np.ndarray:
        padded, cols, out, zeros = bufs[inp.shape[1]]
        padded[:, 1:-1, 1:-1, :] = inp
        win = sliding_window_view(padded, (3, 3), axis=(1, 2))  # n, s, s, c, 3, 3
        np.copyto(cols, win.transpose(0, 1, 2, 4, 5, 3))
        np.matmul(cols.reshape(out.shape[0], -1), w, out=out)
        np.maximum(out, zeros, out=out)
        return out.reshape(inp.shape[0], inp.shape[1], inp.shape[2], w.shape[1])

    def forward() -> None:
        y = conv(x, w1)
        np.maximum(y[:, ::2, ::2], y[:, 1::2, ::2], out=pooled)
        np.maximum(pooled, y[:, ::2, 1::2], out=pooled)
        np.maximum(pooled, y[:, 1::2, 1::2], out=pooled)
        y = conv(pooled, w2)
        y.reshape(n, half * half, c2).mean(axis=1) @ fc

    return forward, ops


def predict(cfg: CPUConfig, ops: list[Op]) -> float:
    """Predicted seconds of ops run one after another."""
    return sum(cfg.op_cost(op).latency_s for op in ops)


def cases() -> list[tuple[str, Callable[[], object], list[Op]]]:
    """Every validation case: (label, NumPy call, ops the model predicts)."""
    out = [(f"{lab} {g}x{m}x{k}x{n}", gemm_case(g, m, k, n), [matmul_op(g, m, k, n)])
           for lab, g, m, k, n in SHAPES]
    out.append(("mlp 64x784-512-512-10", *mlp_case()))
    out.append(("cnn 8x32x32x16", *cnn_case()))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="quick calibration, 3 repeats")
    args = parser.parse_args()
    host = calibrate_host(quick=args.quick)
    numpy_host = dataclasses.replace(host, batch_parallel=False, parallel_vector_ops=False)
    print(f"calibrated: {host}")
    thread_counts = sorted({1, host.cores})
    # One thread count at a time: BLAS workers left spinning after a threaded call would
    # otherwise compete with the next single-threaded one.
    todo = [(label, fn, ops, t) for t in thread_counts for label, fn, ops in cases()]
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
