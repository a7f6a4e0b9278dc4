"""The digits models as op graphs, and a ``CompressionPlan`` measured on their real weights.

``digits_graph`` (from ``workloads.accuracy.lower``) gives the op graph every accelerator
runs. ``evaluate_plan`` applies a plan to the trained weights for real and measures top-1 on the
held-out split:

- weights: quantized per output channel (int: symmetric, max clipping; float formats by
  rounding emulation), after pruning masks are applied;
- activations: the input of every weight layer is quantized per tensor (int: asymmetric,
  max clipping over the evaluated batch, i.e. dynamic quantization);
- sparsity: unstructured magnitude, N:M along the input axis, or whole filters by L1 norm
  (``pattern: channel`` and ``channel_prune``); a pruned filter's bias is kept, so channel
  pruning is measured as zeroed filters, a close but not exact stand-in for removal;
- dropped units: the residual block is skipped.

The returned graph carries the densities measured from the real masks.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

import numpy as np

from hwsim.graph import Graph, NumberFormat
from workloads.accuracy import digits
from workloads.accuracy.lower import digits_graph, op_name
from workloads.compression.plan import CompressionPlan, LayerSettings
from workloads.compression.prune import prune_channels, prune_magnitude, prune_n_m
from workloads.compression.quantize import quantize_float, quantize_uniform


@dataclass(frozen=True)
class PlanAccuracy:
    """Measured top-1 of a plan on a digits model, the fp32 baseline and the compressed graph."""

    accuracy: float
    fp32_accuracy: float
    graph: Graph


def _masks(w: np.ndarray, s: LayerSettings,
           channel_keep: float | None) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(element mask, filter mask) of a weight under its settings and channel pruning."""
    sparsity = float(s.weight_sparsity or 0.0)
    pattern = str(s.pattern)
    element = None
    if ":" in pattern:
        n, m = (int(v) for v in pattern.split(":"))
        element = prune_n_m(w, n=n, m=m, axis=1).mask
    elif pattern in ("unstructured", "dense") and sparsity > 0:
        element = prune_magnitude(w, sparsity=sparsity).mask
    elif pattern == "channel" and sparsity > 0:
        channel_keep = min(channel_keep or 1.0, 1.0 - sparsity)
    if channel_keep is None or channel_keep >= 1.0:
        return element, None
    filt = np.zeros(w.shape, bool)
    filt[prune_channels(w, keep_ratio=channel_keep, axis=0).kept] = True
    return element, filt


def _quantize(x: np.ndarray, fmt: str, bits: int, *, weights: bool) -> np.ndarray:
    if NumberFormat(fmt) is NumberFormat.INT or (fmt == "fp32" and bits < 32):
        return quantize_uniform(x, bits=min(bits, 16), symmetric=weights,
                                axis=0 if weights else None).values.astype(x.dtype)
    return quantize_float(x, fmt=fmt).values.astype(x.dtype)


def _channel_keep(plan: CompressionPlan, name: str) -> float | None:
    keep = None
    for rule in plan.channel_prune:
        if rule.match == name or fnmatch.fnmatchcase(name, rule.match):
            keep = rule.keep
    return keep


def evaluate_plan(plan: CompressionPlan, model_name: str, *, seed: int = 0,
                  finetune_epochs: int = 0, split: str = "test") -> PlanAccuracy:
    """Apply ``plan`` to the trained digits model's real weights and measure top-1."""
    graph = digits_graph(model_name)
    plan.validate(graph)
    trained = digits.train(model_name, seed=seed)
    names = {spec.name: op_name(spec) for spec in digits.architecture(model_name)}
    settings = {layer: plan.settings_for(op) for layer, op in names.items()}
    masks, element_masks = {}, {}
    for layer, w in trained.weights.items():
        element, filt = _masks(w, settings[layer], _channel_keep(plan, names[layer]))
        if element is not None:
            element_masks[names[layer]] = element
        combined = filt if element is None else element if filt is None else element & filt
        if combined is not None:
            masks[layer] = combined
    if masks and finetune_epochs:
        trained = digits.finetune(trained, masks=masks, epochs=finetune_epochs, seed=seed)

    def weight_q(layer: str, w: np.ndarray) -> np.ndarray:
        s = settings[layer]
        bits = int(s.weight_bits or 32)
        return w if s.format == "fp32" and bits == 32 else _quantize(w, str(s.format), bits,
                                                                      weights=True)

    def act_q(layer: str, x: np.ndarray) -> np.ndarray:
        s = settings[layer]
        bits = int(s.act_bits or 32)
        return x if s.format == "fp32" and bits == 32 else _quantize(x, str(s.format), bits,
                                                                      weights=False)

    acc = digits.evaluate(trained, weight_transform=weight_q, act_transform=act_q, masks=masks,
                          drop=set(plan.drop), split=split)
    # Channel pruning is structural in the graph; only element masks set measured densities.
    compressed = plan.apply(graph, masks=element_masks)
    return PlanAccuracy(accuracy=acc, fp32_accuracy=trained.test_accuracy, graph=compressed)
