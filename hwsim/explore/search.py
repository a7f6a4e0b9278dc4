"""Ask/tell searches over a :class:`~hwsim.explore.space.Space`, and ``explore``.

A search proposes design points (``ask``) and learns from their objective values
(``tell``), so batches of points can be evaluated anywhere, on any executor, between
the two calls. ``explore`` runs that loop for a budget of evaluations.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

import numpy as np
import pandas as pd

from hwsim.explore.executors import STATUS_OK, Executor, SerialExecutor, evaluate_points
from hwsim.explore.space import Choice, FloatRange, IntRange, Parameter, Space
from hwsim.explore.store import point_id, records

_SENSES = {"min": "minimize", "max": "maximize", "minimize": "minimize",
           "maximize": "maximize"}
_MAX_INFEASIBLE_PER_ASK = 1000


@dataclass(frozen=True)
class Suggestion:
    """A design point proposed by a search; ``key`` identifies it when telling results."""

    key: int
    design: dict[str, Any]


class Search(Protocol):
    """An ask/tell search. ``round_size`` is how many points to ask before telling."""

    @property
    def round_size(self) -> int | None: ...

    def ask(self, n: int) -> list[Suggestion]: ...

    def tell(self, key: int, values: Sequence[float] | None) -> None: ...


class RandomSearch:
    """Uniform random sampling of the space (the baseline every search must beat).

    Parameters
    ----------
    space : Space
        Points are drawn with :meth:`Space.random`, constraints applied.
    seed : int
        Seed of the ``np.random.Generator``; the same seed gives the same points.
    """

    round_size = None

    def __init__(self, space: Space, seed: int = 0) -> None:
        self.space = space
        self._rng = np.random.default_rng(seed)
        self._next_key = 0

    def ask(self, n: int) -> list[Suggestion]:
        """``n`` new random feasible points."""
        designs = records(self.space.random(n, self._rng))
        first, self._next_key = self._next_key, self._next_key + len(designs)
        return [Suggestion(first + i, design) for i, design in enumerate(designs)]

    def tell(self, key: int, values: Sequence[float] | None) -> None:
        """Random search learns nothing from results."""


class NSGA2Search:
    """NSGA-II through optuna's ``NSGAIISampler`` (``pip install 'hwsim[search]'``).

    Parameters
    ----------
    space : Space
        Each parameter becomes an optuna distribution. Suggestions that violate the
        space's constraints are told as failed at once and replaced, so every point
        asked for is feasible.
    directions : sequence of str
        ``"min"`` or ``"max"`` per objective, in the order values are told.
    seed : int
        Sampler seed; with the same results told in the same order, the same points.
    population : int
        Individuals per generation; ``explore`` asks a whole generation per round.
    """

    def __init__(
        self, space: Space, directions: Sequence[str], seed: int = 0, population: int = 50
    ) -> None:
        optuna = _import_optuna()
        if not directions or any(d not in _SENSES for d in directions):
            raise ValueError(f"directions must be 'min' or 'max' per objective, got {directions!r}")
        if not isinstance(population, int) or population < 2:
            raise ValueError(f"population must be an integer >= 2, got {population!r}")
        self.space = space
        self._distributions = {p.name: _distribution(optuna, p) for p in space.params}
        sampler = optuna.samplers.NSGAIISampler(population_size=population, seed=seed)
        self._study = optuna.create_study(
            directions=[_SENSES[d] for d in directions], sampler=sampler
        )
        self._population = population
        self._pending: dict[int, Any] = {}
        self._fail = optuna.trial.TrialState.FAIL

    @property
    def round_size(self) -> int:
        """One generation."""
        return self._population

    def ask(self, n: int) -> list[Suggestion]:
        """``n`` feasible points proposed by the sampler."""
        return [self._ask_feasible() for _ in range(n)]

    def _ask_feasible(self) -> Suggestion:
        for _ in range(_MAX_INFEASIBLE_PER_ASK):
            trial = self._study.ask(self._distributions)
            design = {name: trial.params[name] for name in self.space.names}
            if self.space.is_feasible(design):
                self._pending[trial.number] = trial
                return Suggestion(trial.number, design)
            self._study.tell(trial, state=self._fail)
        raise ValueError(
            f"NSGA-II proposed {_MAX_INFEASIBLE_PER_ASK} infeasible points in a row; "
            "the space's constraints leave too little room"
        )

    def tell(self, key: int, values: Sequence[float] | None) -> None:
        """Report objective values for ``key``; None or non-finite values mark it failed."""
        trial = self._pending.pop(key)
        if values is None or not all(math.isfinite(v) for v in values):
            self._study.tell(trial, state=self._fail)
        else:
            self._study.tell(trial, [float(v) for v in values])


def _import_optuna() -> Any:
    try:
        import optuna
    except ImportError as exc:
        raise ImportError("NSGA2Search needs optuna: pip install 'hwsim[search]'") from exc
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _distribution(optuna: Any, param: Parameter) -> Any:
    dist = optuna.distributions
    if isinstance(param, Choice):
        return dist.CategoricalDistribution(list(param.values))
    if isinstance(param, IntRange):
        return dist.IntDistribution(param.low, param.high, step=param.step, log=param.log)
    assert isinstance(param, FloatRange)
    return dist.FloatDistribution(param.low, param.high, log=param.log)


def explore(
    problem_evaluate: Any,
    space: Space,
    search: str | Search = "random",
    *,
    budget: int,
    seed: int = 0,
    objectives: Mapping[str, str],
    executor: Executor | None = None,
    batch_size: int | None = None,
) -> pd.DataFrame:
    """Search ``space`` for designs good on ``objectives``, with ``budget`` evaluations.

    Parameters
    ----------
    problem_evaluate : callable or problem object
        As for :func:`~hwsim.explore.sweep.run_sweep`.
    space : Space
        The design space.
    search : "random", "nsga2" or a Search
        ``"nsga2"`` uses a population of ``clip(budget // 10, 8, 50)``; pass an
        :class:`NSGA2Search` to choose it.
    budget : int
        Design points to evaluate (infeasible suggestions replaced by NSGA-II do not count).
    seed : int
        Seed of the search.
    objectives : mapping
        Metric name -> ``"min"`` or ``"max"``. Points that fail, are infeasible, hold a
        false ``feasible`` metric (a limit broken), or lack a finite value for any
        objective are told to the search as failed.
    executor : Executor or None
        Where batches run; None runs them serially here.
    batch_size : int or None
        Points per executor task; None splits each round into about four per worker.

    Returns
    -------
    DataFrame
        ``trial`` (ask order), ``point_id``, parameters, metrics, ``status``, ``error``.
    """
    if not isinstance(budget, int) or budget < 1:
        raise ValueError(f"budget must be an integer >= 1, got {budget!r}")
    engine = _make_search(search, space, objectives, seed, budget)
    executor = executor if executor is not None else SerialExecutor()
    rows: list[dict[str, Any]] = []
    while len(rows) < budget:
        asked = engine.ask(min(engine.round_size or budget, budget - len(rows)))
        done = _evaluate_round(problem_evaluate, asked, executor, batch_size)
        for row in done:
            engine.tell(row["trial"], _objective_values(row, objectives))
        rows += done
    return _results_frame(rows, space.names)


def _make_search(
    search: str | Search, space: Space, objectives: Mapping[str, str], seed: int, budget: int
) -> Search:
    if not objectives or any(s not in ("min", "max") for s in objectives.values()):
        raise ValueError(
            f"objectives must map metric names to 'min' or 'max', got {dict(objectives)!r}"
        )
    if search == "random":
        return RandomSearch(space, seed)
    if search == "nsga2":
        population = int(np.clip(budget // 10, 8, 50))
        return NSGA2Search(space, list(objectives.values()), seed, population=population)
    if isinstance(search, str):
        raise ValueError(f"search must be 'random', 'nsga2' or a Search object, got {search!r}")
    return search


def _evaluate_round(
    problem: Any, asked: list[Suggestion], executor: Executor, batch_size: int | None
) -> list[dict[str, Any]]:
    size = batch_size or max(1, math.ceil(len(asked) / (4 * executor.workers)))
    items = [(s.key, point_id(s.design), s.design) for s in asked]
    batches = [items[i:i + size] for i in range(0, len(items), size)]
    done = [row for rows in executor.map_batches(partial(_evaluate_keyed, problem), batches)
            for row in rows]
    return sorted(done, key=lambda row: row["trial"])


def _evaluate_keyed(problem: Any, items: list[tuple[int, str, dict[str, Any]]]) -> list[dict]:
    rows = evaluate_points(problem, [(pid, design) for _, pid, design in items])
    return [{"trial": key, **row} for (key, _, _), row in zip(items, rows, strict=True)]


def _objective_values(row: Mapping[str, Any], objectives: Mapping[str, str]) -> list[float] | None:
    if row["status"] != STATUS_OK or not bool(row.get("feasible", True)):
        return None
    values: list[Any] = [row.get(name) for name in objectives]
    if not all(isinstance(v, float) and math.isfinite(v) for v in values):
        return None
    return values


def _results_frame(rows: list[dict[str, Any]], params: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    fixed = {"trial", "point_id", "status", "error", *params}
    metrics = [c for c in frame.columns if c not in fixed]
    return frame[["trial", "point_id", *params, *metrics, "status", "error"]]
