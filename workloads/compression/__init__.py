"""Tensor-level compression transforms: quantization and pruning of real weight arrays."""

from workloads.compression.floats import FloatFormat
from workloads.compression.prune import (
    NORMS,
    ChannelPruneResult,
    PruneResult,
    prune_channels,
    prune_global,
    prune_magnitude,
    prune_n_m,
    prune_taylor,
    shrink_inputs,
)
from workloads.compression.quantize import (
    CLIP_METHODS,
    FLOAT_FORMATS,
    FORMATS,
    QuantResult,
    quantize,
    quantize_fixed_point,
    quantize_float,
    quantize_uniform,
    sqnr_db,
)

__all__ = [
    "CLIP_METHODS",
    "FLOAT_FORMATS",
    "FORMATS",
    "NORMS",
    "ChannelPruneResult",
    "FloatFormat",
    "PruneResult",
    "QuantResult",
    "prune_channels",
    "prune_global",
    "prune_magnitude",
    "prune_n_m",
    "prune_taylor",
    "quantize",
    "quantize_fixed_point",
    "quantize_float",
    "quantize_uniform",
    "shrink_inputs",
    "sqnr_db",
]
