"""Benchmark: hwsim tensor compression transforms against plain numpy, at ResNet-50 scale.

Builds a seeded set of float32 weights with the shapes of ResNet-50 (about 25.5 M parameters,
Laplace-distributed with He scaling), then times each hwsim transform and an inline numpy
baseline doing the same job in the same run, and prints seconds, the speedup
(baseline / hwsim) and a quality figure (SQNR for quantization, agreement for pruning).

Run: ``python experiments/bench_compression.py [--repeats 3] [--seed 0]``
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import numpy as np

from workloads.compression import (
    prune_global,
    prune_n_m,
    quantize_float,
    quantize_uniform,
    sqnr_db,
)

RESNET50_STAGES = ((3, 64, 256), (4, 128, 512), (6, 256, 1024), (3, 512, 2048))
MSE_BASELINE_RATIOS = np.geomspace(2.0**-8, 1.0, 32)
T = TypeVar("T")


def resnet50_shapes() -> list[tuple[int, ...]]:
    """Weight shapes of ResNet-50's convolutions (out, in, kh, kw) and classifier (out, in)."""
    shapes: list[tuple[int, ...]] = [(64, 3, 7, 7)]
    c_in = 64
    for blocks, width, c_out in RESNET50_STAGES:
        for block in range(blocks):
            shapes += [(width, c_in, 1, 1), (width, width, 3, 3), (c_out, width, 1, 1)]
            if block == 0:
                shapes.append((c_out, c_in, 1, 1))
            c_in = c_out
    return [*shapes, (1000, 2048)]


def make_weights(seed: int) -> dict[str, np.ndarray]:
    """Seeded Laplace weights with He scaling, keyed by layer index."""
    rng = np.random.default_rng(seed)
    weights = {}
    for i, shape in enumerate(resnet50_shapes()):
        fan_in = int(np.prod(shape[1:]))
        scale = np.sqrt(2.0 / fan_in) / np.sqrt(2.0)
        weights[f"layer{i:02d}"] = rng.laplace(0.0, scale, shape).astype(np.float32)
    return weights


def best_time(fn: Callable[[], T], repeats: int) -> tuple[float, T]:
    """Least wall time over ``repeats`` calls, seconds, and the last result."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def reduce_axes(w: np.ndarray) -> tuple[int, ...]:
    """Every axis but the output-channel axis 0."""
    return tuple(range(1, w.ndim))


def numpy_int8_max(w: np.ndarray, per_channel: bool) -> np.ndarray:
    """Naive symmetric int8 quantize-dequantize with max clipping."""
    amax = np.abs(w).max(axis=reduce_axes(w), keepdims=True) if per_channel else np.abs(w).max()
    s = np.where(amax > 0, amax, 1.0) / 127.0
    return np.clip(np.round(w / s), -127, 127).astype(np.int8) * s.astype(np.float32)


def numpy_int8_mse(w: np.ndarray) -> np.ndarray:
    """Per-channel int8 with the clipping ratio of least error, searched on the full tensor."""
    axes = reduce_axes(w)
    amax = np.abs(w).max(axis=axes, keepdims=True)
    errors = []
    for r in MSE_BASELINE_RATIOS:
        s = np.where(amax > 0, amax * r, 1.0) / 127.0
        q = np.clip(np.round(w / s), -127, 127) * s
        errors.append(np.square(q - w).sum(axis=axes, keepdims=True))
    best = MSE_BASELINE_RATIOS[np.argmin(np.stack(errors), axis=0)]
    s = np.where(amax > 0, amax * best, 1.0) / 127.0
    return (np.clip(np.round(w / s), -127, 127).astype(np.int8) * s).astype(np.float32)


def numpy_global_magnitude(weights: dict[str, np.ndarray],
                           sparsity: float) -> dict[str, np.ndarray]:
    """Global magnitude masks from a full sort of all magnitudes."""
    scores = np.sort(np.concatenate([np.abs(w).ravel() for w in weights.values()]))
    threshold = scores[round(sparsity * scores.size)]
    return {k: np.abs(w) >= threshold for k, w in weights.items()}


def numpy_two_four(w: np.ndarray) -> np.ndarray:
    """2:4 masks along axis 1 by an argsort of each zero-padded group of four."""
    moved = np.moveaxis(np.abs(w), 1, -1)
    pad = -moved.shape[-1] % 4
    moved = np.pad(moved, [(0, 0)] * (moved.ndim - 1) + [(0, pad)])
    groups = moved.reshape(*moved.shape[:-1], -1, 4)
    order = np.argsort(-groups, axis=-1)[..., :2]
    mask = np.zeros(groups.shape, dtype=bool)
    np.put_along_axis(mask, order, True, axis=-1)
    mask = mask.reshape(moved.shape)[..., : moved.shape[-1] - pad]
    return np.moveaxis(mask, -1, 1)


def total_sqnr(weights: dict[str, np.ndarray], approx: dict[str, np.ndarray]) -> float:
    """SQNR over all layers together, dB."""
    ref = np.concatenate([w.ravel() for w in weights.values()])
    return sqnr_db(ref, np.concatenate([approx[k].ravel() for k in weights]))


def hwsim_int(weights: dict[str, np.ndarray], **kwargs: Any) -> dict[str, np.ndarray]:
    """Dequantized values of every layer through hwsim's uniform quantizer."""
    return {k: quantize_uniform(w, **kwargs).values for k, w in weights.items()}


