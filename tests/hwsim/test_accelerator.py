"""Tests of the accelerator contract: OpCost arithmetic, Report and the analytic path."""

from dataclasses import dataclass

import pytest

from hwsim.accelerator import (
    Accelerator,
    EnergyBreakdown,
    EngineSpec,
    OpCost,
    Resources,
    analytic_report,
)
from hwsim.graph import Op
from workloads import zoo


def test_opcost_add_sums_fields_and_weights_utilization():
    """Adding costs sums counts and energies and weights utilization by compute cycles."""
    a = OpCost(latency_s=1.0, compute_cycles=100, cycles=100, utilization=1.0,
               energy=EnergyBreakdown(compute_j=1.0))
    b = OpCost(latency_s=2.0, compute_cycles=300, cycles=300, utilization=0.5,
               energy=EnergyBreakdown(dram_j=2.0))
    c = a + b
    assert c.latency_s == 3.0
    assert c.compute_cycles == 400
    assert c.utilization == pytest.approx((100 + 150) / 400)
    assert c.energy_j == 3.0


def test_opcost_rejects_negative_and_bad_utilization():
    """Negative counts and utilization outside [0, 1] are rejected by field name."""
    with pytest.raises(ValueError, match="OpCost.cycles must be >= 0"):
        OpCost(latency_s=0.0, cycles=-1)
    with pytest.raises(ValueError, match="utilization"):
        OpCost(latency_s=0.0, utilization=1.5)


def test_resources_validate():
    """Resources need an engine and positive bandwidth."""
    with pytest.raises(ValueError, match="engines"):
        Resources(engines=(), dram_bw_bytes_per_s=1.0)
    with pytest.raises(ValueError, match="dram_bw_bytes_per_s"):
        Resources(engines=(EngineSpec(name="e"),), dram_bw_bytes_per_s=0)


@dataclass(frozen=True, kw_only=True)
class _Roofline:
    """A two-number accelerator used to exercise the contract."""

    macs_per_s: float = 1e12
    bw_bytes_per_s: float = 1e11
    name: str = "roofline"
    freq_hz: float = 1e9
    area_mm2: float = 10.0
    static_power_w: float = 2.0

    def op_cost(self, op: Op) -> OpCost:
        compute = op.macs / self.macs_per_s
        memory = (op.input_bytes + op.weight_bytes + op.output_bytes) / self.bw_bytes_per_s
        t = max(compute, memory)
        return OpCost(latency_s=t, cycles=t * self.freq_hz, compute_cycles=compute * self.freq_hz,
                      macs_executed=op.macs, energy=EnergyBreakdown(compute_j=op.macs * 1e-12))

    def supports(self, op: Op) -> bool:
        return True

    def resources(self) -> Resources:
        return Resources(engines=(EngineSpec(name="core"),),
                         dram_bw_bytes_per_s=self.bw_bytes_per_s)

    def engine_for(self, op: Op) -> str:
        return "core"


def test_analytic_report_sums_ops():
    """The analytic report's latency and energy are sums over ops plus static power."""
    acc = _Roofline()
    assert isinstance(acc, Accelerator)
    g = zoo.resnet18()
    r = analytic_report(g, acc)
    costs = [acc.op_cost(op) for op in g.ops]
    assert r.latency_s == pytest.approx(sum(c.latency_s for c in costs))
    assert r.energy.compute_j == pytest.approx(g.macs * 1e-12)
    assert r.energy.static_j == pytest.approx(2.0 * r.latency_s)
    assert r.avg_power_w == pytest.approx(r.energy_j / r.latency_s)
    assert len(r.per_op) == len(g)
    assert r.per_op["end_s"].iloc[-1] == pytest.approx(r.latency_s)
    row = r.to_dict()
    assert row["edp_js"] == pytest.approx(r.energy_j * r.latency_s)
    assert row["throughput_per_s"] == pytest.approx(1 / r.latency_s)
