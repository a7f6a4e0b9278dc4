"""Systolic kernels against their plain references, and vectorised sweeps against op_cost."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from accelerators.systolic import SystolicConfig, SystolicDesigns, evaluate_designs, sweep_costs
from accelerators.systolic._kernels import (
    FIELDS,
    N_FIELDS,
    _classes,
    _gemm_kernel,
    _graph_kernel,
    _points_kernel,
    _reuses,
)
from accelerators.systolic._reference import _footprint_fits, _tiles, gemm_fold_model_reference
from accelerators.systolic.sweep import _layer_table
from accelerators.systolic.work import gemm_work, is_mac_op
from hwsim.accelerator import analytic_report
from hwsim.graph import Precision, Sparsity
from hwsim.units import MIB
from workloads.zoo import mobilenet_v2, resnet18

DATAFLOWS = ("os", "ws", "is")
INT8 = Precision.integer(weight_bits=8, act_bits=8)


def _kernel(layer: dict, design: dict) -> np.ndarray:
    out = np.empty(N_FIELDS)
    _gemm_kernel(layer["groups"], layer["m"], layer["k"], layer["n"],
                 DATAFLOWS.index(design["dataflow"]), design["rows"], design["cols"],
                 design["ifmap_sram_bytes"], design["filter_sram_bytes"],
                 design["ofmap_sram_bytes"], design["bw_bytes_per_cycle"],
                 layer["a_sram_bytes"], layer["a_dram_bytes"], layer["w_bytes"],
                 layer["o_acc_bytes"], layer["o_act_bytes"], design["keep_acts"], out)
    return out


def _reference(layer: dict, design: dict) -> np.ndarray:
    ref = gemm_fold_model_reference(**layer, **design)
    return np.array([ref[f] for f in FIELDS])


def _layer(groups, m, k, n, act=1.0, weight=1.0, dram_share=1.0) -> dict:
    a = groups * m * k * act
    return {"groups": groups, "m": m, "k": k, "n": n, "a_sram_bytes": a,
            "a_dram_bytes": a * dram_share, "w_bytes": groups * k * n * weight,
            "o_acc_bytes": 4.0, "o_act_bytes": act}


def _design(rows, cols, dataflow, cap_i=65536.0, cap_f=65536.0, cap_o=65536.0,
            bw=16.0, keep_acts=False) -> dict:
    return {"rows": rows, "cols": cols, "dataflow": dataflow, "ifmap_sram_bytes": cap_i,
            "filter_sram_bytes": cap_f, "ofmap_sram_bytes": cap_o, "bw_bytes_per_cycle": bw,
            "keep_acts": keep_acts}


EDGE_CASES = [
    (_layer(1, 1, 1, 1), _design(1, 1, "os")),
    (_layer(1, 1, 1, 1), _design(8, 8, "ws")),
    (_layer(1, 7, 13, 29), _design(3, 5, "is", bw=0.5)),
    (_layer(5, 9, 9, 1, dram_share=0.2), _design(32, 32, "ws")),
    (_layer(64, 9, 3, 4), _design(16, 16, "is", cap_o=64.0)),
    (_layer(3, 40, 50, 60), _design(7, 5, "os", cap_i=8.0, cap_f=8.0, cap_o=8.0, bw=1.0)),
    (_layer(1, 300, 17, 33), _design(16, 4, "ws", cap_o=100.0)),
    (_layer(1, 33, 70, 9, act=0.5, weight=0.5), _design(16, 16, "is", bw=1e9)),
    (_layer(2, 64, 64, 64), _design(64, 64, "os", cap_i=1e12, cap_f=1e12, cap_o=1e12)),
    (_layer(1, 50, 30, 20), _design(8, 8, "ws", cap_i=1e5, keep_acts=True)),
    (_layer(1, 50, 30, 20), _design(8, 8, "is", cap_i=2500.0, keep_acts=True)),
]


@pytest.mark.parametrize(("layer", "design"), EDGE_CASES)
def test_gemm_kernel_equals_reference_on_edge_cases(layer, design):
    """The class-walking kernel equals the fold-by-fold reference on edge cases."""
    np.testing.assert_allclose(_kernel(layer, design), _reference(layer, design), rtol=1e-9)


@settings(max_examples=150, deadline=None)
@given(groups=st.sampled_from([1, 1, 2, 3, 16]), m=st.integers(1, 90), k=st.integers(1, 90),
       n=st.integers(1, 90), rows=st.integers(1, 24), cols=st.integers(1, 24),
       dataflow=st.sampled_from(DATAFLOWS),
       caps=st.tuples(*[st.sampled_from([16.0, 500.0, 4096.0, 1e9])] * 3),
       bw=st.sampled_from([0.25, 3.0, 64.0]), dram_share=st.floats(0.1, 1.0),
       keep_acts=st.booleans())
def test_gemm_kernel_equals_reference(groups, m, k, n, rows, cols, dataflow, caps, bw,
                                      dram_share, keep_acts):
    """The kernel equals the reference for random layers, arrays, SRAMs and bandwidths."""
    sr, sc, t = {"os": (m, n, k), "ws": (k, n, m), "is": (k, m, n)}[dataflow]
    assume(groups * -(-sr // rows) * -(-sc // cols) * t <= 20_000)  # keeps the reference fast
    layer = _layer(groups, m, k, n, dram_share=dram_share)
    design = _design(rows, cols, dataflow, *caps, bw=bw, keep_acts=keep_acts)
    np.testing.assert_allclose(_kernel(layer, design), _reference(layer, design), rtol=1e-9)


@pytest.mark.parametrize(("n", "full", "total"), [(1, 5, 3), (2, 4, 7), (3, 4, 12), (9, 2, 17)])
def test_loop_classes_equal_the_enumerated_tiles(n, full, total):
    """_classes groups a loop's tiles into first/middle/last with the right counts."""
    cnt, ext = np.zeros(3, np.int64), np.zeros(3, np.int64)
    fst, lst = np.zeros(3, np.bool_), np.zeros(3, np.bool_)
    k = _classes(n, full, total, cnt, ext, fst, lst)
    tiles = _tiles(total, full) if n > 1 else [total]
    expanded = [(int(e), bool(f), bool(la)) for c, e, f, la in
                zip(cnt[:k], ext[:k], fst[:k], lst[:k], strict=True) for _ in range(c)]
    assert expanded == [(t, i == 0, i == len(tiles) - 1) for i, t in enumerate(tiles)]


