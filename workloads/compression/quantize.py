"""Quantization of real tensors to integer, fixed-point and floating-point formats.

Every function takes a finite numpy array and returns a :class:`QuantResult` holding the
dequantized values, the integer codes, the scale and zero point, and the error made.

Conventions
-----------
Uniform symmetric, ``bits >= 2``
    Narrow signed range: codes in ``[-(2**(bits-1) - 1), 2**(bits-1) - 1]``, zero point 0,
    ``scale = clip / (2**(bits-1) - 1)``, so ``+clip`` and ``-clip`` are both representable.
Uniform symmetric, ``bits == 1``
    Binary: codes in ``{-1, +1}`` (``+1`` for ``x >= 0``), ``values = codes * scale`` and
    ``scale = clip``; there is no code for zero.
Uniform asymmetric (affine)
    Codes in ``[0, 2**bits - 1]``; the range ``[lo, hi]`` always contains 0,
    ``scale = (hi - lo) / (2**bits - 1)`` and ``zero_point = round(-lo / scale)``, so real zero is
    exactly representable; ``values = (codes - zero_point) * scale``.
Fixed point Qm.n
    Signed two's complement with ``1 + m + n`` bits: range ``[-2**m, 2**m - 2**-n]``, step
    ``2**-n``, round to nearest (ties to even) and saturation at both ends.
Floating point
    Round to nearest, ties to even, with subnormals. Values beyond the largest finite magnitude
    saturate to it (no overflow to infinity), as NVIDIA's ``satfinite`` conversions and the OCP
    FP8 "saturating" mode do. fp8_e4m3 follows the OCP/NVIDIA definition (bias 7, no infinity,
    NaN only at ``S.1111.111``, largest finite 448); fp8_e5m2 is IEEE-like (bias 15, largest
    finite 57344). ``codes`` holds the bit patterns.

Clipping ranges (``clip``) are ``"max"`` (the extreme values), ``"percentile"`` (the given
percentile of ``|x|``, or of ``x`` at both ends when asymmetric) or ``"mse"``: a search over
clipping ratios of the max range (a geometric grid from 2**-8 to 1, then a finer grid around the
best) minimising the squared error. Large channels are measured on a deterministic stratified
sample: their largest magnitudes exactly, plus an evenly spaced, up-weighted sample of the rest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from workloads.compression.floats import (
    FLOAT_FORMATS,
    encode_float,
    round_to_format,
)

CLIP_METHODS = ("max", "percentile", "mse")

_MSE_COARSE_RATIOS = np.geomspace(2.0**-8, 1.0, 32)
_MSE_FINE_POINTS = 17
_MSE_SAMPLE_BUDGET = 1 << 16
_MSE_MIN_ROW_SAMPLES = 128


FORMATS = ("int", "fixed", *FLOAT_FORMATS)


@dataclass(frozen=True, kw_only=True)
class QuantResult:
    """A quantized tensor: its dequantized values, codes, scaling and error.

    Attributes
    ----------
    values : ndarray
        Dequantized tensor, same shape as the input; float32 for float16/float32 input,
        float64 otherwise.
    codes : ndarray or None
        Integer codes (uniform, fixed point) or bit patterns (float formats), same shape.
    scale : ndarray
        Real value of one code step, broadcastable against ``values`` (size-1 axes except the
        channel axis); ones for float formats.
    zero_point : ndarray
        Code of real zero, same shape as ``scale``.
    bits : int
        Storage bits per element.
    fmt : str
        ``"int"``, ``"fixed"`` or a float format name.
    mse : float
        Mean squared error between the input and ``values``.
    sqnr_db : float
        Signal-to-quantization-noise ratio, dB.
    """

    values: np.ndarray
    codes: np.ndarray | None
    scale: np.ndarray
    zero_point: np.ndarray
    bits: int
    fmt: str
    mse: float
    sqnr_db: float


def sqnr_db(reference: np.ndarray, approx: np.ndarray) -> float:
    """Signal-to-quantization-noise ratio of ``approx`` against ``reference``, dB.

    ``inf`` when the two are equal; ``-inf`` when the reference is all zeros and they differ.
    """
    ref = np.asarray(reference)
    return _ratio_db(_sum_sq(ref), _sum_sq(ref - np.asarray(approx)))


def quantize(
    x: np.ndarray,
    *,
    fmt: str = "int",
    bits: int = 8,
    symmetric: bool = True,
    axis: int | None = None,
    clip: str = "max",
    percentile: float = 99.99,
    int_bits: int | None = None,
    frac_bits: int | None = None,
) -> QuantResult:
    """Quantize ``x`` to ``fmt``: ``"int"`` (uniform), ``"fixed"`` (Qm.n) or a float format.

    ``bits``, ``symmetric``, ``axis``, ``clip`` and ``percentile`` apply to ``"int"``;
    ``int_bits`` and ``frac_bits`` to ``"fixed"``; float formats take no parameter.
    """
    if fmt == "int":
        return quantize_uniform(x, bits=bits, symmetric=symmetric, axis=axis, clip=clip,
                                percentile=percentile)
    if fmt == "fixed":
        if int_bits is None or frac_bits is None:
            raise ValueError(f"int_bits and frac_bits must be integers >= 0 for fmt='fixed', "
                             f"got int_bits={int_bits}, frac_bits={frac_bits}")
        return quantize_fixed_point(x, int_bits=int_bits, frac_bits=frac_bits)
    if fmt in FLOAT_FORMATS:
        return quantize_float(x, fmt=fmt)
    raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")


def quantize_uniform(
    x: np.ndarray,
    *,
    bits: int,
    symmetric: bool = True,
    axis: int | None = None,
    clip: str = "max",
    percentile: float = 99.99,
) -> QuantResult:
    """Uniform integer quantization, per tensor (``axis=None``) or per channel along ``axis``.

    Parameters
    ----------
    x : ndarray
        Finite real tensor.
    bits : int
        Code width, 1..16.
    symmetric : bool
        Symmetric (zero point 0) or asymmetric (affine) codes; see the module conventions.
    axis : int or None
        Channel axis for per-channel scales; None for one scale for the whole tensor.
    clip : {"max", "percentile", "mse"}
        How the clipping range is chosen.
    percentile : float
        Percentile in (0, 100] used when ``clip="percentile"``.
    """
    x = _check_tensor(x)
    if isinstance(bits, bool) or not isinstance(bits, int | np.integer) or not 1 <= bits <= 16:
        raise ValueError(f"bits must be an integer in 1..16 for fmt='int', got {bits!r}")
    axis = _check_axis(axis, x.ndim)
    _check_clip(clip, percentile)
    qmin, qmax = _code_range(int(bits), symmetric)
    binary = symmetric and bits == 1
    blocks = _channel_blocks(x, axis)
    lo, hi = _clip_range(blocks, symmetric=symmetric, clip=clip, percentile=percentile)
    codes = np.empty(blocks.shape, dtype=_code_dtype(qmin, qmax))
    values = np.empty_like(blocks)
    if clip == "mse":
        lo, hi = _mse_clip(blocks, lo, hi, qmin, qmax, binary, codes, values)
    scale, zero_point = _params(lo, hi, qmin, qmax, binary, x.dtype)
    noise, signal = _quantize_kernel(blocks, scale, zero_point, qmin, qmax, binary, codes, values)
    return _result(x, axis, scale, zero_point, codes, values, noise.sum(), signal, int(bits),
                   "int")


def quantize_fixed_point(x: np.ndarray, *, int_bits: int, frac_bits: int) -> QuantResult:
    """Signed fixed-point Qm.n quantization with ``m = int_bits`` and ``n = frac_bits``.

    Uses ``1 + int_bits + frac_bits`` bits (at most 32); rounds to nearest (ties to even) and
    saturates to ``[-2**int_bits, 2**int_bits - 2**-frac_bits]``. Codes wider than 24 bits are
    computed (and returned) in float64, since float32 cannot hold them exactly.
    """
    x = _check_tensor(x)
    for name, value in (("int_bits", int_bits), ("frac_bits", frac_bits)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
            raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    bits = 1 + int(int_bits) + int(frac_bits)
    if bits > 32:
        raise ValueError(f"1 + int_bits + frac_bits must be <= 32, got {bits}")
    if bits > 24:
        x = x.astype(np.float64)
    qmax = 2 ** (bits - 1) - 1
    scale, zero_point = np.array([2.0**-frac_bits], dtype=x.dtype), np.zeros(1)
    blocks = _channel_blocks(x, None)
    codes = np.empty(blocks.shape, dtype=_code_dtype(-qmax - 1, qmax))
    values = np.empty_like(blocks)
    noise, signal = _quantize_kernel(blocks, scale, zero_point, -qmax - 1, qmax, False, codes,
                                     values)
    return _result(x, None, scale, zero_point, codes, values, noise.sum(), signal, bits, "fixed")


def quantize_float(x: np.ndarray, *, fmt: str) -> QuantResult:
    """Round ``x`` to the float format ``fmt`` (one of :data:`FLOAT_FORMATS`).

    Round to nearest even with subnormals; magnitudes beyond the largest finite value saturate
    to it. ``codes`` holds the bit patterns (uint8, uint16 or uint32). fp16 uses numpy's
    float16 cast; the other formats are emulated exactly in the input's precision.
    """
    if fmt not in FLOAT_FORMATS:
        raise ValueError(f"fmt must be one of {tuple(FLOAT_FORMATS)}, got {fmt!r}")
    x = _check_tensor(x)
    f = FLOAT_FORMATS[fmt]
    values = round_to_format(x, f)
    noise = _sum_sq(x - values)
    return QuantResult(values=values, codes=encode_float(values, f),
                       scale=np.ones((1,) * x.ndim, dtype=x.dtype),
                       zero_point=np.zeros((1,) * x.ndim, dtype=np.int64), bits=f.bits, fmt=fmt,
                       mse=noise / x.size, sqnr_db=_ratio_db(_sum_sq(x), noise))


def _check_tensor(x: np.ndarray) -> np.ndarray:
    """Return ``x`` as a contiguous float32 or float64 array; reject empty or non-finite input."""
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise ValueError(f"x must be a real numeric array, got dtype {x.dtype}")
    if x.size == 0:
        raise ValueError(f"x must have at least one element, got shape {x.shape}")
    dtype = np.float32 if x.dtype in (np.float16, np.float32) else np.float64
    x = np.ascontiguousarray(x, dtype=dtype)
    bad = x.size - int(np.count_nonzero(np.isfinite(x)))
    if bad:
        raise ValueError(f"x must contain only finite values, got {bad} NaN or infinite")
    return x


def _check_axis(axis: int | None, ndim: int) -> int | None:
    """Return ``axis`` normalised to 0..ndim-1 (None passes through)."""
    if axis is None:
        return None
    if isinstance(axis, bool) or not isinstance(axis, int | np.integer) or not (
        -ndim <= axis < ndim
    ):
        raise ValueError(f"axis must be None or an integer in {-ndim}..{ndim - 1} for a "
                         f"{ndim}-D tensor, got {axis!r}")
    return int(axis) % ndim


def _check_clip(clip: str, percentile: float) -> None:
    """Reject unknown clipping methods and percentiles outside (0, 100]."""
    if clip not in CLIP_METHODS:
        raise ValueError(f"clip must be one of {CLIP_METHODS}, got {clip!r}")
    if clip == "percentile" and not 0.0 < percentile <= 100.0:
        raise ValueError(f"percentile must be in (0, 100], got {percentile!r}")


def _code_range(bits: int, symmetric: bool) -> tuple[int, int]:
    """Smallest and largest integer code for a uniform quantizer."""
    if not symmetric:
        return 0, 2**bits - 1
    if bits == 1:
        return -1, 1
    return -(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1


def _code_dtype(qmin: int, qmax: int) -> type[np.integer]:
    """Narrowest integer dtype holding every code in ``[qmin, qmax]``."""
    candidates = (np.uint8, np.uint16, np.uint32) if qmin >= 0 else (np.int8, np.int16, np.int32)
    return next(t for t in candidates if np.iinfo(t).min <= qmin and qmax <= np.iinfo(t).max)


def _channel_blocks(x: np.ndarray, axis: int | None) -> np.ndarray:
    """View of contiguous ``x`` as (before, channel, after); one channel when ``axis`` is None."""
    if axis is None:
        return x.reshape(1, 1, -1)
    return x.reshape(int(np.prod(x.shape[:axis])), x.shape[axis], -1)


def _clip_range(blocks: np.ndarray, *, symmetric: bool, clip: str,
                percentile: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel real range ``[lo, hi]`` (float64, always containing 0) before MSE search."""
    if clip == "percentile":
        rows = np.moveaxis(blocks, 1, 0).reshape(blocks.shape[1], -1)
        if symmetric:
            hi = np.percentile(np.abs(rows), percentile, axis=1).astype(np.float64)
            return -hi, hi
        lo = np.percentile(rows, 100.0 - percentile, axis=1)
        hi = np.percentile(rows, percentile, axis=1)
    else:
        lo, hi = blocks.min(axis=(0, 2)), blocks.max(axis=(0, 2))
    lo = np.minimum(lo.astype(np.float64), 0.0)
    hi = np.maximum(hi.astype(np.float64), 0.0)
    if symmetric:
        hi = np.maximum(hi, -lo)
        return -hi, hi
    return lo, hi


