"""Serving: a stream of requests through a dynamic-batching server on one device or system.

Requests arrive (Poisson or a trace); the server takes the waiting requests as one batch when
it is free and either ``max_batch`` requests wait or the oldest has waited ``max_wait_s``
(then it takes up to ``max_batch`` of those that arrived). One batch runs at a time.

The service time of a batch of ``b`` comes from simulating (or analytically costing) the
graph ``graph_builder(b)`` once per batch size; the queue itself is advanced batch by batch
(an event loop over batch dispatches, not one process per request), so ten thousand
requests take milliseconds once the batch sizes are costed.

Ignored: time to move requests to the device (the graph's input op carries that), batch
padding, preemption and several batches in flight at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from hwsim.accelerator import Accelerator, Report, analytic_report
from hwsim.graph import Graph
from hwsim.sim.simulate import simulate, simulate_totals
from hwsim.sim.system import System, as_system

if TYPE_CHECKING:
    import pandas as pd

GraphBuilder = Callable[[int], Graph]


@dataclass(frozen=True, kw_only=True)
class BatchPolicy:
    """Dynamic batching: dispatch at ``max_batch`` waiting or after ``max_wait_s``."""

    max_batch: int = 1
    max_wait_s: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.max_batch, int) or self.max_batch < 1:
            raise ValueError(f"max_batch must be an integer >= 1, got {self.max_batch!r}")
        if not 0.0 <= self.max_wait_s < float("inf"):
            raise ValueError(f"max_wait_s must be finite and >= 0, got {self.max_wait_s!r}")


@dataclass(frozen=True, kw_only=True)
class PoissonArrivals:
    """``n`` requests with exponential gaps of mean ``1 / rate_per_s``, drawn from ``seed``.

    The gaps are standard exponential draws divided by the rate, so one seed at several
    rates gives the same arrival pattern stretched in time (common random numbers).
    """

    rate_per_s: float
    n: int
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.rate_per_s < float("inf"):
            raise ValueError(f"rate_per_s must be finite and > 0, got {self.rate_per_s!r}")
        if not isinstance(self.n, int) or self.n < 1:
            raise ValueError(f"n must be an integer >= 1, got {self.n!r}")

    def times(self) -> np.ndarray:
        """Arrival times in seconds, shape (n,), increasing."""
        rng = np.random.default_rng(self.seed)
        return np.cumsum(rng.standard_exponential(self.n)) / self.rate_per_s


@dataclass(frozen=True)
class BatchCost:
    """What one batch of ``batch`` requests costs: time, dynamic energy, engine busy time."""

    batch: int
    latency_s: float
    energy_j: float
    busy_s: dict[str, float]


class ServiceTimes:
    """Batch costs by batch size; each size is built and costed once, on first use.

    Parameters
    ----------
    graph_builder : ``batch -> Graph``.
    target : an ``Accelerator`` or a ``System``.
    overlap : passed to ``simulate``.
    analytic : cost batches with ``analytic_report`` (an ``Accelerator`` only) instead.
    """

    def __init__(self, graph_builder: GraphBuilder, target: Accelerator | System, *,
                 overlap: bool = True, analytic: bool = False) -> None:
        if analytic and isinstance(target, System):
            raise ValueError("analytic=True needs an Accelerator, got a System")
        self.graph_builder = graph_builder
        self.target = target
        self.overlap = overlap
        self.analytic = analytic
        self.static_power_w = as_system(target).static_power_w
        self._costs: dict[int, BatchCost] = {}

    def __call__(self, batch: int) -> BatchCost:
        if batch not in self._costs:
            self._costs[batch] = self._cost(batch)
        return self._costs[batch]

    def report(self, batch: int) -> Report:
        """The full report of one batch of ``batch`` (not cached)."""
        graph = self.graph_builder(batch)
        if self.analytic and not isinstance(self.target, System):
            return analytic_report(graph, self.target)
        return simulate(graph, self.target, overlap=self.overlap)

    def _cost(self, batch: int) -> BatchCost:
        graph = self.graph_builder(batch)
        if self.analytic and not isinstance(self.target, System):
            return _analytic_cost(graph, self.target, batch)
        totals = simulate_totals(graph, self.target, overlap=self.overlap)
        busy = {k: u * totals.latency_s for k, u in totals.engine_utilization.items()}
        return BatchCost(batch, totals.latency_s, totals.energy.total_j - totals.energy.static_j,
                         busy)


def _analytic_cost(graph: Graph, accelerator: Accelerator, batch: int) -> BatchCost:
    """Sum-of-ops cost (as ``analytic_report``) without building its tables."""
    counts = {e.name: e.count for e in accelerator.resources().engines}
    latency_s, energy_j = 0.0, 0.0
    busy = dict.fromkeys(counts, 0.0)
    for op in graph.ops:
        cost = accelerator.op_cost(op)
        latency_s += cost.latency_s
        energy_j += cost.energy_j
        busy[accelerator.engine_for(op)] += cost.latency_s
    return BatchCost(batch, latency_s, energy_j, {k: v / counts[k] for k, v in busy.items()})


@dataclass(frozen=True, kw_only=True, eq=False)
class ServeResult:
    """Outcome of serving a request stream.

    Latencies run from a request's arrival to the end of its batch. ``duration_s`` runs from
    the first arrival to the last completion; throughput is requests over that duration.
    ``engine_utilization`` is each engine's (and channel's) busy fraction over the duration;
    energy includes static power over the duration.
    """

    n_requests: int
    offered_rate_per_s: float
    throughput_per_s: float
    duration_s: float
    latency_p50_s: float
    latency_p95_s: float
    latency_p99_s: float
    latency_mean_s: float
    latency_max_s: float
    mean_batch: float
    energy_j: float
    engine_utilization: dict[str, float]
    policy: BatchPolicy
    latencies_s: np.ndarray = field(repr=False)
    batch_sizes: np.ndarray = field(repr=False)
    batch_starts_s: np.ndarray = field(repr=False)
    batch_ends_s: np.ndarray = field(repr=False)

    @property
    def energy_per_request_j(self) -> float:
        """Energy over requests."""
        return self.energy_j / self.n_requests

    @property
    def timeline(self) -> pd.DataFrame:
        """One event per batch on resource ``server`` (category ``batch``)."""
        import pandas as pd

        names = [f"batch{k} x{b}" for k, b in enumerate(self.batch_sizes)]
        return pd.DataFrame({"name": names, "resource": "server",
                             "start_s": self.batch_starts_s, "end_s": self.batch_ends_s,
                             "category": "batch"})

    def to_dict(self) -> dict[str, Any]:
        """Flat figures for a table row (no arrays)."""
        row: dict[str, Any] = {
            "offered_rate_per_s": self.offered_rate_per_s,
            "throughput_per_s": self.throughput_per_s,
            "latency_p50_s": self.latency_p50_s,
            "latency_p95_s": self.latency_p95_s,
            "latency_p99_s": self.latency_p99_s,
            "latency_mean_s": self.latency_mean_s,
            "latency_max_s": self.latency_max_s,
            "mean_batch": self.mean_batch,
            "max_batch": self.policy.max_batch,
            "max_wait_s": self.policy.max_wait_s,
            "energy_per_request_j": self.energy_per_request_j,
            "n_requests": self.n_requests,
        }
        row.update({f"utilization_{k}": v for k, v in self.engine_utilization.items()})
        return row


def serve(graph_builder: GraphBuilder, target: Accelerator | System, *,
          arrivals: PoissonArrivals | Sequence[float] | np.ndarray, policy: BatchPolicy,
          overlap: bool = True, analytic: bool = False) -> ServeResult:
    """Serve a request stream with dynamic batching on an accelerator or a system.

    Parameters
    ----------
    graph_builder : ``batch -> Graph``, e.g. ``lambda b: zoo.mlp(batch=b)``.
    target : an ``Accelerator`` or a ``System``.
    arrivals : ``PoissonArrivals`` or arrival times in seconds (non-decreasing).
    policy : the batching policy.
    overlap, analytic : how batches are costed (see ``ServiceTimes``).
    """
    service = ServiceTimes(graph_builder, target, overlap=overlap, analytic=analytic)
    return serve_with(service, arrivals=arrivals, policy=policy)


def serve_with(service: ServiceTimes, *,
               arrivals: PoissonArrivals | Sequence[float] | np.ndarray,
               policy: BatchPolicy) -> ServeResult:
    """``serve`` with a ``ServiceTimes`` cache shared across calls (for sweeps)."""
    times = _arrival_times(arrivals)
    starts, sizes, ends = _dispatch(times, policy, lambda b: service(b).latency_s)
    latencies = np.repeat(ends, sizes) - times
    duration_s = float(ends[-1] - times[0])
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99])
    offered = arrivals.rate_per_s if isinstance(arrivals, PoissonArrivals) else (
        (len(times) - 1) / (times[-1] - times[0]) if times[-1] > times[0] else 0.0)
    busy: dict[str, float] = {}
    energy_j = service.static_power_w * duration_s
    for size, n in zip(*np.unique(sizes, return_counts=True), strict=True):
        cost = service(int(size))
        energy_j += n * cost.energy_j
        for k, v in cost.busy_s.items():
            busy[k] = busy.get(k, 0.0) + n * v
    return ServeResult(
        n_requests=len(times), offered_rate_per_s=float(offered),
        throughput_per_s=len(times) / duration_s if duration_s > 0 else 0.0,
        duration_s=duration_s, latency_p50_s=float(p50), latency_p95_s=float(p95),
        latency_p99_s=float(p99), latency_mean_s=float(latencies.mean()),
        latency_max_s=float(latencies.max()), mean_batch=float(sizes.mean()),
        energy_j=float(energy_j),
        engine_utilization={k: float(min(v / duration_s, 1.0)) if duration_s > 0 else 0.0
                            for k, v in busy.items()},
        policy=policy, latencies_s=latencies, batch_sizes=sizes, batch_starts_s=starts,
        batch_ends_s=ends,
    )


def _arrival_times(arrivals: PoissonArrivals | Sequence[float] | np.ndarray) -> np.ndarray:
    if isinstance(arrivals, PoissonArrivals):
        return arrivals.times()
    times = np.asarray(arrivals, dtype=float)
    if times.ndim != 1 or times.size == 0:
        raise ValueError(f"arrivals must be a non-empty 1-D sequence, got shape {times.shape}")
    if not (np.all(np.isfinite(times)) and np.all(np.diff(times) >= 0) and times[0] >= 0):
        raise ValueError("arrivals must be finite, >= 0 and non-decreasing")
    return times


def _dispatch(times: np.ndarray, policy: BatchPolicy,
              latency_s: Callable[[int], float]) -> tuple[np.ndarray, ...]:
    """Batch start times, sizes and end times of a single server under ``policy``."""
    n, cap, wait_s = len(times), policy.max_batch, policy.max_wait_s
    starts, sizes, ends = [], [], []
    i, free_s = 0, 0.0
    while i < n:
        ready_s = max(free_s, times[i])
        full_s = times[i + cap - 1] if i + cap - 1 < n else np.inf
        start_s = max(ready_s, min(full_s, times[i] + wait_s))
        j = min(i + cap, int(np.searchsorted(times, start_s, side="right")))
        starts.append(start_s)
        sizes.append(j - i)
        free_s = start_s + latency_s(j - i)
        ends.append(free_s)
        i = j
    return np.array(starts), np.array(sizes, dtype=np.int64), np.array(ends)
