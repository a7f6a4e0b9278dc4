"""Accuracy of the digits MLP and CNN against weight bits, activation bits and sparsity.

Trains both models from a seed, prints their float32 test accuracy and training time, then
tables of test accuracy under int-k weight / activation quantization (8..2 bits) and under
per-layer magnitude pruning (with and without one epoch of masked fine-tuning), and the
accuracy lost when each removable block is dropped.

Quantization uses ``workloads.compression.quantize.quantize_uniform`` when it is importable,
otherwise a per-tensor symmetric fake quantizer defined here.

Run: ``python experiments/digits_accuracy.py [--seed 0] [--save-dir DIR]``
"""

from __future__ import annotations

import argparse
import pathlib
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from workloads.accuracy import (
    MODEL_NAMES,
    TrainedModel,
    evaluate,
    finetune,
    layer_importance,
    to_npz_bytes,
    train,
)

BITS = (8, 6, 5, 4, 3, 2)
SPARSITIES = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98)

Transform = Callable[[str, np.ndarray], np.ndarray]


def _fallback_quant(bits: int, per_channel: bool) -> Transform:
    """Symmetric uniform int-``bits`` fake quantization, per tensor or per output channel."""

    def transform(name: str, x: np.ndarray) -> np.ndarray:
        levels = 2 ** (bits - 1) - 1
        axes = tuple(range(1, x.ndim)) if per_channel else None
        peak = np.abs(x).max(axis=axes, keepdims=True)
        scale = np.where(peak > 0, peak / levels, 1.0)
        return np.clip(np.round(x / scale), -levels, levels) * scale

    return transform


def quantizer(bits: int, *, per_channel: bool = False) -> tuple[Transform, str]:
    """A weight/activation transform at ``bits`` and the name of its implementation."""
    try:
        from workloads.compression.quantize import quantize_uniform
    except ImportError:
        return _fallback_quant(bits, per_channel), "fallback fake-quant"

    def transform(name: str, x: np.ndarray) -> np.ndarray:
        axis = 0 if per_channel else None
        return quantize_uniform(x, bits=bits, symmetric=True, axis=axis).values

    return transform, "workloads.compression.quantize.quantize_uniform"


def magnitude_masks(trained: TrainedModel, sparsity: float) -> dict[str, np.ndarray]:
    """Per-layer masks keeping the largest-magnitude ``1 - sparsity`` of each weight tensor."""
    if sparsity == 0:
        return {name: np.ones(w.shape, dtype=bool) for name, w in trained.weights.items()}
    return {
        name: np.abs(w) > np.quantile(np.abs(w), sparsity) for name, w in trained.weights.items()
    }


def bits_table(models: dict[str, TrainedModel]) -> pd.DataFrame:
    """Test accuracy (%) per model and quantization target against bit width."""
    rows = []
    for bits in BITS:
        row: dict[str, object] = {"bits": bits}
        for name, trained in models.items():
            per_tensor, _ = quantizer(bits)
            per_channel, _ = quantizer(bits, per_channel=True)
            row[f"{name} w/tensor"] = 100 * evaluate(trained, weight_transform=per_tensor)
            row[f"{name} w/channel"] = 100 * evaluate(trained, weight_transform=per_channel)
            row[f"{name} act"] = 100 * evaluate(trained, act_transform=per_tensor)
        rows.append(row)
    return pd.DataFrame(rows).set_index("bits")


def sparsity_table(models: dict[str, TrainedModel], seed: int) -> pd.DataFrame:
    """Test accuracy (%) per model against magnitude-pruning sparsity, before/after fine-tuning."""
    rows = []
    for sparsity in SPARSITIES:
        row: dict[str, object] = {"sparsity": sparsity}
        for name, trained in models.items():
            masks = magnitude_masks(trained, sparsity)
            row[f"{name} pruned"] = 100 * evaluate(trained, masks=masks)
            tuned = finetune(trained, masks=masks, epochs=1, seed=seed)
            row[f"{name} +1 epoch"] = 100 * tuned.test_accuracy
        rows.append(row)
    return pd.DataFrame(rows).set_index("sparsity")


def train_all(seed: int) -> dict[str, TrainedModel]:
    """Both models trained from ``seed``, printing accuracy and training time."""
    models = {}
    for name in MODEL_NAMES:
        start = time.perf_counter()
        models[name] = train(name, seed=seed)
        elapsed_s = time.perf_counter() - start
        print(f"{name}: fp32 test accuracy {100 * models[name].test_accuracy:.2f} % "
              f"({models[name].epochs} epochs, trained in {elapsed_s:.2f} s)")
    return models


def main() -> None:
    """Parse arguments, train, print the tables, optionally save the weights."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-dir", type=pathlib.Path, default=None,
                        help="write <model>_seed<seed>.npz weight archives here")
    args = parser.parse_args()
    models = train_all(args.seed)
    print(f"\nquantizer: {quantizer(8)[1]}")
    print("\ntest accuracy (%) vs bits (weights per tensor / per channel; activations)")
    print(bits_table(models).round(2).to_string())
    print("\ntest accuracy (%) vs per-layer magnitude sparsity")
    print(sparsity_table(models, args.seed).round(2).to_string())
    for name, trained in models.items():
        drops = {k: round(100 * v, 2) for k, v in layer_importance(trained).items()}
        print(f"\n{name}: accuracy lost (points) when dropping each removable block: {drops}")
    if args.save_dir is not None:
        args.save_dir.mkdir(parents=True, exist_ok=True)
        for name, trained in models.items():
            (args.save_dir / f"{name}_seed{args.seed}.npz").write_bytes(to_npz_bytes(trained))


if __name__ == "__main__":
    main()
