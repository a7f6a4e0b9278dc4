"""Hardware x compression co-design problems: one design point in, one metrics row out.

A ``CodesignProblem`` names a workload, an accelerator family (with a base preset) and a base
compression plan. A design is a dict whose keys are accelerator config fields (``rows``,
``ifmap_sram_bytes``, ...) or plan settings (``weight_bits``, ``act_bits``, ``format``,
``weight_sparsity``, ``act_sparsity``, ``pattern``), applied on top of the bases. The row
holds latency, throughput, energy, power, area, EDP, the quality axis (measured accuracy for
the digits models, the fidelity proxy otherwise), ``feasible`` against the limits and the
``problem_id`` of the problem that produced it.

The problem is picklable and evaluates batches: designs sharing a compression plan share
one compressed graph and one quality figure, and a family module offering
``evaluate_designs(graph, base, overrides)`` receives all of a plan's hardware points at
once (the systolic family reaches its Numba kernels that way).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hwsim import registry
from hwsim.accelerator import EnergyBreakdown, analytic_report, batch_of
from hwsim.graph import Graph

PLAN_FIELDS = ("weight_bits", "act_bits", "format", "weight_sparsity", "act_sparsity",
               "pattern")
QUALITY_MODES = ("auto", "accuracy", "proxy", "none")
LIMIT_SENSES = {"accuracy": "min", "fidelity_sqnr_db": "min", "throughput_per_s": "min"}
#: Numeric metrics of every row, whatever the family (energy split as in ``EnergyBreakdown``).
HARDWARE_METRICS = ("latency_s", "throughput_per_s", "energy_j", "avg_power_w", "area_mm2",
                    "edp_js", *(f"energy_{f.name}" for f in dataclasses.fields(EnergyBreakdown)))
_QUALITY_METRICS = {"accuracy": ("accuracy",), "proxy": ("fidelity_sqnr_db",), "none": ()}


@dataclass(frozen=True, kw_only=True)
class CodesignProblem:
    """Evaluate design points of ``family`` running ``workload`` compressed by ``plan``.

    limits: metric -> bound; upper bounds (``area_mm2: 400``) except for quality and
    throughput, which are lower bounds (``accuracy: 0.95``). Rows breaking a limit are kept
    with ``feasible = False``.
    """

    workload: str
    workload_params: Mapping[str, Any] = field(default_factory=dict)
    family: str = "systolic"
    preset: str | None = None
    plan: Mapping[str, Any] = field(default_factory=dict)
    limits: Mapping[str, float] = field(default_factory=dict)
    quality: str = "auto"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.quality not in QUALITY_MODES:
            raise ValueError(f"quality must be one of {', '.join(QUALITY_MODES)}, "
                             f"got {self.quality!r}")
        if not isinstance(self.workload_params, Mapping):
            raise ValueError(f"workload_params must be a mapping of model parameters, "
                             f"got {self.workload_params!r}")
        registry.build_model(self.workload, self.workload_params)
        _quality_mode(self.workload, self.quality)
        self.base_accelerator()
        if not isinstance(self.plan, Mapping):
            raise ValueError(f"plan must be a mapping (a compression plan), got {self.plan!r}")
        _plan_from(self.plan, {})
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {self.seed!r}")
        self._check_limits()

    def _check_limits(self) -> None:
        if not isinstance(self.limits, Mapping):
            raise ValueError(f"limits must map metric names to bounds, got {self.limits!r}")
        known = self.metrics()
        for name, bound in self.limits.items():
            if name not in known:
                raise ValueError(f"limits: unknown metric {name!r}; allowed: {', '.join(known)}")
            if isinstance(bound, bool) or not isinstance(bound, int | float) \
                    or not math.isfinite(bound):
                raise ValueError(f"limits.{name} must be a finite number, got {bound!r}")

    @functools.cached_property
    def problem_id(self) -> str:
        """Stable id of the problem, ``WORKLOAD-`` and 16 hex digits of every field; each row
        holds it so that results of another problem are not mistaken for this one's."""
        text = json.dumps(dataclasses.asdict(self), sort_keys=True, default=repr)
        return f"{self.workload}-{hashlib.blake2b(text.encode(), digest_size=8).hexdigest()}"

    def metrics(self) -> tuple[str, ...]:
        """Names of the numeric metrics each row holds (hardware figures, then quality)."""
        return HARDWARE_METRICS + _QUALITY_METRICS[_quality_mode(self.workload, self.quality)]

    def base_accelerator(self) -> Any:
        """The accelerator config that design overrides start from."""
        return registry.make_accelerator(self.family, self.preset)

    def check_names(self, names: Sequence[str]) -> None:
        """Raise ``ValueError`` if a design key is neither a config field nor a plan field."""
        fields = {f.name for f in dataclasses.fields(self.base_accelerator())}
        for name in names:
            if name not in fields and name not in PLAN_FIELDS:
                raise ValueError(
                    f"parameter {name!r} is neither a {self.family} config field nor a plan "
                    f"setting ({', '.join(PLAN_FIELDS)})")

    def check_values(self, name: str, values: Sequence[Any]) -> None:
        """Raise ``ValueError`` if one of ``values`` is not allowed for the design key
        ``name`` on its own (combinations are checked when a point is evaluated)."""
        base = self.base_accelerator()
        for value in values:
            try:
                if name in PLAN_FIELDS:
                    _plan_from(self.plan, {name: value})
                else:
                    dataclasses.replace(base, **{name: value})
            except (ValueError, TypeError) as exc:
                raise ValueError(f"parameter {name!r}: value {value!r} is not allowed: "
                                 f"{exc}") from exc

    def evaluate(self, design: Mapping[str, Any]) -> dict[str, Any]:
        """Metrics of one design point."""
        return self.evaluate_batch([design])[0]

    def evaluate_batch(self, designs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Metrics of many design points, grouped by compression plan."""
        groups: dict[tuple, list[int]] = {}
        for i, d in enumerate(designs):
            key = tuple(sorted((k, d[k]) for k in d if k in PLAN_FIELDS))
            groups.setdefault(key, []).append(i)
        rows: list[dict[str, Any]] = [{} for _ in designs]
        for key, idx in groups.items():
            graph, quality = self._compressed(key)
            hw = [{k: v for k, v in designs[i].items() if k not in PLAN_FIELDS} for i in idx]
            for i, metrics in zip(idx, self._hardware_metrics(graph, hw), strict=True):
                rows[i] = self._finish({**metrics, **quality})
        return rows

    def _compressed(self, key: tuple) -> tuple[Graph, dict[str, float]]:
        params = tuple(sorted(self.workload_params.items()))
        plan = json.dumps(self.plan, sort_keys=True)  # hashable and exact for the memo
        return _compressed_graph(self.workload, params, plan, key, self.quality, self.seed)

    def _hardware_metrics(self, graph: Graph, hw: list[dict[str, Any]]) -> list[dict[str, Any]]:
        base = self.base_accelerator()
        module = importlib.import_module(registry.ACCELERATORS[self.family][0])
        fields = getattr(module, "DESIGN_FIELDS", ())
        if fields and hw and all(set(o) <= set(fields) for o in hw):
            return _batched_rows(module, graph, base, hw)
        return [analytic_report(graph, dataclasses.replace(base, **o)).to_dict() for o in hw]


    def _finish(self, row: dict[str, Any]) -> dict[str, Any]:
        row["feasible"] = all(_within(row.get(k), v, LIMIT_SENSES.get(k, "max"))
                              for k, v in self.limits.items())
        row["problem_id"] = self.problem_id
        return row


def _batched_rows(module: Any, graph: Graph, base: Any,
                  hw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows for many hardware points through the family's vectorised ``evaluate_designs``
    (the same totals as ``analytic_report`` per point, in one kernel call)."""
    designs = module.SystolicDesigns.from_records(base, hw)
    out = module.evaluate_designs(graph, designs)
    n = len(designs)
    edp = out["energy_j"] * out["latency_s"]
    power = out["energy_j"] / out["latency_s"]
    cols = {
        "latency_s": out["latency_s"], "throughput_per_s": out["throughput_per_s"],
        "energy_j": out["energy_j"], "avg_power_w": power, "area_mm2": out["area_mm2"],
        "edp_js": edp, "energy_compute_j": out["compute_j"], "energy_sram_j": out["sram_j"],
        "energy_dram_j": out["dram_j"], "energy_other_j": out.get("other_j", 0.0 * edp),
        "energy_static_j": out["static_j"],
    }
    head = {"workload": graph.name, "accelerator": base.name, "batch": batch_of(graph)}
    return [{**head, **{k: float(v[i]) for k, v in cols.items()}} for i in range(n)]


def _within(value: Any, bound: float, sense: str) -> bool:
    if value is None:
        return False
    return value >= bound if sense == "min" else value <= bound


def _quality_mode(workload: str, quality: str) -> str:
    """The quality axis ``quality`` resolves to for ``workload`` ("auto" picks one)."""
    digits = workload.startswith("digits_")
    if quality == "accuracy" and not digits:
        raise ValueError(f"quality 'accuracy' needs a digits model, got {workload!r}")
    if quality != "auto":
        return quality
    return "accuracy" if digits else "proxy"


def _plan_from(base: Mapping[str, Any], settings: Mapping[str, Any]) -> Any:
    from workloads.compression.plan import CompressionPlan

    data = dict(base)
    defaults = base.get("defaults") or {}
    if not isinstance(defaults, Mapping):
        raise ValueError(f"plan.defaults must be a mapping of settings, got {defaults!r}")
    data["defaults"] = {**defaults, **settings}
    return CompressionPlan.from_dict(data)


@functools.lru_cache(maxsize=256)
def _compressed_graph(workload: str, params: tuple, plan: str, key: tuple, quality: str,
                      seed: int) -> tuple[Graph, dict[str, float]]:
    """Compressed graph and quality metric of one plan (memoised per process)."""
    compression = _plan_from(json.loads(plan), dict(key))
    graph = registry.build_model(workload, dict(params))
    mode = _quality_mode(workload, quality)
    if mode == "accuracy":
        from workloads.accuracy.plan_eval import evaluate_plan

        measured = evaluate_plan(compression, workload.removeprefix("digits_"), seed=seed)
        return dataclasses.replace(measured.graph, name=graph.name), {
            "accuracy": measured.accuracy}
    compressed = compression.apply(graph)
    if mode == "proxy":
        from workloads.compression.fidelity import fidelity_proxy

        return compressed, {"fidelity_sqnr_db": fidelity_proxy(compressed, seed=seed).sqnr_db}
    return compressed, {}
