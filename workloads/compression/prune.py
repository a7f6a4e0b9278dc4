"""Pruning of real weight tensors: magnitude, Taylor, N:M and channel pruning.

Conventions
-----------
- A mask is True where a weight is kept.
- Unstructured pruning removes exactly ``round(sparsity * n)`` of the ``n`` weights (Python's
  ``round``: halves go to even). Among equal importances the weight earlier in C order is kept
  (and, for global pruning, the weight of the earlier tensor in the mapping), so results are
  deterministic.
- N:M pruning keeps the N largest magnitudes of every M consecutive weights along one axis (the
  reduction, or input, axis). When that axis is not a multiple of M, the short last group is
  treated as padded with zeros that are never kept: it keeps its ``min(N, length)`` largest
  weights, so every group, short or not, has at most N nonzeros. Ties keep the earlier weight.
- Channel pruning ranks whole slices along an axis by their L1 or L2 norm and removes the
  weakest; the result holds the kept indices and the shrunk tensor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numba import njit

NORMS = ("l1", "l2")


@dataclass(frozen=True, kw_only=True)
class PruneResult:
    """A pruned tensor.

    Attributes
    ----------
    mask : ndarray of bool
        True where the weight is kept; same shape as the input.
    values : ndarray
        The input with pruned weights set to zero; same shape and dtype.
    density : float
        Measured fraction of nonzero entries in ``values`` (zeros already in the input count).
    pattern : str
        ``"unstructured"`` or ``"N:M"`` (for example ``"2:4"``).
    """

    mask: np.ndarray
    values: np.ndarray
    density: float
    pattern: str

    @property
    def sparsity(self) -> float:
        """Measured fraction of zero entries in ``values``."""
        return 1.0 - self.density


@dataclass(frozen=True, kw_only=True)
class ChannelPruneResult:
    """A tensor with whole channels removed.

    Attributes
    ----------
    kept : ndarray of int64
        Indices of the kept channels along ``axis``, increasing.
    values : ndarray
        The shrunk tensor: the input restricted to ``kept`` along ``axis``.
    axis : int
        Channel axis (non-negative).
    norms : ndarray of float64
        Norm of every input channel, the ranking used.
    density : float
        Fraction of channels (and so of weights) kept.
    """

    kept: np.ndarray
    values: np.ndarray
    axis: int
    norms: np.ndarray
    density: float


def prune_magnitude(w: np.ndarray, *, sparsity: float) -> PruneResult:
    """Unstructured magnitude pruning: zero the ``round(sparsity * w.size)`` smallest ``|w|``."""
    w = _check_tensor(w, "w")
    _check_fraction("sparsity", sparsity, upper_open=True)
    return _prune_by_score(w, _magnitudes(w), sparsity)


def prune_taylor(w: np.ndarray, grad: np.ndarray, *, sparsity: float) -> PruneResult:
    """Unstructured pruning by first-order Taylor importance ``|w * dL/dw|``.

    Parameters
    ----------
    w : ndarray
        Weights.
    grad : ndarray
        Gradient of the loss with respect to ``w`` (same shape), supplied by the caller.
    sparsity : float
        Fraction of weights to remove, in [0, 1).
    """
    w = _check_tensor(w, "w")
    grad = _check_tensor(grad, "grad")
    if grad.shape != w.shape:
        raise ValueError(f"grad must have the shape of w {w.shape}, got {grad.shape}")
    _check_fraction("sparsity", sparsity, upper_open=True)
    return _prune_by_score(w, np.abs(w.astype(np.float64) * grad.astype(np.float64)), sparsity)


def prune_global(weights: Mapping[str, np.ndarray], *, sparsity: float) -> dict[str, PruneResult]:
    """Global magnitude pruning: one threshold over all tensors in ``weights``.

    Exactly ``round(sparsity * total)`` weights are removed over all tensors together, so
    tensors of small weights lose more than tensors of large ones.
    """
    if not weights:
        raise ValueError("weights must hold at least one tensor, got an empty mapping")
    tensors = {name: _check_tensor(w, f"weights[{name!r}]") for name, w in weights.items()}
    _check_fraction("sparsity", sparsity, upper_open=True)
    scores = np.concatenate([_magnitudes(w).ravel() for w in tensors.values()])
    keep = _keep_mask(scores, round(sparsity * scores.size))
    bounds = np.cumsum([0] + [w.size for w in tensors.values()])
    return {
        name: _result(w, keep[start:stop].reshape(w.shape), "unstructured")
        for (name, w), start, stop in zip(tensors.items(), bounds[:-1], bounds[1:], strict=True)
    }


def prune_n_m(w: np.ndarray, *, n: int, m: int, axis: int = 1) -> PruneResult:
    """N:M structured pruning: keep the ``n`` largest ``|w|`` of every ``m`` along ``axis``.

    ``axis`` is the reduction (input) axis, 1 for (out, in, ...) weights; see the module
    conventions for a length that is not a multiple of ``m``.
    """
    w = _check_tensor(w, "w")
    for name, value in (("n", n), ("m", m)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if n >= m:
        raise ValueError(f"n must be smaller than m (n < m), got n={n}, m={m}")
    axis = _check_axis(axis, w.ndim)
    mask = np.empty(w.shape, dtype=bool)
    shape3 = (int(np.prod(w.shape[:axis])), w.shape[axis], -1)
    _n_m_kernel(_magnitudes(w).reshape(shape3), int(n), int(m), mask.reshape(shape3))
    return _result(w, mask, f"{n}:{m}")


def prune_channels(
    w: np.ndarray,
    *,
    keep_ratio: float | None = None,
    sparsity: float | None = None,
    axis: int = 0,
    norm: str = "l1",
) -> ChannelPruneResult:
    """Structured channel (filter) pruning by the L1 or L2 norm of each slice along ``axis``.

    Give exactly one of ``keep_ratio`` (in (0, 1]: ``round(keep_ratio * C)`` channels kept) and
    ``sparsity`` (in [0, 1): ``round(sparsity * C)`` channels removed); at least one channel is
    always kept. Ties in norm keep the lower index.
    """
    w = _check_tensor(w, "w")
    axis = _check_axis(axis, w.ndim)
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    n_channels = w.shape[axis]
    if (keep_ratio is None) == (sparsity is None):
        raise ValueError(f"give exactly one of keep_ratio and sparsity, got "
                         f"keep_ratio={keep_ratio}, sparsity={sparsity}")
    if keep_ratio is not None:
        _check_fraction("keep_ratio", keep_ratio, upper_open=False)
        n_keep = round(keep_ratio * n_channels)
    else:
        _check_fraction("sparsity", sparsity, upper_open=True)
        n_keep = n_channels - round(sparsity * n_channels)
    norms = _channel_norms(w, axis, norm)
    kept = np.sort(np.argsort(-norms, kind="stable")[: max(n_keep, 1)])
    return ChannelPruneResult(kept=kept, values=np.take(w, kept, axis=axis), axis=axis,
                              norms=norms, density=kept.size / n_channels)


def shrink_inputs(w_next: np.ndarray, kept: np.ndarray, *, axis: int = 1) -> np.ndarray:
    """The consuming layer's weights restricted to the kept input channels along ``axis``.

    ``kept`` is :attr:`ChannelPruneResult.kept` of the producing layer.
    """
    w_next = np.asarray(w_next)
    axis = _check_axis(axis, w_next.ndim)
    kept = np.asarray(kept)
    size = w_next.shape[axis]
    if (kept.ndim != 1 or kept.dtype.kind not in "iu" or kept.size == 0
            or np.any(np.diff(kept) <= 0) or kept[0] < 0 or kept[-1] >= size):
        raise ValueError(f"kept must be increasing integer indices in 0..{size - 1} "
                         f"(axis {axis} of w_next), got {kept!r}")
    return np.take(w_next, kept, axis=axis)


def _check_tensor(w: np.ndarray, name: str) -> np.ndarray:
    """Return ``w`` as a contiguous real array; reject empty or non-finite input."""
    w = np.ascontiguousarray(w)
    if w.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be a real numeric array, got dtype {w.dtype}")
    if w.size == 0:
        raise ValueError(f"{name} must have at least one element, got shape {w.shape}")
    if w.dtype.kind == "f" and not np.isfinite(w).all():
        raise ValueError(f"{name} must contain only finite values")
    return w


def _magnitudes(w: np.ndarray) -> np.ndarray:
    """``|w|`` without overflow, in a dtype the kernels take.

    Signed integers become unsigned of the same width (``|-128|`` is 128 for int8, not
    -128); float16 becomes float32, which Numba supports.
    """
    if w.dtype.kind == "i":
        return np.abs(w).view(np.dtype(f"u{w.dtype.itemsize}"))
    if w.dtype == np.float16:
        return np.abs(w).astype(np.float32)
    return np.abs(w)


def _check_fraction(name: str, value: float | None, *, upper_open: bool) -> None:
    """Reject fractions outside [0, 1) (``upper_open``) or (0, 1]."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        inside = False
    else:
        inside = 0.0 <= value < 1.0 if upper_open else 0.0 < value <= 1.0
    if not inside:
        allowed = "[0, 1)" if upper_open else "(0, 1]"
        raise ValueError(f"{name} must be a number in {allowed}, got {value!r}")


