"""Hardware x compression co-design problems: one design point in, one metrics row out.

A ``CodesignProblem`` names a workload, an accelerator family (with a base preset) and a base
compression plan. A design is a dict whose keys are accelerator config fields (``rows``,
``ifmap_sram_bytes``, ...) or plan settings (``weight_bits``, ``act_bits``, ``format``,
``weight_sparsity``, ``act_sparsity``, ``pattern``), applied on top of the bases. The row
holds latency, throughput, energy, power, area, EDP, the quality axis (measured accuracy for
the digits models, the fidelity proxy otherwise) and ``feasible`` against the limits.

The problem is picklable and evaluates batches: designs sharing a compression plan share
one compressed graph and one quality figure, and a family module offering
``evaluate_designs(graph, base, overrides)`` receives all of a plan's hardware points at
once (the systolic family reaches its Numba kernels that way).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hwsim import registry
from hwsim.accelerator import analytic_report, batch_of
from hwsim.graph import Graph

PLAN_FIELDS = ("weight_bits", "act_bits", "format", "weight_sparsity", "act_sparsity",
               "pattern")
QUALITY_MODES = ("auto", "accuracy", "proxy", "none")
LIMIT_SENSES = {"accuracy": "min", "fidelity_sqnr_db": "min", "throughput_per_s": "min"}


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
        registry.model_params(self.workload)
        self.base_accelerator()
        _plan_from(self.plan, {})

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
        return _compressed_graph(self.workload, tuple(sorted(self.workload_params.items())),
                                 _freeze(self.plan), key, self.quality, self.seed)

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
        "energy_dram_j": out["dram_j"], "energy_static_j": out["static_j"],
    }
    head = {"workload": graph.name, "accelerator": base.name, "batch": batch_of(graph)}
    return [{**head, **{k: float(v[i]) for k, v in cols.items()}} for i in range(n)]


def _within(value: Any, bound: float, sense: str) -> bool:
    if value is None:
        return False
    return value >= bound if sense == "min" else value <= bound


def _freeze(data: Any) -> Any:
    if isinstance(data, Mapping):
        return tuple(sorted((k, _freeze(v)) for k, v in data.items()))
    if isinstance(data, list | tuple):
        return tuple(_freeze(v) for v in data)
    return data


def _thaw(data: Any) -> Any:
    if isinstance(data, tuple) and all(isinstance(x, tuple) and len(x) == 2
                                       and isinstance(x[0], str) for x in data) and data:
        return {k: _thaw(v) for k, v in data}
    if isinstance(data, tuple):
        return [_thaw(v) for v in data]
    return data


def _plan_from(base: Mapping[str, Any], settings: Mapping[str, Any]) -> Any:
    from workloads.compression.plan import CompressionPlan

    data = dict(base)
    data["defaults"] = {**dict(base.get("defaults") or {}), **settings}
    return CompressionPlan.from_dict(data)


@functools.lru_cache(maxsize=256)
def _compressed_graph(workload: str, params: tuple, plan: tuple, key: tuple, quality: str,
                      seed: int) -> tuple[Graph, dict[str, float]]:
    """Compressed graph and quality metric of one plan (memoised per process)."""
    compression = _plan_from(_thaw(plan) if plan else {}, dict(key))
    graph = registry.build_model(workload, dict(params))
    digits = workload.startswith("digits_")
    mode = quality if quality != "auto" else ("accuracy" if digits else "proxy")
    if mode == "accuracy":
        if not digits:
            raise ValueError(f"quality 'accuracy' needs a digits model, got {workload!r}")
        from workloads.accuracy.plan_eval import evaluate_plan

        measured = evaluate_plan(compression, workload.removeprefix("digits_"), seed=seed)
        return dataclasses.replace(measured.graph, name=graph.name), {
            "accuracy": measured.accuracy}
    compressed = compression.apply(graph)
    if mode == "proxy":
        from workloads.compression.fidelity import fidelity_proxy

        return compressed, {"fidelity_sqnr_db": fidelity_proxy(compressed, seed=seed).sqnr_db}
    return compressed, {}
