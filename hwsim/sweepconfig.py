"""Sweep configurations: a YAML file validated once into a problem, a space and a plan of work.

::

    problem:
      workload: resnet50            # any `hwsim list models` name
      workload_params: {batch: 1}
      accelerator: systolic
      preset: tpu-v1
      plan: {defaults: {act_bits: 8}}   # base CompressionPlan (optional)
      quality: auto                 # accuracy (digits models) | proxy | none
      limits: {area_mm2: 400}       # infeasible rows are kept and flagged
    space:
      parameters:
        rows: {values: [32, 64, 128, 256]}
        weight_bits: {values: [4, 8]}
      constraints: ["rows * cols <= 65536"]
    sample: {method: grid}          # grid | random | lhs, with n and seed
    search: {method: nsga2, budget: 400, seed: 0}   # instead of sample
    objectives: {latency_s: min, energy_j: min, fidelity_sqnr_db: max}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from hwsim.codesign import CodesignProblem
from hwsim.explore import Choice, Space, explore, run_sweep
from hwsim.validation import load_yaml, only_keys

SAMPLERS = ("grid", "random", "lhs")
SEARCHES = ("random", "nsga2")
_TOP_KEYS = {"problem", "space", "sample", "search", "objectives"}
_PROBLEM_KEYS = {"workload", "workload_params", "accelerator", "preset", "plan", "quality",
                 "limits", "seed"}


def _int(data: Mapping[str, Any], key: str, default: int, where: str, low: int) -> int:
    """``data[key]`` as an integer >= ``low`` (``default`` when absent); floats are errors."""
    if key not in data:
        return default
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{where}.{key} must be an integer >= {low}, got {value!r}")
    return value


def _objectives(data: Any, problem: CodesignProblem) -> dict[str, str]:
    """Objective senses by metric name, each a metric the problem's rows hold."""
    objectives = data or {"latency_s": "min", "energy_j": "min"}
    if not isinstance(objectives, Mapping):
        raise ValueError(f"objectives must map metric names to 'min' or 'max', got {data!r}")
    known = problem.metrics()
    for name in objectives:
        if name not in known:
            raise ValueError(f"objectives: unknown metric {name!r}; allowed: {', '.join(known)}")
    return dict(objectives)


@dataclass(frozen=True, kw_only=True)
class SweepConfig:
    """A validated sweep: the problem, the space, how to pick points, the objectives."""

    problem: CodesignProblem
    space: Space
    method: str = "grid"
    n: int = 100
    points_per_range: int = 5
    seed: int = 0
    search: str | None = None
    budget: int = 0
    objectives: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any) -> SweepConfig:
        """Validate the dict form (as parsed from YAML)."""
        only_keys(data, _TOP_KEYS, "sweep config")
        if data.get("problem") is None:
            raise ValueError("sweep config: 'problem' is required (a mapping with workload, "
                             "accelerator, preset, ...)")
        prob = dict(only_keys(data["problem"], _PROBLEM_KEYS, "problem"))
        if "workload" not in prob:
            raise ValueError("problem: 'workload' is required (a `hwsim list models` name)")
        problem = CodesignProblem(family=prob.pop("accelerator", "systolic"), **prob)
        space = Space.from_dict(data.get("space") or {})
        problem.check_names(space.names)
        for param in space.params:
            values = param.values if isinstance(param, Choice) else (param.low, param.high)
            problem.check_values(param.name, values)
        sample = only_keys(data.get("sample") or {}, {"method", "n", "points_per_range", "seed"},
                       "sample")
        search = only_keys(data.get("search") or {}, {"method", "budget", "seed"}, "search")
        cfg = cls(problem=problem, space=space, method=sample.get("method", "grid"),
                  n=_int(sample, "n", 100, "sample", 1),
                  points_per_range=_int(sample, "points_per_range", 5, "sample", 2),
                  seed=_int(search, "seed", _int(sample, "seed", 0, "sample", 0), "search", 0),
                  search=search.get("method"), budget=_int(search, "budget", 0, "search", 1),
                  objectives=_objectives(data.get("objectives"), problem))
        cfg.check()
        return cfg

    @classmethod
    def from_yaml(cls, text: str) -> SweepConfig:
        """Parse and validate YAML text."""
        return cls.from_dict(load_yaml(text, "sweep config") or {})

    def check(self) -> None:
        """Raise ``ValueError`` for an unknown sampler, search, objective sense or budget."""
        if self.method not in SAMPLERS:
            raise ValueError(f"sample.method must be one of {', '.join(SAMPLERS)}, "
                             f"got {self.method!r}")
        if self.search is not None and self.search not in SEARCHES:
            raise ValueError(f"search.method must be one of {', '.join(SEARCHES)}, "
                             f"got {self.search!r}")
        if self.search is not None and self.budget < 1:
            raise ValueError(f"search.budget must be an integer >= 1, got {self.budget}")
        for name, sense in self.objectives.items():
            if sense not in ("min", "max"):
                raise ValueError(f"objectives.{name} must be 'min' or 'max', got {sense!r}")

    def designs(self) -> pd.DataFrame:
        """The sampled design points (grid, random or Latin hypercube)."""
        if self.method == "grid":
            return self.space.grid(self.points_per_range)
        if self.method == "random":
            return self.space.random(self.n, seed=self.seed)
        return self.space.latin_hypercube(self.n, seed=self.seed)

    def run(self, *, executor: Any = None, out: Any = None,
            progress: Callable[..., None] | None = None) -> pd.DataFrame:
        """Run the sweep (or search) and return one row per design point.

        ``out`` (None, a ``.csv`` / ``.parquet`` path or a result store) receives a sweep's
        rows after every batch and lets a rerun resume (see ``run_sweep``); a search
        writes nothing there, its caller stores the returned table.
        """
        if self.search:
            return explore(self.problem, self.space, self.search, budget=self.budget,
                           seed=self.seed, objectives=dict(self.objectives), executor=executor)
        return run_sweep(self.problem, self.designs(), executor=executor, out=out,
                         progress=progress)