def _params(lo: np.ndarray, hi: np.ndarray, qmin: int, qmax: int, binary: bool,
            dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """Scale (in ``dtype``) and integer zero point mapping ``[lo, hi]`` onto ``[qmin, qmax]``."""
    if binary:
        return np.where(hi > 0, hi, 1.0).astype(dtype), np.zeros_like(hi)
    exact = (hi - lo) / (qmax - qmin)
    exact = np.where(exact > 0, exact, 1.0)
    # Positive also after the cast: a tiny range can underflow to zero in float32.
    scale = exact.astype(dtype)
    scale = np.where(scale > 0, scale, np.ones((), dtype))
    return scale, np.clip(np.rint(qmin - lo / exact), qmin, qmax)


def _result(x: np.ndarray, axis: int | None, scale: np.ndarray, zero_point: np.ndarray,
            codes: np.ndarray, values: np.ndarray, noise: float, signal: float, bits: int,
            fmt: str) -> QuantResult:
    """Bundle per-channel parameters, codes, values and the error they make."""
    shape = [1] * x.ndim
    if axis is not None:
        shape[axis] = x.shape[axis]
    return QuantResult(values=values.reshape(x.shape), codes=codes.reshape(x.shape),
                       scale=scale.reshape(shape), bits=bits, fmt=fmt,
                       zero_point=zero_point.astype(np.int64).reshape(shape),
                       mse=noise / x.size, sqnr_db=_ratio_db(signal, noise))


def _sum_sq(a: np.ndarray) -> float:
    """Sum of squares accumulated in float64 (no float32 overflow)."""
    flat = a.ravel()
    return float(np.einsum("i,i->", flat, flat, dtype=np.float64))


def _ratio_db(signal: float, noise: float) -> float:
    """``10 log10(signal / noise)``; inf without noise, -inf with noise but no signal."""
    if noise == 0.0:
        return float("inf")
    if signal == 0.0:
        return float("-inf")
    return 10.0 * (math.log10(signal) - math.log10(noise))


def _mse_clip(blocks: np.ndarray, lo: np.ndarray, hi: np.ndarray, qmin: int, qmax: int,
              binary: bool, codes: np.ndarray, values: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """Range ``[r * lo, r * hi]`` per channel with the clipping ratio ``r`` of least error.

    The ratio is searched on a sample, then kept only where the full channel confirms it beats
    max clipping (``codes`` and ``values`` are scratch space), so the result is never worse.
    """
    n_ch = blocks.shape[1]
    width = max(_MSE_MIN_ROW_SAMPLES, _MSE_SAMPLE_BUDGET // n_ch)
    samples = np.empty((n_ch, width), dtype=blocks.dtype)
    weights = np.empty((n_ch, width))
    _stratified_sample(blocks, width // 4, samples, weights)
    coarse = np.ascontiguousarray(np.broadcast_to(_MSE_COARSE_RATIOS,
                                                  (n_ch, _MSE_COARSE_RATIOS.size)))
    best = _best_ratio(samples, weights, lo, hi, coarse, qmin, qmax, binary)
    step = _MSE_COARSE_RATIOS[1] / _MSE_COARSE_RATIOS[0]
    fine = best[:, None] * step ** np.linspace(-1.0, 1.0, _MSE_FINE_POINTS)[None, :]
    best = _best_ratio(samples, weights, lo, hi, np.minimum(fine, 1.0), qmin, qmax, binary)
    errors = [
        _quantize_kernel(blocks, *_params(a, b, qmin, qmax, binary, blocks.dtype), qmin, qmax,
                         binary, codes, values)[0]
        for a, b in ((lo, hi), (lo * best, hi * best))
    ]
    best = np.where(errors[1] < errors[0], best, 1.0)
    return lo * best, hi * best


def _best_ratio(samples: np.ndarray, weights: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                ratios: np.ndarray, qmin: int, qmax: int, binary: bool) -> np.ndarray:
    """Per channel, the ratio in ``ratios`` (channels x candidates) of least squared error."""
    scale, zero_point = _params(lo[:, None] * ratios, hi[:, None] * ratios, qmin, qmax, binary,
                                samples.dtype)
    err = np.empty(ratios.shape, dtype=np.float64)
    _clip_sq_error(samples, weights, scale, zero_point, qmin, qmax, binary, err)
    return ratios[np.arange(ratios.shape[0]), np.argmin(err, axis=1)]


@njit(cache=True)
def _code_of(v, scale, zero_point, qmin, qmax, binary):
    """Integer code (as a float) of the real value ``v``."""
    if binary:
        return 1.0 if v >= 0 else -1.0
    return min(max(np.rint(v / scale) + zero_point, qmin), qmax)


# fastmath "reassoc" only lets the error sums vectorise; codes and values stay bit-exact.
@njit(cache=True, fastmath={"reassoc"})
def _quantize_kernel(blocks, scale, zero_point, qmin, qmax, binary, codes, values):
    """Fill ``codes`` and ``values`` of ``blocks`` (before, channel, after).

    Returns the squared error per channel and the sum of squared inputs.
    """
    noise, signal = np.zeros(blocks.shape[1]), 0.0
    for p in range(blocks.shape[0]):
        for c in range(blocks.shape[1]):
            s, zp, acc = scale[c], zero_point[c], 0.0
            for q in range(blocks.shape[2]):
                v = blocks[p, c, q]
                code = _code_of(v, s, zp, qmin, qmax, binary)
                codes[p, c, q] = code
                values[p, c, q] = (code - zp) * s
                # Errors in float64: float32 squares of tiny values underflow to zero.
                d = np.float64(v) - np.float64(values[p, c, q])
                acc += d * d
                signal += np.float64(v) * np.float64(v)
            noise[c] += acc
    return noise, signal


@njit(cache=True, fastmath={"reassoc"})
def _clip_sq_error(samples, weights, scale, zero_point, qmin, qmax, binary, out):
    """Fill ``out[c, k]``: weighted squared error of row ``c`` at ``scale[c, k]``."""
    for c in range(samples.shape[0]):
        for k in range(scale.shape[1]):
            s, zp, acc = scale[c, k], zero_point[c, k], 0.0
            for j in range(samples.shape[1]):
                v = samples[c, j]
                d = (_code_of(v, s, zp, qmin, qmax, binary) - zp) * s - v
                acc += weights[c, j] * d * d
            out[c, k] = acc


@njit(cache=True)
def _stratified_sample(blocks, n_tail, samples, weights):
    """Fill one row of ``samples`` and ``weights`` per channel of ``blocks``.

    A channel that fits is copied whole (weight 1). Otherwise its elements of magnitude above
    the ``n_tail``-th largest come first (weight 1), then an evenly spaced sample of the others,
    weighted so that they stand for all of them; unused slots have weight 0.
    """
    n_pre, n_ch, n_post = blocks.shape
    n, width = n_pre * n_post, samples.shape[1]
    samples[:] = 0.0
    weights[:] = 0.0
    for c in range(n_ch):
        tau = -1.0 if n <= width else _kth_largest_abs(blocks, c, n_tail)
        j = 0
        for p in range(n_pre):
            for q in range(n_post):
                if abs(blocks[p, c, q]) > tau:
                    samples[c, j] = blocks[p, c, q]
                    weights[c, j] = 1.0
                    j += 1
        n_body, start = width - n_tail, j
        for b in range(n_body if n > width else 0):
            i = (b * n) // n_body
            if abs(blocks[i // n_post, c, i % n_post]) <= tau:
                samples[c, j] = blocks[i // n_post, c, i % n_post]
                j += 1
        if j > start:
            weights[c, start:j] = (n - start) / (j - start)


@njit(cache=True)
def _kth_largest_abs(blocks, c, k):
    """The ``k``-th largest magnitude in channel ``c`` of ``blocks``, by a min-heap."""
    heap = np.zeros(k)
    for p in range(blocks.shape[0]):
        for q in range(blocks.shape[2]):
            a = abs(blocks[p, c, q])
            if a > heap[0]:
                heap[0] = a
                _sift_down(heap)
    return heap[0]


@njit(cache=True)
def _sift_down(heap):
    """Restore the min-heap property after ``heap[0]`` grew."""
    i, n = 0, heap.shape[0]
    while True:
        child = 2 * i + 1
        if child + 1 < n and heap[child + 1] < heap[child]:
            child += 1
        if child >= n or heap[i] <= heap[child]:
            return
        heap[i], heap[child] = heap[child], heap[i]
        i = child
