"""``simulate``: run an op graph through the discrete-event model of a device or a system.

What the run builds, per device: one ``EngineBank`` per engine of ``resources()`` (``count``
units each), one fair-share DRAM channel at ``dram_bw_bytes_per_s`` shared by every transfer
of that device, and, when prefetching, one DMA engine per engine; between devices, the links.

How an op runs (see ``hwsim.sim.plan`` for how its cost is split):

1. Its producers finish; a producer on another device also ships its output over the link.
2. It waits for a unit of its engine (first come, first served), so independent branches
   overlap when an engine has free units or they use different engines.
3. Holding the unit from ``t0``, it moves its demand bytes over the shared channel and ends at
   ``max(t0 + compute_s, memory_end) + tail_s``; time held beyond ``compute_s`` is its stall.

With ``overlap=True`` on a device whose resources are ``double_buffered``, each engine's DMA
fetches the weights of its ops in program order into ``2 * count`` buffers (double
buffering: while an op computes, the next op's weights arrive). Prefetches are background
traffic: they use only bandwidth that no running op is waiting on, so on one engine overlap
never makes a run slower than the serial sum. An op that starts before its weights have
arrived turns the rest of the prefetch into demand traffic and stalls on it; an op that
starts before the DMA reached it (out of program order) fetches its own weights. With
``overlap=False`` every byte moves after its op starts, and on one engine the result equals
``analytic_report`` exactly.

Ignored: DRAM traffic of activations shipped between devices (only the link is timed), bank
and row effects in DRAM, and multi-hop routes (devices exchanging data need a direct link).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, replace
from typing import Any

import simpy

from hwsim.accelerator import (
    PER_OP_COLUMNS,
    Accelerator,
    EnergyBreakdown,
    OpCost,
    Report,
    batch_of,
    per_op_row,
)
from hwsim.graph import Graph
from hwsim.sim.components import DmaEngine, EngineBank, FairShareChannel, Link, Timeline
from hwsim.sim.plan import OpPlan, plan_ops
from hwsim.sim.system import Placement, System, as_system

Proc = Generator[simpy.Event, Any, None]


def simulate(graph: Graph, target: Accelerator | System, *, overlap: bool = True,
             placement: Placement | None = None) -> Report:
    """Simulate one run of ``graph`` on an accelerator or a system of devices.

    Parameters
    ----------
    graph : the op graph (its batch is the leading dim of its input op).
    target : an ``Accelerator`` or a ``System``.
    overlap : prefetch weights during earlier ops' compute on double-buffered devices.
    placement : ``(op, system) -> device name``; default ``default_placement``.

    Returns
    -------
    Report with the makespan as ``latency_s``, per-op start/end from the simulation, the
    timeline, and ``engine_utilization``: per engine the fraction of unit-time its units
    were held (computing or stalled), per DRAM channel and link the fraction of time busy.
    """
    return _finished_run(graph, target, overlap, placement).report(graph)


@dataclass(frozen=True)
class RunTotals:
    """Totals of a simulated run without its tables (cheap to produce)."""

    latency_s: float
    energy: EnergyBreakdown
    engine_utilization: dict[str, float]


def simulate_totals(graph: Graph, target: Accelerator | System, *, overlap: bool = True,
                    placement: Placement | None = None) -> RunTotals:
    """``simulate`` without building the per-op table and timeline (for serving sweeps)."""
    run = _finished_run(graph, target, overlap, placement)
    latency_s = run.latency_s()
    return RunTotals(latency_s, run.energy(latency_s), run.utilization(latency_s))


def _finished_run(graph: Graph, target: Accelerator | System, overlap: bool,
                  placement: Placement | None) -> Run:
    system = as_system(target)
    run = Run(system, plan_ops(graph, system, placement), overlap=overlap)
    run.start()
    run.env.run()
    return run


class Run:
    """One simulation of placed, costed ops on a system."""

    def __init__(self, system: System, plans: tuple[OpPlan, ...], *, overlap: bool) -> None:
        self.env = simpy.Environment()
        self.system = system
        self.plans = plans
        self.timeline = Timeline()
        self.channels: dict[str, FairShareChannel] = {}
        self.banks: dict[str, EngineBank] = {}
        self.dmas: dict[str, DmaEngine] = {}
        for device in system.devices:
            self._build_device(device.name, overlap)
        self.links = {frozenset((s.a, s.b)): Link(self.env, s) for s in system.links}
        self.done: dict[str, simpy.Event] = {}
        self.spans: dict[str, tuple[float, float, str]] = {}
        self.link_energy_j = 0.0
        self._shipments: dict[tuple[str, str], simpy.Process] = {}
        self._by_name = {p.op.name: p for p in plans}

    def _build_device(self, device: str, overlap: bool) -> None:
        resources = self.system.device(device).accelerator.resources()
        name = self.system.qualified(device, "dram")
        channel = FairShareChannel(self.env, bw_bytes_per_s=resources.dram_bw_bytes_per_s,
                                   name=name)
        self.channels[device] = channel
        for spec in resources.engines:
            qualified = self.system.qualified(device, spec.name)
            self.banks[qualified] = EngineBank(self.env, name=qualified, count=spec.count)
            if overlap and resources.double_buffered:
                self.dmas[qualified] = DmaEngine(self.env, channel, buffers=2 * spec.count,
                                                 timeline=self.timeline)

    def start(self) -> None:
        """Create every op's events and processes (graph order: producers first)."""
        for plan in self.plans:
            for src in plan.op.inputs:
                if self._by_name[src].device != plan.device:
                    self.system.link_between(self._by_name[src].device, plan.device)
        queues: dict[str, list[tuple[str, float]]] = {name: [] for name in self.dmas}
        for plan in self.plans:
            if plan.engine in queues and plan.timing.prefetch_bytes > 0:
                queues[plan.engine].append((plan.op.name, plan.timing.prefetch_bytes))
        for engine, queue in queues.items():
            self.dmas[engine].start(queue)
        for plan in self.plans:
            self.done[plan.op.name] = self.env.event()
            self.env.process(self.execute(plan))

    def execute(self, plan: OpPlan) -> Proc:
        """Wait for inputs and a unit, move the op's bytes, compute, release."""
        inputs = [self._arrival(src, plan.device) for src in dict.fromkeys(plan.op.inputs)]
        if inputs:
            yield simpy.AllOf(self.env, inputs)
        bank = self.banks[plan.engine]
        request = bank.request()
        yield request
        unit = bank.take_unit()
        start_s = self.env.now
        dma = self.dmas.get(plan.engine)
        prefetch = dma.claim(plan.op.name) if dma is not None else None
        yield from self.fetch(plan, prefetch)
        end_s = plan.timing.end_s(start_s, self.env.now)
        if end_s > self.env.now:
            yield self.env.timeout(end_s - self.env.now)
        bank.release(request, unit, self.env.now - start_s)
        if dma is not None and prefetch is not None:
            dma.release(plan.op.name)
        label = bank.unit_label(unit)
        self.spans[plan.op.name] = (start_s, self.env.now, label)
        self.timeline.add(plan.op.name, label, start_s, self.env.now, "compute")
        self.done[plan.op.name].succeed()

    def fetch(self, plan: OpPlan, prefetch: simpy.Event | None) -> Proc:
        """Move the op's demand bytes and wait for its prefetched weights, if any.

        A prefetch still in flight when the op starts becomes demand traffic.
        """
        channel = self.channels[plan.device]
        if prefetch is not None:
            channel.promote(prefetch)
        nbytes = plan.timing.demand_bytes if prefetch is not None else plan.timing.total_bytes
        start_s = self.env.now
        if nbytes > 0:
            yield channel.transfer(nbytes)
            self.timeline.add(plan.op.name, channel.name, start_s, self.env.now, "memory")
        if prefetch is not None:
            yield prefetch

    def _arrival(self, producer: str, device: str) -> simpy.Event:
        src = self._by_name[producer]
        if src.device == device:
            return self.done[producer]
        key = (producer, device)
        if key not in self._shipments:
            self._shipments[key] = self.env.process(self.ship(src, device))
        return self._shipments[key]

    def ship(self, src: OpPlan, device: str) -> Proc:
        """Send ``src``'s output over the link to ``device`` once it is produced."""
        yield self.done[src.op.name]
        link = self.links[frozenset((src.device, device))]
        start_s = self.env.now
        yield from link.transfer(src.op.output_bytes)
        self.link_energy_j += src.op.output_bytes * link.spec.energy_j_per_byte
        self.timeline.add(f"{src.op.name}->{device}", link.spec.name, start_s, self.env.now,
                          "link")

    def latency_s(self) -> float:
        """Makespan of the finished run."""
        return max((end for _, end, _ in self.spans.values()), default=0.0)

    def energy(self, latency_s: float) -> EnergyBreakdown:
        """Dynamic energy of the ops (graph order), link energy, static power over the run."""
        dynamic = EnergyBreakdown()
        for plan in self.plans:
            dynamic = dynamic + plan.cost.energy
        if self.link_energy_j:
            dynamic = dynamic + EnergyBreakdown(other_j=self.link_energy_j)
        return dynamic + EnergyBreakdown(static_j=self.system.static_power_w * latency_s)

    def report(self, graph: Graph) -> Report:
        """The ``Report`` of the finished run."""
        import pandas as pd

        latency_s = self.latency_s()
        rows = []
        for plan in self.plans:
            start_s, end_s, _ = self.spans[plan.op.name]
            rows.append(per_op_row(plan.op, self._observed(plan, end_s - start_s),
                                   engine=plan.engine, start_s=start_s, end_s=end_s))
        batch = batch_of(graph)
        return Report(
            workload=graph.name,
            accelerator=self.system.name,
            latency_s=latency_s,
            throughput_per_s=batch / latency_s if latency_s > 0 else 0.0,
            energy=self.energy(latency_s),
            area_mm2=self.system.area_mm2,
            per_op=pd.DataFrame(rows, columns=PER_OP_COLUMNS),
            timeline=self.timeline.frame(),
            engine_utilization=self.utilization(latency_s),
            batch=batch,
        )

    def _observed(self, plan: OpPlan, held_s: float) -> OpCost:
        freq_hz = self.system.device(plan.device).accelerator.freq_hz
        stall_cycles = max(held_s - plan.timing.compute_s, 0.0) * freq_hz
        return replace(plan.cost, latency_s=held_s, stall_cycles=stall_cycles,
                       cycles=plan.cost.compute_cycles + stall_cycles)

    def utilization(self, latency_s: float) -> dict[str, float]:
        """Busy fraction of every engine (per unit), DRAM channel and link wire."""
        if latency_s <= 0:
            return {}
        util = {name: bank.busy_s / (bank.count * latency_s) for name, bank in self.banks.items()}
        util.update({c.name: c.busy_s / latency_s for c in self.channels.values()})
        util.update({k.spec.name: k.wire.busy_s / latency_s for k in self.links.values()})
        return util
