"""Design spaces: named parameters, derived constraints and seeded samplers.

A :class:`Space` turns a declaration (Python objects or YAML) into DataFrames of design
points, one column per parameter and one row per point. Samplers draw from a seeded
``np.random.Generator`` so the same seed always yields the same points.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, cast

import numpy as np
import pandas as pd

from hwsim.explore._expr import Expression
from hwsim.explore.store import records

Predicate = Callable[[dict[str, Any]], bool]
_MAX_DRAW_ROUNDS = 100


def _fail(name: str, what: str, value: object, allowed: str) -> ValueError:
    return ValueError(f"parameter {name!r}: {what} must be {allowed}, got {value!r}")


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"parameter name must be a Python identifier, got {name!r}")


def _is_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def _is_real(value: object) -> bool:
    if not (_is_int(value) or isinstance(value, float | np.floating)):
        return False
    return math.isfinite(cast(float, value))


def _values_array(values: tuple[Any, ...]) -> np.ndarray:
    """Return ``values`` as an array of their common type, or of objects when mixed."""
    if all(isinstance(v, bool) for v in values):
        return np.array(values, dtype=bool)
    if all(_is_int(v) for v in values):
        return np.array(values, dtype=np.int64)
    if all(_is_real(v) for v in values):
        return np.array(values, dtype=np.float64)
    return np.array(values, dtype=object)


@dataclass(frozen=True)
class Choice:
    """A parameter taking one of a finite list of values (numbers, strings or booleans).

    Parameters
    ----------
    name : str
        Parameter name, a Python identifier (constraint expressions refer to it).
    values : sequence
        The allowed values, non-empty and distinct; sampled uniformly.
    """

    name: str
    values: Sequence[Any]

    def __post_init__(self) -> None:
        _check_name(self.name)
        is_list = isinstance(self.values, Sequence) and not isinstance(self.values, str)
        values = tuple(self.values) if is_list else None
        allowed = "a non-empty list of distinct numbers, strings or booleans"
        if not values or not all(isinstance(v, bool | str) or _is_real(v) for v in values):
            raise _fail(self.name, "values", self.values, allowed)
        if len(set(values)) != len(values):
            raise _fail(self.name, "values", self.values, allowed)
        object.__setattr__(self, "values", values)

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Map unit-interval draws ``u`` in [0, 1) to values, each value an equal share."""
        index = np.minimum((np.asarray(u) * len(self.values)).astype(np.int64),
                           len(self.values) - 1)
        return _values_array(tuple(self.values))[index]

    def grid(self, points: int) -> np.ndarray:
        """All values, whatever ``points`` is."""
        return _values_array(tuple(self.values))