@pytest.mark.parametrize("df", range(3))
def test_reuse_rule_equals_reference_footprint(df):
    """_reuses decides operand reuse as the reference's footprint rule does."""
    from accelerators.systolic._kernels import LOOP_RANKS
    from accelerators.systolic._reference import LOOP_ORDER
    order = LOOP_ORDER[DATAFLOWS[df]]
    tile, full = {"r": 4, "c": 8, "t": 16}, {"r": 40, "c": 80, "t": 160}
    t_arr, f_arr = np.array([4, 8, 16]), np.array([40, 80, 160])
    for (a, b), cap in itertools.product(itertools.permutations(range(3), 2), [100, 5000, 1e6]):
        free = 3 - a - b
        got = _reuses(a, b, free, LOOP_RANKS[df], t_arr, f_arr, 1.5, 2, cap)
        want = _footprint_fits(("rct"[a], "rct"[b]), "rct"[free], order, tile, full, 1.5, 2,
                               cap)
        assert got == want


def _random_designs(base: SystolicConfig, n: int, seed: int = 0) -> SystolicDesigns:
    rng = np.random.default_rng(seed)
    return SystolicDesigns.from_arrays(
        base, rows=rng.integers(1, 200, n), cols=rng.integers(1, 200, n),
        dataflow=rng.integers(0, 3, n), ifmap_sram_bytes=rng.integers(1024, 8 * MIB, n),
        filter_sram_bytes=rng.integers(1024, 8 * MIB, n),
        ofmap_sram_bytes=rng.integers(1024, 8 * MIB, n),
        dram_bw_bytes_per_s=rng.uniform(1e9, 1e11, n), freq_hz=rng.uniform(2e8, 2e9, n))