def _check_axis(axis: int, ndim: int) -> int:
    """Return ``axis`` normalised to 0..ndim-1."""
    if isinstance(axis, bool) or not isinstance(axis, int | np.integer) or not (
        -ndim <= axis < ndim
    ):
        raise ValueError(f"axis must be an integer in {-ndim}..{ndim - 1} for a {ndim}-D "
                         f"tensor, got {axis!r}")
    return int(axis) % ndim


def _prune_by_score(w: np.ndarray, scores: np.ndarray, sparsity: float) -> PruneResult:
    """Keep all but the ``round(sparsity * n)`` lowest-scoring weights of ``w``."""
    keep = _keep_mask(scores.ravel(), round(sparsity * w.size))
    return _result(w, keep.reshape(w.shape), "unstructured")


def _keep_mask(scores: np.ndarray, n_prune: int) -> np.ndarray:
    """Flat mask keeping all but the ``n_prune`` lowest ``scores``; ties keep earlier entries."""
    if n_prune == 0:
        return np.ones(scores.size, dtype=bool)
    threshold = np.partition(scores, n_prune - 1)[n_prune - 1]
    keep = scores > threshold
    ties = np.flatnonzero(scores == threshold)
    keep[ties[: scores.size - n_prune - int(np.count_nonzero(keep))]] = True
    return keep


