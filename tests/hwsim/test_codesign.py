"""Co-design problems and sweep configs: batch path equals per-point path, limits, errors."""

import dataclasses
import pickle
import re

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
    """The vectorised batch path gives the same row as analytic_report per design: the same
    columns (energy split included) and the same figures."""
    hw = [{"rows": r, "cols": c, "weight_bits": 8} for r in (32, 128) for c in (64, 256)]
    hw += [{"rows": 16, "cols": 48, "dataflow": "is", "freq_hz": 5e8,
            "dram_bw_bytes_per_s": 1e10, "ifmap_sram_bytes": 65536, "weight_bits": 8}]
    rows = resnet_problem.evaluate_batch(hw)
    graph, _ = resnet_problem._compressed((("weight_bits", 8),))
    base = resnet_problem.base_accelerator()
    for design, row in zip(hw, rows, strict=True):
        cfg = dataclasses.replace(base, **{k: v for k, v in design.items() if k != "weight_bits"})
        ref = analytic_report(graph, cfg).to_dict()
        assert set(row) == set(ref) | {"feasible", "problem_id"}
        for key, value in ref.items():
            assert row[key] == (pytest.approx(value, rel=1e-9) if isinstance(value, float)
                                else value)


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


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"workload_params": {"hue": 1}}, "unknown parameter 'hue' for model mlp"),
        ({"workload_params": {"batch": 0}}, "batch must be an integer >= 1"),
        ({"workload_params": [1]}, "workload_params must be a mapping"),
        ({"plan": ["x"]}, "plan must be a mapping"),
        ({"plan": {"defaults": [1]}}, "plan.defaults must be a mapping"),
        ({"limits": {"area": 1.0}}, "limits: unknown metric 'area'; allowed: latency_s"),
        ({"limits": {"accuracy": 0.9}}, "unknown metric 'accuracy'"),
        ({"limits": {"area_mm2": "big"}}, "limits.area_mm2 must be a finite number"),
        ({"limits": {"area_mm2": float("nan")}}, "limits.area_mm2 must be a finite number"),
        ({"seed": -1}, "seed must be an integer >= 0, got -1"),
        ({"quality": "accuracy"}, "quality 'accuracy' needs a digits model"),
    ],
)
def test_problem_fields_are_validated_at_construction(fields, match):
    """Malformed problem fields raise at once, not as one error row per design."""
    with pytest.raises(ValueError, match=re.escape(match)):
        CodesignProblem(**{"workload": "mlp", "quality": "proxy"} | fields)


def test_metrics_follow_the_quality_axis():
    """Limits and objectives may name the hardware metrics plus the problem's quality axis."""
    proxy = CodesignProblem(workload="mlp").metrics()
    assert {"latency_s", "energy_other_j", "fidelity_sqnr_db"} <= set(proxy)
    assert "accuracy" not in proxy
    assert "accuracy" in CodesignProblem(workload="digits_mlp").metrics()
    assert not {"accuracy", "fidelity_sqnr_db"} & set(
        CodesignProblem(workload="mlp", quality="none").metrics())


def test_problem_id_is_stable_and_tells_problems_apart():
    """Equal problems share an id (also after pickling); any changed field changes it."""
    base = CodesignProblem(workload="mlp", quality="none", limits={"area_mm2": 9.0})
    same = CodesignProblem(workload="mlp", quality="none", limits={"area_mm2": 9.0})
    assert base.problem_id == same.problem_id == pickle.loads(pickle.dumps(base)).problem_id
    assert base.problem_id.startswith("mlp-")
    others = [dataclasses.replace(base, preset="tpu-v1"), dataclasses.replace(base, seed=1),
              dataclasses.replace(base, limits={"area_mm2": 10.0}),
              dataclasses.replace(base, plan={"defaults": {"act_bits": 8}})]
    assert len({p.problem_id for p in [base, *others]}) == 5
    assert base.evaluate({"rows": 8})["problem_id"] == base.problem_id


def test_parameter_values_are_checked_one_by_one():
    """A value no config or plan accepts is named with the field's own message."""
    p = CodesignProblem(workload="mlp", quality="none")
    p.check_values("rows", [8, 16])
    p.check_values("weight_bits", [4, 8])
    with pytest.raises(ValueError, match="parameter 'rows': value 0 is not allowed: rows"):
        p.check_values("rows", [8, 0])
    with pytest.raises(ValueError, match="parameter 'weight_bits': value 40 is not allowed"):
        p.check_values("weight_bits", [40])


_CFG = """
problem: {workload: mlp, accelerator: systolic, preset: edge-tpu, quality: none}
space:
  parameters:
    rows: {values: [8, 16]}
    weight_bits: {values: [4, 8]}
sample: {method: grid}
objectives: {latency_s: min, energy_j: min}
"""


def test_sweep_config_reads_exponents_without_a_dot_as_numbers():
    """`1e8` in a sweep config is a float (YAML 1.1 would read a string)."""
    cfg = SweepConfig.from_yaml(_CFG.replace("rows: {values: [8, 16]}",
                                             "freq_hz: {low: 1e8, high: 1e9, log: true}"))
    assert cfg.space.params[0].low == 1e8


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
        ("[8, 16]", "[8, 1.5]", "parameter 'rows': value 1.5 is not allowed"),
        ("method: grid", "method: random, n: 2.5", "sample.n must be an integer >= 1, got 2.5"),
        ("method: grid", "method: grid, points_per_range: 1",
         "sample.points_per_range must be an integer >= 2"),
        ("latency_s: min,", "accuracy: max,", "objectives: unknown metric 'accuracy'"),
        ("sample: {method: grid}", "sample: {method: grid}\nsearch: {method: nsga2, budget: x}",
         "search.budget must be an integer >= 1, got 'x'"),
        ("quality: none}", "quality: none", "sweep config is not valid YAML at line 3"),
    ],
)
def test_sweep_config_errors(old, new, match):
    """Malformed sweep configs raise ValueError naming the field."""
    with pytest.raises(ValueError, match=match):
        SweepConfig.from_yaml(_CFG.replace(old, new))
