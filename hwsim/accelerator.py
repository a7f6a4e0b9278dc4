"""The accelerator contract: the ``Accelerator`` protocol, per-op ``OpCost`` and the ``Report``.

Every accelerator family is a frozen, keyword-only config dataclass that evaluates ops
*against* itself: ``op_cost(op) -> OpCost``. The discrete-event layer (``hwsim.sim``) turns
those costs into a timeline; ``analytic_report`` is the sum-of-ops path used when no overlap
or contention is modelled.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from hwsim.graph import Graph, Op

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True, kw_only=True)
class EnergyBreakdown:
    """Energy by component, in joules.

    compute_j: MAC array and vector/scalar datapaths; sram_j: on-chip buffers and caches;
    dram_j: off-chip memory; other_j: interconnect, control, links; static_j: leakage over time.
    """

    compute_j: float = 0.0
    sram_j: float = 0.0
    dram_j: float = 0.0
    other_j: float = 0.0
    static_j: float = 0.0

    @property
    def total_j(self) -> float:
        """Sum over components."""
        return self.compute_j + self.sram_j + self.dram_j + self.other_j + self.static_j

    def __add__(self, other: EnergyBreakdown) -> EnergyBreakdown:
        return EnergyBreakdown(**{f.name: getattr(self, f.name) + getattr(other, f.name)
                                  for f in fields(self)})

    def scaled(self, factor: float) -> EnergyBreakdown:
        """Every component multiplied by ``factor``."""
        return EnergyBreakdown(**{f.name: getattr(self, f.name) * factor for f in fields(self)})


@dataclass(frozen=True, kw_only=True)
class OpCost:
    """What one op costs on one accelerator, in isolation.

    ``cycles = compute_cycles + stall_cycles`` at the accelerator's clock and ``latency_s`` is
    the same time in seconds (it also holds fixed overheads such as kernel launch). Bytes are
    counted per memory level: ``sram_*`` for all on-chip buffers and caches together,
    ``dram_*`` for off-chip memory. MACs are split into executed, gated (issued on a zero
    operand with the datapath clock-gated: time spent, energy saved) and skipped (neither).
    ``utilization`` is useful MACs over peak MACs over ``compute_cycles`` (0..1).
    """

    latency_s: float
    cycles: float = 0.0
    compute_cycles: float = 0.0
    stall_cycles: float = 0.0
    sram_read_bytes: float = 0.0
    sram_write_bytes: float = 0.0
    dram_read_bytes: float = 0.0
    dram_write_bytes: float = 0.0
    macs_executed: float = 0.0
    macs_gated: float = 0.0
    macs_skipped: float = 0.0
    utilization: float = 0.0
    energy: EnergyBreakdown = field(default_factory=EnergyBreakdown)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float | int) and value < 0:
                raise ValueError(f"OpCost.{f.name} must be >= 0, got {value}")
        if not 0.0 <= self.utilization <= 1.0 + 1e-9:
            raise ValueError(f"OpCost.utilization must be in [0, 1], got {self.utilization}")

    @property
    def energy_j(self) -> float:
        """Total dynamic (and any static) energy of the op."""
        return self.energy.total_j

    @property
    def dram_bytes(self) -> float:
        """Off-chip bytes read plus written."""
        return self.dram_read_bytes + self.dram_write_bytes

    def __add__(self, other: OpCost) -> OpCost:
        summed = {
            f.name: getattr(self, f.name) + getattr(other, f.name)
            for f in fields(self)
            if f.name not in ("utilization",)
        }
        busy = self.compute_cycles + other.compute_cycles
        util = (
            (self.utilization * self.compute_cycles + other.utilization * other.compute_cycles)
            / busy
            if busy
            else 0.0
        )
        return OpCost(utilization=min(util, 1.0), **summed)


ZERO_COST = OpCost(latency_s=0.0)


@dataclass(frozen=True, kw_only=True)
class EngineSpec:
    """A compute engine the DES instantiates: ``count`` identical units named ``name``."""

    name: str
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"EngineSpec.count must be >= 1, got {self.count}")


@dataclass(frozen=True, kw_only=True)
class Resources:
    """What the discrete-event simulator builds for an accelerator.

    engines: compute engines; ``engine_for(op)`` on the accelerator says which one runs an op.
    dram_bw_bytes_per_s: the off-chip memory channel shared by all transfers.
    double_buffered: whether the next op's inputs and weights may be fetched during the
    current op's compute.
    """

    engines: tuple[EngineSpec, ...]
    dram_bw_bytes_per_s: float
    double_buffered: bool = True

    def __post_init__(self) -> None:
        if not self.engines:
            raise ValueError("Resources.engines must name at least one engine")
        if self.dram_bw_bytes_per_s <= 0:
            raise ValueError(
                f"Resources.dram_bw_bytes_per_s must be > 0, got {self.dram_bw_bytes_per_s}"
            )


@runtime_checkable
class Accelerator(Protocol):
    """What every accelerator model provides."""

    @property
    def name(self) -> str:
        """Short name of the configured design (used in tables and plots)."""
        ...

    @property
    def freq_hz(self) -> float:
        """Clock frequency."""
        ...

    @property
    def area_mm2(self) -> float:
        """Silicon area of the design."""
        ...

    @property
    def static_power_w(self) -> float:
        """Leakage and always-on power."""
        ...

    def op_cost(self, op: Op) -> OpCost:
        """Cost of ``op`` run alone on this design."""
        ...

    def supports(self, op: Op) -> bool:
        """Whether this design can run ``op`` at all (otherwise a host runs it)."""
        ...

    def resources(self) -> Resources:
        """Engines and memory channels for the discrete-event simulator."""
        ...

    def engine_for(self, op: Op) -> str:
        """Name of the engine that runs ``op``."""
        ...


PER_OP_COLUMNS = [
    "op", "kind", "engine", "start_s", "end_s", "latency_s", "cycles", "compute_cycles",
    "stall_cycles", "macs", "macs_executed", "macs_skipped", "utilization",
    "sram_read_bytes", "sram_write_bytes", "dram_read_bytes", "dram_write_bytes",
    "energy_j", "compute_j", "sram_j", "dram_j", "other_j",
]


def per_op_row(op: Op, cost: OpCost, *, engine: str, start_s: float, end_s: float) -> dict:
    """One row of a report's per-op table."""
    return {
        "op": op.name, "kind": op.kind.value, "engine": engine,
        "start_s": start_s, "end_s": end_s, "latency_s": cost.latency_s,
        "cycles": cost.cycles, "compute_cycles": cost.compute_cycles,
        "stall_cycles": cost.stall_cycles, "macs": op.macs,
        "macs_executed": cost.macs_executed, "macs_skipped": cost.macs_skipped,
        "utilization": cost.utilization,
        "sram_read_bytes": cost.sram_read_bytes, "sram_write_bytes": cost.sram_write_bytes,
        "dram_read_bytes": cost.dram_read_bytes, "dram_write_bytes": cost.dram_write_bytes,
        "energy_j": cost.energy_j, "compute_j": cost.energy.compute_j,
        "sram_j": cost.energy.sram_j, "dram_j": cost.energy.dram_j,
        "other_j": cost.energy.other_j,
    }