def _result(w: np.ndarray, mask: np.ndarray, pattern: str) -> PruneResult:
    """Bundle a mask with the pruned values and their measured density."""
    values = np.where(mask, w, np.zeros((), dtype=w.dtype))
    return PruneResult(mask=mask, values=values, pattern=pattern,
                       density=np.count_nonzero(values) / values.size)


def _channel_norms(w: np.ndarray, axis: int, norm: str) -> np.ndarray:
    """L1 or L2 norm of every slice of ``w`` along ``axis``, in float64."""
    rows = np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1).astype(np.float64)
    if norm == "l1":
        return np.abs(rows).sum(axis=1)
    return np.sqrt(np.einsum("ij,ij->i", rows, rows))


@njit(cache=True)
def _n_m_kernel(w3, n, m, out):
    """Fill ``out`` (bool, shape of ``w3``) with the N:M keep mask along axis 1 of ``w3``.

    Every ``m`` consecutive entries along axis 1 keep their ``n`` largest magnitudes; a short
    last group keeps at most ``n``; ties keep the earlier entry.
    """
    n_pre, length, n_post = w3.shape
    for p in range(n_pre):
        for start in range(0, length, m):
            stop = min(start + m, length)
            for q in range(n_post):
                for i in range(start, stop):
                    a = abs(w3[p, i, q])
                    rank = 0
                    # Counting without branches: earlier entries outrank on ties, later ones not.
                    for j in range(start, i):
                        rank += abs(w3[p, j, q]) >= a
                    for j in range(i + 1, stop):
                        rank += abs(w3[p, j, q]) > a
                    out[p, i, q] = rank < n
