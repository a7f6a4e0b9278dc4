"""Pareto filtering, hypervolume and knee points over objective tables.

Objectives are columns of an ``(n, k)`` array with a sense per column, ``"min"`` or
``"max"``; internally every column is turned into a minimisation by negating the
``"max"`` ones. A point dominates another when it is no worse in every objective and
strictly better in at least one. Points equal in every objective do not dominate each
other, so duplicates on the front are all kept. Rows holding a NaN are never on the front;
infinities are ordinary values (a row best in one objective is on the front even if another
of its objectives is infinite).
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd

_SENSES = ("min", "max")
_MC_CELLS = 1 << 22  # comparisons per Monte-Carlo chunk, bounds memory


class HypervolumeEstimateWarning(UserWarning):
    """Issued when :func:`hypervolume` returns a Monte-Carlo estimate (k > 3)."""


def _as_minimisation(values: np.ndarray, senses: Sequence[str]) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"values must be a 2-D array (n, k), got shape {values.shape}")
    if len(senses) != values.shape[1] or any(s not in _SENSES for s in senses):
        raise ValueError(
            f"senses must hold one of {_SENSES} per objective ({values.shape[1]}), got {senses!r}"
        )
    sign = np.array([1.0 if s == "min" else -1.0 for s in senses])
    return values * sign


def pareto_mask(values: np.ndarray, senses: Sequence[str]) -> np.ndarray:
    """Boolean mask, shape (n,), of the non-dominated rows of ``values`` (n, k).

    Two objectives take O(n log n) (sort, then a running minimum); more objectives use
    a vectorised candidate sweep, O(n * front size * k).
    """
    costs = _as_minimisation(values, senses)
    mask = np.zeros(len(costs), dtype=bool)
    valid = np.flatnonzero(~np.isnan(costs).any(axis=1))
    if costs.shape[1] == 1:
        mask[valid] = costs[valid, 0] == np.min(costs[valid, 0], initial=np.inf)
    elif costs.shape[1] == 2:
        mask[valid] = _front_2d(costs[valid])
    else:
        mask[valid] = _front_nd(costs[valid])
    return mask


def _front_2d(costs: np.ndarray) -> np.ndarray:
    """Non-dominated mask for two minimised objectives without NaN."""
    order = np.lexsort((costs[:, 1], costs[:, 0]))
    x, y = costs[order, 0], costs[order, 1]
    group_start = np.searchsorted(x, x, side="left")
    running_min = np.minimum.accumulate(y)
    first = group_start == 0  # no point with a smaller x: nothing can dominate it in y
    best_before = np.where(first, np.inf, running_min[np.maximum(group_start - 1, 0)])
    keep_sorted = (y == y[group_start]) & (first | (best_before > y))
    keep = np.empty_like(keep_sorted)
    keep[order] = keep_sorted
    return keep


def _front_nd(costs: np.ndarray) -> np.ndarray:
    """Non-dominated mask for k minimised objectives without NaN.

    Each surviving candidate removes the points it dominates; dominance is transitive,
    so a point that survives every candidate is dominated by none.
    """
    order = np.lexsort(costs.T[::-1])
    remaining = order
    i = 0
    while i < len(remaining):
        candidate = costs[remaining[i]]
        others = costs[remaining]
        survives = np.any(others < candidate, axis=1) | np.all(others == candidate, axis=1)
        i = int(np.count_nonzero(survives[:i])) + 1
        remaining = remaining[survives]
    keep = np.zeros(len(costs), dtype=bool)
    keep[remaining] = True
    return keep


def _objectives(
    df: pd.DataFrame, minimize: Sequence[str], maximize: Sequence[str]
) -> tuple[list[str], list[str]]:
    columns = [*minimize, *maximize]
    if not columns:
        raise ValueError("name at least one objective in minimize or maximize")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"objective columns {missing} not in the DataFrame {list(df.columns)}")
    return columns, ["min"] * len(minimize) + ["max"] * len(maximize)


def pareto_front(
    df: pd.DataFrame, minimize: Sequence[str] = (), maximize: Sequence[str] = ()
) -> pd.DataFrame:
    """The rows of ``df`` not dominated on the ``minimize`` and ``maximize`` columns."""
    columns, senses = _objectives(df, minimize, maximize)
    return df[pareto_mask(df[columns].to_numpy(dtype=np.float64), senses)]


def hypervolume(
    values: np.ndarray,
    senses: Sequence[str],
    ref_point: Sequence[float],
    *,
    samples: int = 200_000,
    seed: int = 0,
) -> float:
    """Volume of objective space dominated by ``values`` and bounded by ``ref_point``.

    Exact for k <= 3: a sweep for two objectives, and for three, slicing along the third
    objective with an exact 2-D area per slab (O(n^2 log n) in the front size). For
    k > 3 this is a Monte-Carlo estimate from ``samples`` uniform points (seeded by
    ``seed``) and a :class:`HypervolumeEstimateWarning` says so; use
    :func:`hypervolume_monte_carlo` for the estimate with its standard error. Points
    that do not strictly dominate the reference point contribute nothing. Units are the
    product of the objectives' units.
    """
    front, ref = _front_for_volume(values, senses, ref_point)
    if len(front) == 0:
        return 0.0
    if front.shape[1] <= 3:
        return _exact_volume(front, ref)
    estimate, std_error = _monte_carlo(front, ref, samples, seed)
    warnings.warn(
        f"hypervolume of {front.shape[1]} objectives is a Monte-Carlo estimate "
        f"({samples} samples, standard error {std_error:.3g})",
        HypervolumeEstimateWarning,
        stacklevel=2,
    )
    return estimate


def hypervolume_monte_carlo(
    values: np.ndarray,
    senses: Sequence[str],
    ref_point: Sequence[float],
    *,
    samples: int = 200_000,
    seed: int = 0,
) -> tuple[float, float]:
    """Monte-Carlo hypervolume estimate and its standard error, for any k."""
    front, ref = _front_for_volume(values, senses, ref_point)
    if len(front) == 0:
        return 0.0, 0.0
    return _monte_carlo(front, ref, samples, seed)


def _front_for_volume(
    values: np.ndarray, senses: Sequence[str], ref_point: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """The minimised front strictly inside the reference box, and the minimised reference."""
    costs = _as_minimisation(values, senses)
    ref = np.asarray(ref_point, dtype=np.float64)
    if ref.shape != (costs.shape[1],) or not np.all(np.isfinite(ref)):
        raise ValueError(
            f"ref_point must hold {costs.shape[1]} finite numbers, got {list(ref_point)!r}"
        )
    ref = _as_minimisation(ref[None, :], senses)[0]
    inside = np.all(costs < ref, axis=1)
    costs = costs[inside]
    return costs[pareto_mask(costs, ["min"] * costs.shape[1])], ref


def _exact_volume(front: np.ndarray, ref: np.ndarray) -> float:
    if front.shape[1] == 1:
        return float(ref[0] - front[:, 0].min())
    if front.shape[1] == 2:
        return _area_2d(front, ref)
    order = np.argsort(front[:, 2], kind="stable")
    z = np.append(front[order, 2], ref[2])
    slab = np.diff(z)
    return float(sum(_area_2d(front[order[: i + 1], :2], ref[:2]) * slab[i]
                     for i in range(len(order)) if slab[i] > 0))


def _area_2d(points: np.ndarray, ref: np.ndarray) -> float:
    """Area dominated by ``points`` (m, 2) below ``ref``, both minimised."""
    front = points[_front_2d(points)]
    front = front[np.lexsort((front[:, 1], front[:, 0]))]
    x_next = np.append(front[1:, 0], ref[0])
    return float(np.sum((x_next - front[:, 0]) * (ref[1] - front[:, 1])))


def _monte_carlo(
    front: np.ndarray, ref: np.ndarray, samples: int, seed: int
) -> tuple[float, float]:
    """Share of uniform draws in the box [front minimum, ref] that the front dominates."""
    if samples < 1:
        raise ValueError(f"samples must be an integer >= 1, got {samples!r}")
    chunk = max(1, _MC_CELLS // front.size)
    low = front.min(axis=0)
    box = float(np.prod(ref - low))
    rng = np.random.default_rng(seed)
    hits = 0
    for start in range(0, samples, chunk):
        draws = low + rng.random((min(chunk, samples - start), len(ref))) * (ref - low)
        dominated = np.all(front[None, :, :] <= draws[:, None, :], axis=2).any(axis=1)
        hits += int(np.count_nonzero(dominated))
    share = hits / samples
    return box * share, box * float(np.sqrt(share * (1.0 - share) / samples))


def knee_point(
    df: pd.DataFrame, minimize: Sequence[str] = (), maximize: Sequence[str] = ()
) -> Hashable:
    """Index label of the knee of the Pareto front of ``df``.

    Objectives are normalised to [0, 1] over the front (0 best). The knee is the front
    point farthest, on the side of the ideal point, from the hyperplane through the
    extreme points (each one best in one objective). For two objectives this is the
    point farthest from the line joining the two ends of the front. For k > 2 the same
    rule uses the hyperplane through the k extremes; when they are degenerate (fewer
    than k distinct extremes, or a singular system) the plane ``sum(x) = 1`` is used,
    i.e. the point with the smallest sum of normalised objectives. Ties go to the first
    row in ``df`` order. Rows with a NaN or infinite objective are left out.
    """
    columns, senses = _objectives(df, minimize, maximize)
    values = df[columns].to_numpy(dtype=np.float64)
    finite = np.isfinite(values).all(axis=1)
    mask = np.zeros(len(values), dtype=bool)
    mask[finite] = pareto_mask(values[finite], senses)
    if not mask.any():
        raise ValueError("knee_point needs at least one row with finite objectives")
    front = _as_minimisation(values[mask], senses)
    span = front.max(axis=0) - front.min(axis=0)
    unit = (front - front.min(axis=0)) / np.where(span > 0, span, 1.0)
    normal = _extreme_plane(unit)
    distance = (1.0 - unit @ normal) / np.linalg.norm(normal)
    return df.index[np.flatnonzero(mask)[int(np.argmax(distance))]]


def _extreme_plane(unit: np.ndarray) -> np.ndarray:
    """Normal ``w`` of the plane ``w @ x = 1`` through the extreme points of ``unit``."""
    k = unit.shape[1]
    extremes = np.array([unit[np.lexsort((unit.sum(axis=1), unit[:, j]))[0]] for j in range(k)])
    if len({tuple(e) for e in extremes}) == k and np.linalg.matrix_rank(extremes) == k:
        normal = np.linalg.solve(extremes, np.ones(k))
        if np.all(np.isfinite(normal)) and np.all(normal > 0):
            return normal
    return np.ones(k)
