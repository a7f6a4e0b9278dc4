"""Tensor-level compression transforms: quantization and pruning of real weight arrays."""

from workloads.compression.quantize import (
    CLIP_METHODS,
    FLOAT_FORMATS,
    FORMATS,
    FloatFormat,
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
    "FloatFormat",
    "QuantResult",
    "quantize",
    "quantize_fixed_point",
    "quantize_float",
    "quantize_uniform",
    "sqnr_db",
]