@dataclass(frozen=True, kw_only=True)
class Report:
    """Totals of one run plus its per-op table and timeline.

    latency_s: time from the first op's start to the last op's end (one inference or batch).
    throughput_per_s: inferences per second (``batch / latency_s`` unless pipelined).
    energy: dynamic energy by component plus ``static_j = static_power_w * latency_s``.
    per_op: DataFrame with ``PER_OP_COLUMNS``; timeline: DataFrame of events
    (``name``, ``resource``, ``start_s``, ``end_s``, ``category``).
    """

    workload: str
    accelerator: str
    latency_s: float
    throughput_per_s: float
    energy: EnergyBreakdown
    area_mm2: float
    per_op: pd.DataFrame
    timeline: pd.DataFrame
    engine_utilization: dict[str, float] = field(default_factory=dict)
    batch: int = 1

    @property
    def energy_j(self) -> float:
        """Total energy of the run."""
        return self.energy.total_j

    @property
    def avg_power_w(self) -> float:
        """Energy over latency."""
        return self.energy_j / self.latency_s if self.latency_s > 0 else 0.0

    @property
    def edp_js(self) -> float:
        """Energy-delay product in joule-seconds."""
        return self.energy_j * self.latency_s

    def to_dict(self) -> dict[str, Any]:
        """Flat totals for a sweep row (no tables)."""
        row: dict[str, Any] = {
            "workload": self.workload,
            "accelerator": self.accelerator,
            "batch": self.batch,
            "latency_s": self.latency_s,
            "throughput_per_s": self.throughput_per_s,
            "energy_j": self.energy_j,
            "avg_power_w": self.avg_power_w,
            "area_mm2": self.area_mm2,
            "edp_js": self.edp_js,
        }
        row.update({f"energy_{k}": v for k, v in asdict(self.energy).items()})
        return row


def batch_of(graph: Graph) -> int:
    """Batch size of a graph: the leading dim of its first input op (1 if none)."""
    for op in graph.ops:
        if op.kind.value == "input":
            return op.out_shape[0]
    return 1


def analytic_report(graph: Graph, accelerator: Accelerator) -> Report:
    """Sum-of-ops report: ops run one after another, no overlap, no contention."""
    import pandas as pd

    rows, events = [], []
    t = 0.0
    total = ZERO_COST
    for op in graph.ops:
        cost = accelerator.op_cost(op)
        engine = accelerator.engine_for(op)
        rows.append(per_op_row(op, cost, engine=engine, start_s=t, end_s=t + cost.latency_s))
        events.append((op.name, engine, t, t + cost.latency_s, "compute"))
        t += cost.latency_s
        total = total + cost
    static = EnergyBreakdown(static_j=accelerator.static_power_w * t)
    batch = batch_of(graph)
    return Report(
        workload=graph.name,
        accelerator=accelerator.name,
        latency_s=t,
        throughput_per_s=batch / t if t > 0 else 0.0,
        energy=total.energy + static,
        area_mm2=accelerator.area_mm2,
        per_op=pd.DataFrame(rows, columns=PER_OP_COLUMNS),
        timeline=pd.DataFrame(events, columns=["name", "resource", "start_s", "end_s", "category"]),
        batch=batch,
    )
