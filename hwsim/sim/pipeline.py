"""Layer pipelining across inferences: contiguous op groups on their own compute resources.

``simulate_pipelined`` splits a graph (in topological order) into ``stages`` contiguous
groups whose summed op latencies are as even as possible, gives each group its own compute
resource (a partition of an array, a chip of a multi-chip system, a dataflow region), and
pushes ``n_inferences`` inferences through: inference ``i + 1`` enters stage 0 as soon as
inference ``i`` leaves it. Ops inside a stage run one after another, as in ``simulate``
without overlap; all stages share the device's DRAM channel, so concurrent stages slow each
other's memory traffic. With ``weights_resident=True`` each stage keeps its weights on chip
and moves only activations per inference.

Throughput is ``n_inferences * batch / makespan`` and approaches one inference per slowest
stage; latency is the mean time an inference spends from entering stage 0 to leaving the
last stage, so with several stages throughput exceeds ``1 / latency``.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from hwsim.accelerator import Accelerator, EnergyBreakdown, batch_of
from hwsim.graph import Graph
from hwsim.sim.components import EngineBank, FairShareChannel, Timeline
from hwsim.sim.plan import OpPlan, plan_ops
from hwsim.sim.system import System

if TYPE_CHECKING:
    import pandas as pd


def split_stages(latencies_s: Sequence[float], n_stages: int) -> list[int]:
    """Start indices of ``n_stages`` contiguous groups minimising the largest group sum.

    Bisection on the bottleneck with a greedy fill; returns ``min(n_stages, len)`` groups.
    """
    if not isinstance(n_stages, int) or n_stages < 1:
        raise ValueError(f"stages must be an integer >= 1, got {n_stages!r}")
    x = np.asarray(latencies_s, dtype=float)
    lo, hi = float(x.max(initial=0.0)), float(x.sum())
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if len(_greedy(x, mid)) <= n_stages:
            hi = mid
        else:
            lo = mid
        if hi - lo <= 1e-12 * hi:
            break
    starts = _greedy(x, hi)
    return _refine(starts, len(x), min(n_stages, len(x)))


def _greedy(x: np.ndarray, cap: float) -> list[int]:
    starts, total = [0], 0.0
    for i, v in enumerate(x):
        if total + v > cap * (1 + 1e-12) and i > starts[-1]:
            starts.append(i)
            total = 0.0
        total += v
    return starts


def _refine(starts: list[int], n: int, want: int) -> list[int]:
    """Split the longest groups (by op count) until there are ``want`` groups."""
    starts = list(starts)
    while len(starts) < want:
        ends = [*starts[1:], n]
        k = max(range(len(starts)), key=lambda j: ends[j] - starts[j])
        starts.insert(k + 1, (starts[k] + ends[k] + 1) // 2)
    return starts


@dataclass(frozen=True, kw_only=True, eq=False)
class PipelineResult:
    """Outcome of a pipelined run.

    stages : op names per stage; stage_latency_s : each stage's summed op latency alone.
    latency_s : mean per-inference time from entering stage 0 to leaving the last stage.
    throughput_per_s : inferences (times batch) per second of makespan.
    energy : dynamic energy of all inferences plus static power over the makespan.
    engine_utilization : busy fraction of each stage and of the DRAM channel.
    """

    workload: str
    accelerator: str
    n_inferences: int
    batch: int
    stages: tuple[tuple[str, ...], ...]
    stage_latency_s: tuple[float, ...]
    latency_s: float
    throughput_per_s: float
    makespan_s: float
    energy: EnergyBreakdown
    engine_utilization: dict[str, float]
    latencies_s: np.ndarray = field(repr=False)
    timeline: pd.DataFrame = field(repr=False)

    @property
    def energy_j(self) -> float:
        """Total energy of all inferences."""
        return self.energy.total_j

    @property
    def avg_power_w(self) -> float:
        """Energy over makespan."""
        return self.energy_j / self.makespan_s if self.makespan_s > 0 else 0.0


def simulate_pipelined(graph: Graph, accelerator: Accelerator, n_inferences: int, *,
                       stages: int = 2, weights_resident: bool = False) -> PipelineResult:
    """Run ``n_inferences`` of ``graph`` through a ``stages``-deep layer pipeline.

    Parameters
    ----------
    graph : the op graph of one inference.
    accelerator : supplies op costs and the DRAM bandwidth shared by the stages.
    n_inferences : inferences, all ready at time 0, >= 1.
    stages : number of pipeline stages (contiguous op groups), >= 1.
    weights_resident : stages keep their weights on chip (move activations only).
    """
    if not isinstance(n_inferences, int) or n_inferences < 1:
        raise ValueError(f"n_inferences must be an integer >= 1, got {n_inferences!r}")
    plans = plan_ops(graph, System.single(accelerator))
    starts = split_stages([p.cost.latency_s for p in plans], stages)
    groups = [plans[a:b] for a, b in zip(starts, [*starts[1:], len(plans)], strict=True)]
    run = _Pipeline(accelerator, groups, weights_resident=weights_resident)
    for i in range(n_inferences):
        run.env.process(run.infer(i))
    run.env.run()
    return run.result(graph, n_inferences)


class _Pipeline:
    """Stages as engine banks of one unit over one shared DRAM channel."""

    def __init__(self, accelerator: Accelerator, groups: list[tuple[OpPlan, ...]], *,
                 weights_resident: bool) -> None:
        self.env = simpy.Environment()
        self.accelerator = accelerator
        self.groups = groups
        self.weights_resident = weights_resident
        self.timeline = Timeline()
        bw = accelerator.resources().dram_bw_bytes_per_s
        self.channel = FairShareChannel(self.env, bw_bytes_per_s=bw, name="dram")
        self.banks = [EngineBank(self.env, name=f"stage{k}", count=1)
                      for k in range(len(groups))]
        self.spans: dict[int, tuple[float, float]] = {}

    def infer(self, i: int) -> Generator[simpy.Event, Any, None]:
        """Carry inference ``i`` through the stages in order."""
        entered_s = None
        for bank, group in zip(self.banks, self.groups, strict=True):
            request = bank.request()
            yield request
            unit = bank.take_unit()
            start_s = self.env.now
            entered_s = start_s if entered_s is None else entered_s
            for plan in group:
                yield from self.compute(plan, i, bank.name)
            bank.release(request, unit, self.env.now - start_s)
        self.spans[i] = (entered_s or 0.0, self.env.now)

    def compute(self, plan: OpPlan, i: int, stage: str) -> Generator[simpy.Event, Any, None]:
        """Run one op of inference ``i``: move its bytes, then finish its compute and tail."""
        t = plan.timing
        start_s = self.env.now
        yield self.channel.transfer(t.demand_bytes if self.weights_resident else t.total_bytes)
        end_s = t.end_s(start_s, self.env.now)
        if end_s > self.env.now:
            yield self.env.timeout(end_s - self.env.now)
        self.timeline.add(f"{plan.op.name}#{i}", stage, start_s, self.env.now, "compute")

    def result(self, graph: Graph, n: int) -> PipelineResult:
        """Summarise the finished run."""
        makespan_s = max(end for _, end in self.spans.values())
        latencies = np.array([end - start for start, end in self.spans.values()])
        dynamic = EnergyBreakdown()
        for group in self.groups:
            for plan in group:
                dynamic = dynamic + plan.cost.energy
        static = EnergyBreakdown(static_j=self.accelerator.static_power_w * makespan_s)
        span_s = makespan_s or 1.0  # a graph of zero-latency ops: nothing was busy
        util = {b.name: b.busy_s / span_s for b in self.banks}
        util["dram"] = self.channel.busy_s / span_s
        batch = batch_of(graph)
        return PipelineResult(
            workload=graph.name, accelerator=self.accelerator.name, n_inferences=n,
            batch=batch, stages=tuple(tuple(p.op.name for p in g) for g in self.groups),
            stage_latency_s=tuple(sum(p.cost.latency_s for p in g) for g in self.groups),
            latency_s=float(latencies.mean()),
            throughput_per_s=n * batch / span_s if makespan_s else 0.0,
            makespan_s=makespan_s, energy=dynamic.scaled(n) + static,
            engine_utilization=util, latencies_s=latencies, timeline=self.timeline.frame(),
        )