@dataclass(frozen=True)
class IntRange:
    """An integer parameter ``low, low + step, ..., high`` (both ends included).

    Parameters
    ----------
    name : str
        Parameter name, a Python identifier.
    low, high : int
        Inclusive bounds, ``low <= high``; ``high - low`` must be a multiple of ``step``.
    step : int
        Spacing, >= 1.
    log : bool
        Sample and grid uniformly in ``log(value)`` (needs ``low >= 1`` and ``step == 1``).
    """

    name: str
    low: int
    high: int
    _: KW_ONLY
    step: int = 1
    log: bool = False

    def __post_init__(self) -> None:
        _check_name(self.name)
        for attr in ("low", "high"):
            if not _is_int(getattr(self, attr)):
                raise _fail(self.name, attr, getattr(self, attr), "an integer")
        if self.high < self.low:
            raise _fail(self.name, "high", self.high, f"an integer >= low ({self.low})")
        if not _is_int(self.step) or self.step < 1:
            raise _fail(self.name, "step", self.step, "an integer >= 1")
        if (self.high - self.low) % self.step:
            raise _fail(self.name, "high", self.high,
                        f"low ({self.low}) plus a multiple of step ({self.step})")
        if not isinstance(self.log, bool):
            raise _fail(self.name, "log", self.log, "true or false")
        if self.log and (self.low < 1 or self.step != 1):
            raise _fail(self.name, "log", self.log, "false unless low >= 1 and step == 1")

    @property
    def count(self) -> int:
        """Number of distinct values."""
        return (self.high - self.low) // self.step + 1

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Map draws ``u`` in [0, 1) to values: uniform over values, or log-uniform."""
        u = np.asarray(u, dtype=np.float64)
        if self.log:
            lo, hi = math.log(self.low - 0.5), math.log(self.high + 0.5)
            values = np.rint(np.exp(lo + u * (hi - lo))).astype(np.int64)
            return np.clip(values, self.low, self.high)
        index = np.minimum((u * self.count).astype(np.int64), self.count - 1)
        return self.low + self.step * index

    def grid(self, points: int) -> np.ndarray:
        """At most ``points`` distinct values spread over the range, both ends included."""
        if self.log:
            raw = np.geomspace(self.low, self.high, points)
            return np.unique(np.clip(np.rint(raw).astype(np.int64), self.low, self.high))
        index = np.unique(np.rint(np.linspace(0, self.count - 1, min(points, self.count))))
        return self.low + self.step * index.astype(np.int64)


@dataclass(frozen=True)
class FloatRange:
    """A real parameter in ``[low, high]``.

    Parameters
    ----------
    name : str
        Parameter name, a Python identifier.
    low, high : float
        Finite bounds, ``low < high``.
    log : bool
        Sample and grid uniformly in ``log(value)`` (needs ``low > 0``).
    """

    name: str
    low: float
    high: float
    _: KW_ONLY
    log: bool = False

    def __post_init__(self) -> None:
        _check_name(self.name)
        for attr in ("low", "high"):
            if not _is_real(getattr(self, attr)):
                raise _fail(self.name, attr, getattr(self, attr), "a finite number")
        if not self.high > self.low:
            raise _fail(self.name, "high", self.high, f"a number > low ({self.low})")
        if not isinstance(self.log, bool):
            raise _fail(self.name, "log", self.log, "true or false")
        if self.log and self.low <= 0:
            raise _fail(self.name, "low", self.low, "> 0 when log is true")

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Map draws ``u`` in [0, 1) to values, uniform or log-uniform."""
        u = np.asarray(u, dtype=np.float64)
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            return np.exp(lo + u * (hi - lo))
        return self.low + u * (self.high - self.low)

    def grid(self, points: int) -> np.ndarray:
        """``points`` values from ``low`` to ``high``, evenly spaced (in log if ``log``)."""
        spread = np.geomspace if self.log else np.linspace
        return spread(float(self.low), float(self.high), points)


Parameter = Choice | IntRange | FloatRange