@pytest.fixture(scope="module")
def net():
    graph = mobilenet_v2(image_size=64).map_ops(lambda op: op.replace(precision=INT8))
    return graph.map_ops(lambda op: op.replace(sparsity=Sparsity(act_density=0.6)))


def test_points_and_graph_kernels_equal_per_point_calls(net):
    """_points_kernel and _graph_kernel equal _gemm_kernel called point by point."""
    d = _random_designs(SystolicConfig(keep_activations_on_chip=True), 12)
    works = [gemm_work(d.base, op) for op in net.ops if is_mac_op(op)]
    caps = [np.asarray(c, np.float64) for c in d.sram_bytes]
    graph_out = np.empty((len(d), N_FIELDS))
    _graph_kernel(_layer_table(works), True, d.rows, d.cols, d.dataflow, *caps,
                  d.bw_bytes_per_cycle, graph_out)
    total = np.zeros((len(d), N_FIELDS))
    for w in works:
        out = np.empty((len(d), N_FIELDS))
        _points_kernel(w.groups, w.m, np.array(w.k_eff), w.n, w.a_sram_bytes, w.a_dram_bytes,
                       np.array(w.w_bytes), w.o_acc_bytes, w.o_act_bytes, True, d.rows,
                       d.cols, d.dataflow, *caps, d.bw_bytes_per_cycle, out)
        for i in range(len(d)):
            row = np.empty(N_FIELDS)
            df = int(d.dataflow[i])
            _gemm_kernel(w.groups, w.m, w.k_eff[df], w.n, df, d.rows[i], d.cols[i], caps[0][i],
                         caps[1][i], caps[2][i], d.bw_bytes_per_cycle[i], w.a_sram_bytes,
                         w.a_dram_bytes, w.w_bytes[df], w.o_acc_bytes, w.o_act_bytes, True,
                         row)
            np.testing.assert_array_equal(out[i], row)
        total += out
    np.testing.assert_allclose(graph_out, total, rtol=1e-12)


@pytest.mark.parametrize("keep", [False, True])
@pytest.mark.parametrize("mode", ["realistic", "scalesim"])
def test_sweep_costs_equal_op_cost_at_every_point(mode, keep, net):
    """sweep_costs gives, field by field, what op_cost gives at each design point."""
    base = SystolicConfig(mode=mode, formats="int8:1,int4:2", keep_activations_on_chip=keep)
    d = _random_designs(base, 6, seed=1)
    fields = ("cycles", "compute_cycles", "stall_cycles", "latency_s", "dram_read_bytes",
              "dram_write_bytes", "sram_read_bytes", "sram_write_bytes", "macs_executed",
              "macs_gated", "macs_skipped",
              "utilization")
    energies = ("compute_j", "sram_j", "dram_j")
    for op in net.ops[:40]:
        swept = sweep_costs(op, d)
        for i in range(len(d)):
            cost = d.config(i).op_cost(op)
            for f in fields:
                assert swept[f][i] == pytest.approx(getattr(cost, f), rel=1e-12, abs=1e-12)
            for f in energies:
                assert swept[f][i] == pytest.approx(getattr(cost.energy, f), rel=1e-12)


