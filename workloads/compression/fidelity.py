"""A fidelity proxy for zoo models that have no trained weights.

This is a *proxy*, never accuracy: for every weight layer of a compressed graph it draws
seeded synthetic weights (He-scaled Gaussian) and inputs (standard Gaussian), computes the
layer's output on a sample of its GEMM (at most ``max_rows`` x ``max_depth`` x ``max_cols``)
in float64 and again with the layer's weight and activation formats and weight sparsity
applied (unstructured, N:M, or a nominal channel sparsity as zeroed output channels; pruning
by ``channel_prune`` is structural and costs nothing here), and reports the
signal-to-quantization-noise ratio (SQNR, dB) of each layer. The graph-level figure
assumes each layer's noise adds independently: ``1 / SQNR_total = sum_i 1 / SQNR_i``
(linear ratios). Real networks propagate and mask noise differently; use the proxy to rank
plans, not to predict accuracy.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hwsim.graph import Graph, NumberFormat, Op, OpKind, Precision, SparsityPattern
from workloads.accuracy.blas import single_threaded
from workloads.compression.prune import prune_channels, prune_magnitude, prune_n_m
from workloads.compression.quantize import quantize_float, quantize_uniform, sqnr_db


@dataclass(frozen=True)
class FidelityResult:
    """Graph-level proxy SQNR (dB) and the per-layer table (``op``, ``sqnr_db``)."""

    sqnr_db: float
    per_layer: pd.DataFrame


def _quantize(x: np.ndarray, fmt: NumberFormat, bits: int, axis: int | None) -> np.ndarray:
    if fmt is NumberFormat.INT:
        return quantize_uniform(x, bits=min(bits, 16), axis=axis).values
    return quantize_float(x, fmt=fmt.value).values


def _sparsify(w: np.ndarray, op: Op) -> np.ndarray:
    sp = op.sparsity
    if sp.pattern is SparsityPattern.NM and w.shape[1] >= sp.m:
        return prune_n_m(w, n=sp.n, m=sp.m, axis=1).values
    if sp.pattern is SparsityPattern.UNSTRUCTURED and sp.weight_density < 1.0:
        return prune_magnitude(w, sparsity=1.0 - sp.weight_density).values
    if sp.pattern is SparsityPattern.CHANNEL and sp.weight_density < 1.0:
        # Nominal channel sparsity (shapes unchanged): the weakest output rows are zero.
        kept = prune_channels(w, keep_ratio=sp.weight_density, axis=0).kept
        out = np.zeros_like(w)
        out[kept] = w[kept]
        return out
    return w  # dense; channel_prune rules are structural, already in the graph's shapes


def layer_sqnr_db(op: Op, *, seed: int = 0, max_rows: int = 64, max_depth: int = 1024,
                  max_cols: int = 64) -> float:
    """Proxy SQNR (dB) of one weight layer's output under its precision and sparsity."""
    _, m_dim, k_dim, n_dim = op.gemm
    m, k, n = min(m_dim, max_rows), min(k_dim, max_depth), min(n_dim, max_cols)
    rng = np.random.default_rng([seed, zlib.crc32(op.name.encode())])
    w = rng.standard_normal((n, k)) * math.sqrt(2.0 / k)
    x = rng.standard_normal((m, k))
    p: Precision = op.precision
    wq = _sparsify(_quantize(w, p.weight_fmt, p.weight_bits, axis=0), op)
    xq = _quantize(x, p.act_fmt, p.act_bits, axis=None)
    return sqnr_db(x @ w.T, xq @ wq.T)


def fidelity_proxy(graph: Graph, *, seed: int = 0, max_rows: int = 64, max_depth: int = 1024,
                   max_cols: int = 64) -> FidelityResult:
    """Per-layer and aggregate proxy SQNR of a (compressed) graph; see the module docstring."""
    with single_threaded():  # tiny GEMMs: BLAS threads only add synchronisation
        rows = [
            (op.name, layer_sqnr_db(op, seed=seed, max_rows=max_rows, max_depth=max_depth,
                                    max_cols=max_cols))
            for op in graph.ops
            if op.kind in (OpKind.CONV2D, OpKind.MATMUL) and op.weight_shape
        ]
    table = pd.DataFrame(rows, columns=["op", "sqnr_db"])
    return FidelityResult(sqnr_db=combine_sqnr_db(table["sqnr_db"].to_numpy()), per_layer=table)


def combine_sqnr_db(layer_db: np.ndarray) -> float:
    """Aggregate SQNR (dB) when independent layer noises add: -10 log10(sum 10^(-s/10))."""
    finite = np.asarray(layer_db, float)
    if finite.size == 0:
        return float("inf")
    nsr = np.sum(10.0 ** (-finite / 10.0))
    return float("inf") if nsr == 0 else float(-10.0 * np.log10(nsr))
