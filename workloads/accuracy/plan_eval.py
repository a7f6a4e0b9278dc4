"""The digits models as op graphs, and a ``CompressionPlan`` measured on their real weights.

``digits_graph`` (from ``workloads.accuracy.lower``) gives the op graph every accelerator
runs. ``evaluate_plan`` applies a plan to the trained weights for real and measures top-1 on the
held-out split:

- weights: quantized per output channel (int: symmetric, max clipping; float formats by
  rounding emulation), after pruning masks are applied;
- activations: the input of every weight layer is quantized per tensor (int: asymmetric,
  max clipping over the evaluated batch, i.e. dynamic quantization);
- sparsity: unstructured magnitude, N:M along the input axis, or whole filters by L1 norm
  (``pattern: channel``), chosen among the weights the structure keeps;
- channel pruning (``channel_prune``): the filters of least L1 norm are removed for real, as
  in the graph: their weights and bias are zero and so are the weights that read their
  channel in the consuming layer, so the measured network is the pruned graph's;
- dropped units: the residual block is skipped.

The returned graph carries the densities measured from the real masks.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np

from hwsim.graph import Graph, NumberFormat
from workloads.accuracy import digits
from workloads.accuracy.lower import digits_graph, op_name
from workloads.accuracy.models import LayerSpec
from workloads.compression.plan import CompressionPlan, LayerSettings
from workloads.compression.prune import prune_channels, prune_magnitude, prune_n_m
from workloads.compression.quantize import quantize_float, quantize_uniform


@dataclass(frozen=True)
class PlanAccuracy:
    """Measured top-1 of a plan on a digits model, the fp32 baseline and the compressed graph."""

    accuracy: float
    fp32_accuracy: float
    graph: Graph


def _sparsity_mask(w: np.ndarray, s: LayerSettings) -> np.ndarray | None:
    """Keep mask of ``w`` under its sparsity settings, or None when they leave it dense."""
    sparsity = float(s.weight_sparsity or 0.0)
    pattern = str(s.pattern)
    if ":" in pattern:
        n, m = (int(v) for v in pattern.split(":"))
        return prune_n_m(w, n=n, m=m, axis=1).mask
    if sparsity == 0.0:
        return None
    if pattern == "channel":
        mask = np.zeros(w.shape, bool)
        mask[prune_channels(w, keep_ratio=1.0 - sparsity, axis=0).kept] = True
        return mask
    return prune_magnitude(w, sparsity=sparsity).mask


def _kept_inputs(specs: Mapping[str, LayerSpec], spec: LayerSpec, kept: Mapping[str, np.ndarray],
                 drop: Collection[str]) -> np.ndarray | None:
    """Indices along axis 1 of ``spec``'s weight that read kept channels of a pruned conv.

    Walks back through ReLUs, pools, a flatten (a channel spans H*W features there) and
    dropped blocks to the producing weight layer; None when that layer is not pruned.
    """
    src, span = spec.inputs[0], 1
    while src in specs and (specs[src].weight_shape is None or specs[src].block in drop):
        producer = specs[src]
        if producer.kind == "flatten":
            span = int(np.prod(producer.input_shape[2:]))
        elif producer.block not in drop and producer.kind not in ("relu", "maxpool"):
            return None
        src = producer.inputs[0]
    rows = kept.get(src)
    return None if rows is None else (rows[:, None] * span + np.arange(span)).ravel()


def _restrict(w: np.ndarray, rows: np.ndarray | None, cols: np.ndarray | None) -> np.ndarray:
    w = w if rows is None else np.take(w, rows, axis=0)
    return w if cols is None else np.take(w, cols, axis=1)


def _embed(shape: tuple[int, ...], rows: np.ndarray | None, cols: np.ndarray | None,
           sub: np.ndarray | None) -> np.ndarray:
    """Full-size mask: ``sub`` (or all True) on the kept rows and columns, False elsewhere."""
    full = np.zeros(shape, bool)
    r = np.arange(shape[0]) if rows is None else rows
    c = np.arange(shape[1]) if cols is None else cols
    full[np.ix_(r, c)] = True if sub is None else sub
    return full


@dataclass(frozen=True)
class _Masks:
    """Masks of the trained weights, of the pruned graph's weights, and the pruned filters."""

    weights: dict[str, np.ndarray]
    graph: dict[str, np.ndarray]
    removed_filters: dict[str, np.ndarray]