@pytest.mark.parametrize("keep", [False, True])
@pytest.mark.parametrize("mode", ["realistic", "scalesim"])
def test_evaluate_designs_equals_analytic_report(mode, keep):
    """evaluate_designs equals analytic_report at each point (idle power too): latency, energy."""
    graph = resnet18(image_size=64).map_ops(lambda op: op.replace(precision=INT8))
    base = SystolicConfig(mode=mode, keep_activations_on_chip=keep, idle_power_w=1.1)
    d = _random_designs(base, 8, seed=2)
    out = evaluate_designs(graph, d)
    for i in range(len(d)):
        report = analytic_report(graph, d.config(i))
        assert out["latency_s"][i] == pytest.approx(report.latency_s, rel=1e-12)
        assert out["energy_j"][i] == pytest.approx(report.energy_j, rel=1e-12)
        assert out["area_mm2"][i] == pytest.approx(report.area_mm2, rel=1e-12)
        assert out["throughput_per_s"][i] == pytest.approx(report.throughput_per_s, rel=1e-12)


def test_sparse_ws_sweep_matches_op_cost():
    """With 2:4 support (WS only) the sweep skips what op_cost skips: equal and faster."""
    graph = resnet18(image_size=32).map_ops(
        lambda op: op.replace(precision=INT8, sparsity=Sparsity.n_m(2, 4)))
    sizes = {"rows": [16, 64, 128], "cols": [16, 32, 128]}
    out = evaluate_designs(graph, SystolicDesigns.from_arrays(
        SystolicConfig(nm_sparsity="2:4"), **sizes))
    dense = evaluate_designs(graph, SystolicDesigns.from_arrays(SystolicConfig(), **sizes))
    assert np.all(out["compute_cycles"] < dense["compute_cycles"])
    d = SystolicDesigns.from_arrays(SystolicConfig(nm_sparsity="2:4"), **sizes)
    for i in range(3):
        report = analytic_report(graph, d.config(i))
        assert out["latency_s"][i] == pytest.approx(report.latency_s, rel=1e-12)
        assert out["energy_j"][i] == pytest.approx(report.energy_j, rel=1e-12)


def test_designs_round_trip_configs_and_records():
    """from_configs and from_records rebuild the same points; config(i) returns them."""
    configs = [SystolicConfig(rows=r, cols=c, dataflow=df)
               for r, c, df in ((8, 16, "os"), (32, 32, "ws"), (64, 8, "is"))]
    d = SystolicDesigns.from_configs(configs)
    assert [d.config(i) for i in range(3)] == configs
    records = [{"rows": 8, "cols": 16, "dataflow": "os"}, {"rows": 32, "cols": 32},
               {"rows": 64, "cols": 8, "dataflow": "is"}]
    again = SystolicDesigns.from_records(SystolicConfig(dataflow="ws"), records)
    assert [again.config(i) for i in range(3)] == configs


@pytest.mark.parametrize(("arrays", "message"), [
    ({"depth": [1]}, r"unknown design field\(s\) \['depth'\]"),
    ({"rows": [0, 4]}, "rows must be integers >= 1"),
    ({"rows": [1.5]}, "rows must be integers >= 1"),
    ({"dataflow": ["os", "xs"]}, "dataflow must be one of"),
    ({"freq_hz": [1e9, -1.0]}, "freq_hz must be numbers > 0"),
    ({"rows": [1, 2], "cols": [1, 2, 3]}, "design arrays must broadcast together"),
])
def test_design_arrays_are_validated(arrays, message):
    """Bad design arrays raise ValueError naming the field."""
    with pytest.raises(ValueError, match=message):
        SystolicDesigns.from_arrays(SystolicConfig(), **arrays)


def test_designs_reject_sparsity_off_weight_stationary():
    """A base with N:M support cannot sweep other dataflows, as the config cannot."""
    with pytest.raises(ValueError, match="nm_sparsity is supported only with dataflow 'ws'"):
        SystolicDesigns.from_arrays(SystolicConfig(nm_sparsity="2:4"), dataflow=["ws", "os"])
    with pytest.raises(ValueError, match="configs\\[1\\] differs from configs\\[0\\]"):
        SystolicDesigns.from_configs([SystolicConfig(), SystolicConfig(node_nm=7)])
