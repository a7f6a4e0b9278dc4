"""How the discrete-event simulator reads an op's cost: placement and latency decomposition.

Each op's ``OpCost`` (its cost run alone) is split into parts the simulator can overlap:

* ``compute_s = latency_s - stall_s`` with ``stall_s = stall_cycles / freq_hz`` (clamped
  to ``[0, latency_s]``): the time the engine needs once its data is on chip, fixed
  overheads included. The op's own ``stall_cycles`` are memory waits that the simulator
  re-derives from the shared channel instead of taking them as given.
* DRAM traffic, ``dram_read_bytes + dram_write_bytes``: ``prefetch_bytes`` (the weights:
  ``min(dram_read_bytes, op.weight_read_bytes)``, which have no producer and may be fetched early)
  and ``demand_bytes`` (the other reads, i.e. activations, and all writes), which move while
  the op runs. Alone on the channel they take ``memory_s = total_bytes / dram_bw``.
* ``tail_s = latency_s - max(compute_s, memory_s)``: what the cost model charges beyond
  the overlap of compute and memory (for example a load phase it does not overlap).

In the simulator an op that holds its engine from ``t0`` ends at
``max(t0 + compute_s, memory_end) + tail_s``, where ``memory_end`` is when the last of its
bytes crossed the shared channel. Alone, with no prefetch, ``memory_end = t0 + memory_s``
and the op takes exactly ``latency_s``. A cost model that claims less time than its DRAM
bytes need at the declared bandwidth has its traffic scaled down to ``latency_s * dram_bw``
bytes so that this identity still holds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hwsim.accelerator import OpCost, Resources
from hwsim.graph import Graph, Op
from hwsim.sim.system import Placement, System, default_placement


@dataclass(frozen=True, slots=True)
class OpTiming:
    """An op's latency split into compute, DRAM traffic and a fixed tail (seconds, bytes)."""

    compute_s: float
    prefetch_bytes: float
    demand_bytes: float
    total_bytes: float
    memory_s: float
    tail_s: float

    def end_s(self, start_s: float, memory_end_s: float) -> float:
        """When an op that took its engine at ``start_s`` ends, its bytes in by ``memory_end_s``."""
        return max(start_s + self.compute_s, memory_end_s) + self.tail_s


def decompose(op: Op, cost: OpCost, *, freq_hz: float, dram_bw_bytes_per_s: float) -> OpTiming:
    """Split ``cost`` (the cost of ``op`` alone) as described in the module docstring."""
    if not freq_hz > 0:
        raise ValueError(f"freq_hz must be > 0, got {freq_hz}")
    latency_s = cost.latency_s
    compute_s = latency_s - min(cost.stall_cycles / freq_hz, latency_s)
    read, write = cost.dram_read_bytes, cost.dram_write_bytes
    scale = 1.0
    if read + write > latency_s * dram_bw_bytes_per_s:
        scale = latency_s * dram_bw_bytes_per_s / (read + write)
    weights = min(read, op.weight_read_bytes) * scale
    demand = (read * scale - weights) + write * scale
    total = weights + demand
    memory_s = total / dram_bw_bytes_per_s
    tail_s = max(latency_s - max(compute_s, memory_s), 0.0)
    return OpTiming(compute_s, weights, demand, total, memory_s, tail_s)


@dataclass(frozen=True, slots=True)
class OpPlan:
    """One op ready to simulate: its cost, where it runs and its decomposed timing."""

    op: Op
    cost: OpCost
    device: str
    engine: str
    timing: OpTiming


def plan_ops(graph: Graph, system: System, placement: Placement | None = None,
             cost_of: Callable[[str, Op], OpCost] | None = None) -> tuple[OpPlan, ...]:
    """Place and cost every op of ``graph`` on ``system`` (in the graph's order).

    ``cost_of(device, op)`` overrides the accelerator's ``op_cost`` (for cost caches).
    """
    place = placement or default_placement
    resources = {d.name: d.accelerator.resources() for d in system.devices}
    plans = []
    for op in graph.ops:
        device = place(op, system)
        acc = system.device(device).accelerator
        cost = cost_of(device, op) if cost_of else acc.op_cost(op)
        timing = decompose(op, cost, freq_hz=acc.freq_hz,
                           dram_bw_bytes_per_s=resources[device].dram_bw_bytes_per_s)
        engine = _engine(op, acc.engine_for(op), resources[device])
        plans.append(OpPlan(op, cost, device, system.qualified(device, engine), timing))
    return tuple(plans)


def _engine(op: Op, name: str, resources: Resources) -> str:
    known = [e.name for e in resources.engines]
    if name not in known:
        raise ValueError(f"op {op.name!r}: engine_for returned {name!r}, not one of {known}")
    return name