def per_layer(fn: Callable[[np.ndarray], np.ndarray],
              weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``fn`` applied to every layer."""
    return {k: fn(w) for k, w in weights.items()}


def quantization_rows(weights: dict[str, np.ndarray], repeats: int) -> list[tuple]:
    """Timings and SQNR of the quantization transforms and their baselines."""
    cases: list[tuple[str, dict, Callable[[np.ndarray], np.ndarray], int]] = [
        ("int8 per-tensor, max clip", {"bits": 8}, partial(numpy_int8_max, per_channel=False),
         repeats),
        ("int8 per-channel, max clip", {"bits": 8, "axis": 0},
         partial(numpy_int8_max, per_channel=True), repeats),
        ("int8 per-channel, MSE clip", {"bits": 8, "axis": 0, "clip": "mse"}, numpy_int8_mse, 1),
        ("fp16 (vs astype float16)", {}, lambda w: w.astype(np.float16), repeats),
    ]
    rows = []
    for name, kwargs, baseline, baseline_repeats in cases:
        if kwargs:
            hwsim = partial(hwsim_int, weights, **kwargs)
        else:
            hwsim = partial(per_layer, lambda w: quantize_float(w, fmt="fp16").values, weights)
        t_hw, res = best_time(hwsim, repeats)
        t_np, ref = best_time(partial(per_layer, baseline, weights), baseline_repeats)
        rows.append((name, t_hw, t_np, total_sqnr(weights, res), total_sqnr(weights, ref)))
    return rows


def pruning_rows(weights: dict[str, np.ndarray], repeats: int) -> list[tuple]:
    """Timings and mask agreement of the pruning transforms and their baselines."""
    t_hw, results = best_time(partial(prune_global, weights, sparsity=0.5), repeats)
    t_np, ref = best_time(partial(numpy_global_magnitude, weights, 0.5), repeats)
    agree = np.mean([np.mean(results[k].mask == ref[k]) for k in weights])
    rows = [("global magnitude 50%", t_hw, t_np, agree)]
    t_hw, masks = best_time(partial(per_layer, lambda w: prune_n_m(w, n=2, m=4, axis=1).mask,
                                    weights), repeats)
    t_np, ref = best_time(partial(per_layer, numpy_two_four, weights), repeats)
    agree = np.mean([np.mean(masks[k] == ref[k]) for k in weights])
    return [*rows, ("2:4 along input axis", t_hw, t_np, agree)]


def warm_up() -> None:
    """Load or compile the Numba kernels outside the timed region."""
    w = np.random.default_rng(0).standard_normal((8, 8, 3, 3)).astype(np.float32)
    quantize_uniform(w, bits=8, axis=0, clip="mse")
    prune_n_m(w, n=2, m=4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs, best kept")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    weights = make_weights(args.seed)
    n_params = sum(w.size for w in weights.values())
    print(f"ResNet-50-shaped weights: {len(weights)} tensors, {n_params / 1e6:.2f} M parameters")
    warm_up()
    print(f"\n{'quantization':32s} {'hwsim_s':>8s} {'numpy_s':>8s} {'speedup':>8s} "
          f"{'hwsim_sqnr_db':>14s} {'numpy_sqnr_db':>14s}")
    for name, t_hw, t_np, q_hw, q_np in quantization_rows(weights, args.repeats):
        print(f"{name:32s} {t_hw:8.3f} {t_np:8.3f} {t_np / t_hw:8.2f} {q_hw:14.2f} {q_np:14.2f}")
    print(f"\n{'pruning':32s} {'hwsim_s':>8s} {'numpy_s':>8s} {'speedup':>8s} {'mask_agree':>14s}")
    for name, t_hw, t_np, agree in pruning_rows(weights, args.repeats):
        print(f"{name:32s} {t_hw:8.3f} {t_np:8.3f} {t_np / t_hw:8.2f} {agree:14.6f}")


if __name__ == "__main__":
    main()
