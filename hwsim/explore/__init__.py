"""Design-space exploration: spaces, sweeps, searches and Pareto analysis.

Problems arrive as objects: a picklable ``evaluate(design: dict) -> dict[str, float]``
callable, or an object with ``evaluate_batch(designs: list[dict]) -> list[dict]``.
Nothing here knows about accelerators or workloads.

The flow, one stage per line::

    space = Space.from_yaml_text(text)            # declare and validate the space
    designs = space.latin_hypercube(200, seed=0)  # or grid() / random()
    table = run_sweep(evaluate, designs, executor=ProcessExecutor(), out="sweep.csv")
    front = pareto_front(table, minimize=["latency_s", "energy_j"])

or, searching instead of sweeping::

    table = explore(evaluate, space, "nsga2", budget=500,
                    objectives={"latency_s": "min", "energy_j": "min"})
"""

from hwsim.explore.executors import (
    DaskExecutor,
    Executor,
    InfeasibleDesign,
    ProcessExecutor,
    SerialExecutor,
    evaluate_points,
)
from hwsim.explore.pareto import (
    HypervolumeEstimateWarning,
    hypervolume,
    hypervolume_monte_carlo,
    knee_point,
    pareto_front,
    pareto_mask,
)
from hwsim.explore.search import NSGA2Search, RandomSearch, Search, Suggestion, explore
from hwsim.explore.space import Choice, FloatRange, IntRange, Space
from hwsim.explore.store import CsvStore, ParquetStore, ResultStore, point_id, point_ids
from hwsim.explore.sweep import run_sweep

__all__ = [
    "Choice",
    "CsvStore",
    "DaskExecutor",
    "Executor",
    "FloatRange",
    "HypervolumeEstimateWarning",
    "InfeasibleDesign",
    "IntRange",
    "NSGA2Search",
    "ParquetStore",
    "ProcessExecutor",
    "RandomSearch",
    "ResultStore",
    "Search",
    "SerialExecutor",
    "Space",
    "Suggestion",
    "evaluate_points",
    "explore",
    "hypervolume",
    "hypervolume_monte_carlo",
    "knee_point",
    "pareto_front",
    "pareto_mask",
    "point_id",
    "point_ids",
    "run_sweep",
]