@dataclass(frozen=True)
class Space:
    """A design space: parameters plus constraints every design point must satisfy.

    Parameters
    ----------
    params : sequence of Choice, IntRange or FloatRange
        The parameters, with distinct names; DataFrame columns follow this order.
    constraints : sequence of str or callable
        Expressions over parameter names (``"rows * cols <= 16384"``; see
        :class:`~hwsim.explore._expr.Expression` for the grammar) or predicates taking
        a design dict and returning True when the design is allowed.
    """

    params: Sequence[Parameter]
    constraints: Sequence[str | Predicate] = ()
    _checks: tuple[Expression | Predicate, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        params = tuple(self.params)
        if not params or not all(isinstance(p, Choice | IntRange | FloatRange) for p in params):
            raise ValueError(
                f"params must be a non-empty list of Choice, IntRange or FloatRange, got {params!r}"
            )
        names = [p.name for p in params]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"parameter names must be distinct, repeated: {duplicates}")
        object.__setattr__(self, "params", params)
        object.__setattr__(self, "constraints", tuple(self.constraints))
        object.__setattr__(self, "_checks", tuple(_compile(c, frozenset(names))
                                                 for c in self.constraints))

    @property
    def names(self) -> list[str]:
        """Parameter names, in column order."""
        return [p.name for p in self.params]

    def feasible(self, designs: pd.DataFrame) -> np.ndarray:
        """Boolean mask, shape (n,): rows of ``designs`` that satisfy every constraint."""
        mask = np.ones(len(designs), dtype=bool)
        env = {name: designs[name].to_numpy() for name in self.names}
        for check in self._checks:
            if isinstance(check, Expression):
                mask &= np.broadcast_to(np.asarray(check.evaluate(env), dtype=bool), mask.shape)
            else:
                mask &= np.fromiter((bool(check(d)) for d in records(designs)),
                                    dtype=np.bool_, count=len(designs))
        return mask

    def is_feasible(self, design: Mapping[str, Any]) -> bool:
        """True when the design dict satisfies every constraint."""
        return bool(self.feasible(pd.DataFrame([dict(design)], columns=self.names))[0])

    def from_unit(self, u: np.ndarray) -> pd.DataFrame:
        """Design points from unit-cube coordinates ``u``, shape (n, n_params), in [0, 1)."""
        u = np.asarray(u, dtype=np.float64).reshape(-1, len(self.params))
        return pd.DataFrame({p.name: p.from_unit(u[:, j]) for j, p in enumerate(self.params)})

    def grid(self, points_per_range: int = 5, *, max_points: int = 1_000_000) -> pd.DataFrame:
        """The full-factorial grid of feasible points.

        Parameters
        ----------
        points_per_range : int
            Values per range parameter (>= 2); choices contribute all their values.
        max_points : int
            Largest grid (before constraints) allowed; larger raises ValueError.
        """
        if not _is_int(points_per_range) or points_per_range < 2:
            raise ValueError(f"points_per_range must be an integer >= 2, got {points_per_range!r}")
        axes = [p.grid(points_per_range) for p in self.params]
        size = math.prod(len(a) for a in axes)
        if size > max_points:
            raise ValueError(f"grid has {size} points, more than max_points={max_points}")
        index = np.indices([len(a) for a in axes]).reshape(len(axes), -1)
        frame = pd.DataFrame({p.name: a[i] for p, a, i in zip(self.params, axes, index,
                                                               strict=True)})
        return frame[self.feasible(frame)].reset_index(drop=True)

    def random(self, n: int, seed: int | np.random.Generator = 0) -> pd.DataFrame:
        """``n`` feasible points drawn independently and uniformly (log-uniform if ``log``)."""
        rng = np.random.default_rng(seed)
        return self._draw(n, lambda m: rng.random((m, len(self.params))))

    def latin_hypercube(self, n: int, seed: int | np.random.Generator = 0) -> pd.DataFrame:
        """``n`` feasible points from a Latin hypercube in the unit cube.

        Each parameter's unit interval is cut into ``n`` equal strata and every stratum
        holds exactly one point. With constraints, whole hypercubes are drawn until ``n``
        feasible points are found; stratification then holds only for the unfiltered draws.
        """
        rng = np.random.default_rng(seed)
        return self._draw(n, lambda m: _latin_unit(max(m, n), len(self.params), rng))

    def _draw(self, n: int, unit: Callable[[int], np.ndarray]) -> pd.DataFrame:
        """Draw unit-cube batches through ``unit(m)`` until ``n`` points pass the constraints."""
        if not _is_int(n) or n < 0:
            raise ValueError(f"n must be an integer >= 0, got {n!r}")
        kept: list[pd.DataFrame] = []
        have = 0
        for round_ in range(_MAX_DRAW_ROUNDS):
            if have >= n:
                break
            frame = self.from_unit(unit(n if round_ == 0 else max(n, 16)))
            frame = frame[self.feasible(frame)]
            kept += [frame] if len(frame) else []
            have += len(frame)
        if have < n:
            raise ValueError(
                f"constraints reject almost every point: found {have} feasible of {n} wanted"
            )
        if not kept:
            return self.from_unit(np.empty((0, len(self.params))))
        return pd.concat(kept, ignore_index=True).iloc[:n].reset_index(drop=True)

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> Space:
        """Build a space from a mapping shaped like the YAML declaration.

        See :func:`hwsim.explore.spec.space_from_dict` for the accepted fields.
        """
        from hwsim.explore.spec import space_from_dict

        return space_from_dict(spec)

    @classmethod
    def from_yaml_text(cls, text: str) -> Space:
        """Build a space from YAML text (``parameters:`` and optional ``constraints:``)."""
        from hwsim.explore.spec import space_from_yaml_text

        return space_from_yaml_text(text)


def _compile(check: str | Predicate, names: frozenset[str]) -> Expression | Predicate:
    if isinstance(check, str):
        return Expression(check, names)
    if callable(check):
        return check
    raise ValueError(f"constraints must be expression strings or callables, got {check!r}")


def _latin_unit(n: int, dims: int, rng: np.random.Generator) -> np.ndarray:
    """An ``(n, dims)`` Latin hypercube sample: one point per stratum per dimension."""
    strata = np.argsort(rng.random((dims, n)), axis=1).T
    return (strata + rng.random((n, dims))) / n