def _plan_masks(plan: CompressionPlan, trained: digits.TrainedModel, pruned: Graph) -> _Masks:
    """Masks of every layer from the plan's structure (``pruned``) and sparsity settings."""
    specs = {spec.name: spec for spec in digits.architecture(trained.model_name)}
    drop = set(plan.drop)
    kept: dict[str, np.ndarray] = {}
    out = _Masks({}, {}, {})
    for layer, w in trained.weights.items():
        name = op_name(specs[layer])
        if name not in pruned:
            continue  # in a dropped block
        rows = None
        if pruned[name].out_features < w.shape[0]:
            rows = kept[layer] = prune_channels(
                w, keep_ratio=pruned[name].out_features / w.shape[0], axis=0).kept
            out.removed_filters[layer] = np.setdiff1d(np.arange(w.shape[0]), rows)
        cols = _kept_inputs(specs, specs[layer], kept, drop)
        element = _sparsity_mask(_restrict(w, rows, cols), plan.settings_for(name))
        if element is not None:
            out.graph[name] = element
        if rows is not None or cols is not None or element is not None:
            out.weights[layer] = _embed(w.shape, rows, cols, element)
    return out


def _without_biases(trained: digits.TrainedModel,
                    removed: Mapping[str, np.ndarray]) -> digits.TrainedModel:
    """``trained`` with the biases of removed filters set to zero."""
    if not removed:
        return trained
    biases = {k: np.array(b) for k, b in trained.biases.items()}
    for layer, idx in removed.items():
        biases[layer][idx] = 0.0
    return digits.TrainedModel(model_name=trained.model_name, seed=trained.seed,
                               epochs=trained.epochs, weights=trained.weights, biases=biases,
                               test_accuracy=trained.test_accuracy)


def _quantize(x: np.ndarray, fmt: str, bits: int, *, weights: bool) -> np.ndarray:
    if NumberFormat(fmt) is NumberFormat.INT:
        return quantize_uniform(x, bits=min(bits, 16), symmetric=weights,
                                axis=0 if weights else None).values.astype(x.dtype)
    return quantize_float(x, fmt=fmt).values.astype(x.dtype)


def evaluate_plan(plan: CompressionPlan, model_name: str, *, seed: int = 0,
                  finetune_epochs: int = 0, split: str = "test") -> PlanAccuracy:
    """Apply ``plan`` to the trained digits model's real weights and measure top-1."""
    graph = digits_graph(model_name)
    pruned = plan.apply(graph)  # validates the plan and gives the structure it keeps
    baseline = digits.train(model_name, seed=seed)
    masks = _plan_masks(plan, baseline, pruned)
    trained = _without_biases(baseline, masks.removed_filters)
    if masks.weights and finetune_epochs:
        trained = digits.finetune(trained, masks=masks.weights, epochs=finetune_epochs, seed=seed)
    names = {spec.name: op_name(spec) for spec in digits.architecture(model_name)}
    settings = {layer: plan.settings_for(op) for layer, op in names.items()}

    def weight_q(layer: str, w: np.ndarray) -> np.ndarray:
        s = settings[layer]
        return w if s.format == "fp32" else _quantize(w, str(s.format), int(s.weight_bits or 32),
                                                      weights=True)

    def act_q(layer: str, x: np.ndarray) -> np.ndarray:
        s = settings[layer]
        return x if s.format == "fp32" else _quantize(x, str(s.format), int(s.act_bits or 32),
                                                      weights=False)

    acc = digits.evaluate(trained, weight_transform=weight_q, act_transform=act_q,
                          masks=masks.weights, drop=set(plan.drop), split=split)
    return PlanAccuracy(accuracy=acc, fp32_accuracy=baseline.test_accuracy,
                        graph=plan.apply(graph, masks=masks.graph))
