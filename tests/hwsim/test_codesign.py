"""Co-design problems and sweep configs: batch path equals per-point path, limits, errors."""

import dataclasses

import pytest

from hwsim.accelerator import analytic_report
from hwsim.codesign import CodesignProblem
from hwsim.sweepconfig import SweepConfig


@pytest.fixture(scope="module")
def resnet_problem():
    return CodesignProblem(workload="resnet18", family="systolic", preset="tpu-v1",
                           plan={"defaults": {"act_bits": 8}}, quality="none",
                           limits={"area_mm2": 150.0})


def test_batched_systolic_rows_equal_per_point_reports(resnet_problem):
    """The vectorised batch path gives the same totals as analytic_report per design."""
    hw = [{"rows": r, "cols": c, "weight_bits": 8} for r in (32, 128) for c in (64, 256)]
    rows = resnet_problem.evaluate_batch(hw)
    graph, _ = resnet_problem._compressed((("weight_bits", 8),))
    base = resnet_problem.base_accelerator()
    for design, row in zip(hw, rows, strict=True):
        cfg = dataclasses.replace(base, rows=design["rows"], cols=design["cols"])
        ref = analytic_report(graph, cfg).to_dict()
        for key in ("latency_s", "energy_j", "area_mm2", "edp_js", "avg_power_w"):
            assert row[key] == pytest.approx(ref[key], rel=1e-9)


def test_limits_flag_rows_without_dropping(resnet_problem):
    """A design over the area limit is kept and marked infeasible."""
    small, big = resnet_problem.evaluate_batch([{"rows": 32, "cols": 32},
                                                {"rows": 256, "cols": 256}])
    assert small["feasible"]
    assert not big["feasible"]
    assert big["area_mm2"] > 150.0


def test_plan_fields_change_the_workload(resnet_problem):
    """Fewer weight bits move fewer DRAM bytes: less DRAM energy on the same hardware."""
    w8, w4 = resnet_problem.evaluate_batch([{"rows": 64, "cols": 64, "weight_bits": 8},
                                            {"rows": 64, "cols": 64, "weight_bits": 4}])
    assert w4["energy_dram_j"] < w8["energy_dram_j"]


def test_quality_axes():
    """Zoo models get the fidelity proxy; digits models get measured accuracy."""
    proxy = CodesignProblem(workload="mlp", family="cpu").evaluate({"weight_bits": 4})
    assert "fidelity_sqnr_db" in proxy
    assert "accuracy" not in proxy
    pytest.importorskip("sklearn")
    acc = CodesignProblem(workload="digits_mlp", family="cpu").evaluate({"weight_bits": 8})
    assert acc["accuracy"] > 0.9


def test_unknown_names_rejected():
    """Parameters that are neither config fields nor plan settings are errors."""
    p = CodesignProblem(workload="mlp", family="systolic", quality="none")
    with pytest.raises(ValueError, match="'colz' is neither a systolic config field"):
        p.check_names(["rows", "colz"])
    with pytest.raises(ValueError, match="quality must be one of"):
        CodesignProblem(workload="mlp", quality="vibes")
    with pytest.raises(ValueError, match="unknown model"):
        CodesignProblem(workload="resnet5")


_CFG = """
problem: {workload: mlp, accelerator: systolic, preset: edge-tpu, quality: none}
space:
  parameters:
    rows: {values: [8, 16]}
    weight_bits: {values: [4, 8]}
sample: {method: grid}
objectives: {latency_s: min, energy_j: min}
"""


def test_sweep_config_runs_a_grid():
    """A YAML sweep config evaluates every grid point."""
    table = SweepConfig.from_yaml(_CFG).run()
    assert len(table) == 4
    assert set(table["status"]) == {"ok"}
    assert {"rows", "weight_bits", "latency_s", "energy_j", "feasible"} <= set(table.columns)


@pytest.mark.parametrize(
    ("old", "new", "match"),
    [
        ("method: grid", "method: sobol", "sample.method must be one of"),
        ("latency_s: min,", "latency_s: least,", "objectives.latency_s must be 'min' or 'max'"),
        ("rows:", "rowz:", "'rowz' is neither a systolic config field"),
        ("workload: mlp,", "workload: mlp, colour: red,", "problem: unknown key 'colour'"),
    ],
)
def test_sweep_config_errors(old, new, match):
    """Malformed sweep configs raise ValueError naming the field."""
    with pytest.raises(ValueError, match=match):
        SweepConfig.from_yaml(_CFG.replace(old, new))
