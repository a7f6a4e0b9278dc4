"""The SCALE-Sim mode of the systolic model: golden SCALE-Sim 3.0.0 figures, reference, drivers."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelerators.systolic._scalesim import (
    COUNT_FIELDS,
    DATAFLOWS,
    ScaleSimLayer,
    _scalesim_kernel,
    scalesim_layer,
    scalesim_layer_reference,
    scalesim_sweep,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
LAYER_COLUMNS = ["ifmap_h", "ifmap_w", "filt_h", "filt_w", "channels", "num_filters", "stride"]

EDGE_LAYERS = [
    ScaleSimLayer.from_gemm(1, 1, 1),
    ScaleSimLayer.from_gemm(7, 13, 29),
    ScaleSimLayer.from_gemm(33, 17, 5),
    ScaleSimLayer(ifmap_h=12, ifmap_w=10, filt_h=3, filt_w=3, channels=5, num_filters=7),
    ScaleSimLayer(ifmap_h=15, ifmap_w=11, filt_h=5, filt_w=2, channels=3, num_filters=6,
                  stride=3),
    ScaleSimLayer(ifmap_h=5, ifmap_w=5, filt_h=5, filt_w=5, channels=2, num_filters=3),
    ScaleSimLayer(ifmap_h=9, ifmap_w=9, filt_h=1, filt_w=1, channels=16, num_filters=130),
]
EDGE_ARRAYS = [(1, 1), (1, 7), (7, 1), (3, 5), (8, 8), (16, 64), (128, 128)]


def _sweep_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Model counts for every fixture row, one kernel call per distinct layer."""
    parts = []
    for key, group in frame.groupby(LAYER_COLUMNS, sort=False):
        layer = ScaleSimLayer(**dict(zip(LAYER_COLUMNS, (int(v) for v in key), strict=True)))
        sweep = scalesim_sweep(layer, group["rows"].to_numpy(), group["cols"].to_numpy(),
                               group["dataflow"].tolist())
        part = pd.DataFrame(sweep.values, columns=list(COUNT_FIELDS), index=group.index)
        part["ofmap_h"], part["ofmap_w"] = layer.ofmap_h, layer.ofmap_w
        part["mapping_efficiency"] = sweep.mapping_efficiency
        part["compute_utilization"] = sweep.compute_utilization
        parts.append(part)
    return pd.concat(parts).loc[frame.index]


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "scalesim_reference.csv")


def test_fixture_covers_networks_arrays_and_dataflows(reference):
    """The golden table holds every ResNet-18/50 conv layer on each main array and dataflow."""
    for workload, layers in (("resnet18", 20), ("resnet50", 53)):
        rows = reference[reference["workload"] == workload]
        assert rows["layer"].nunique() == layers
        assert len(rows) == layers * 4 * 3
    sizes = set(zip(reference["rows"], reference["cols"], strict=True))
    assert {(8, 8), (32, 32), (128, 128), (16, 64), (1, 1)} <= sizes
    assert set(reference["dataflow"]) == set(DATAFLOWS)


def test_kernel_equals_scalesim_on_every_fixture_row(reference):
    """Every integer count equals SCALE-Sim's, on every row of the golden table."""
    model = _sweep_rows(reference)
    columns = [*COUNT_FIELDS, "ofmap_h", "ofmap_w"]
    mismatches = (model[columns].to_numpy() != reference[columns].to_numpy()).any(axis=1)
    assert int(mismatches.sum()) == 0, reference[mismatches].head()


def test_rates_equal_scalesim_fold_averages(reference):
    """Mapping efficiency and utilisation equal SCALE-Sim's per-fold averages to rounding."""
    model = _sweep_rows(reference)
    for name in ("mapping_efficiency", "compute_utilization"):
        np.testing.assert_allclose(model[name], reference[name], rtol=1e-12, atol=0)


def test_kernel_equals_scalesim_full_runs():
    """Stall-free cycles and SRAM counts equal SCALE-Sim's reports from its full runs."""
    runs = pd.read_csv(FIXTURES / "scalesim_full_runs.csv")
    model = _sweep_rows(runs)
    assert (runs["stall_cycles"] == 0).all()
    np.testing.assert_array_equal(model["compute_cycles"], runs["total_cycles"])
    for name in ("ifmap_sram_reads", "filter_sram_reads", "ofmap_sram_writes"):
        np.testing.assert_array_equal(model[name], runs[name])
    np.testing.assert_allclose(100 * model["mapping_efficiency"], runs["mapping_efficiency_pct"],
                               rtol=1e-12)
    np.testing.assert_allclose(100 * model["compute_utilization"], runs["compute_util_pct"],
                               rtol=1e-12)


@pytest.mark.parametrize("layer", EDGE_LAYERS)
def test_kernel_equals_reference_on_edge_cases(layer):
    """The compiled closed forms equal the fold-by-fold reference, 1x1 and oversized arrays."""
    for (rows, cols), dataflow in itertools.product(EDGE_ARRAYS, DATAFLOWS):
        counts = scalesim_layer(layer.ifmap_h, layer.ifmap_w, layer.filt_h, layer.filt_w,
                                layer.channels, layer.num_filters, layer.stride, rows, cols,
                                dataflow)
        assert counts == scalesim_layer_reference(layer, rows, cols, dataflow)


@settings(max_examples=150, deadline=None)
@given(h=st.integers(1, 24), w=st.integers(1, 24), fh=st.integers(1, 6), fw=st.integers(1, 6),
       ch=st.integers(1, 9), nf=st.integers(1, 40), stride=st.integers(1, 4),
       rows=st.integers(1, 40), cols=st.integers(1, 40), dataflow=st.sampled_from(DATAFLOWS))
def test_kernel_equals_reference_on_random_layers(h, w, fh, fw, ch, nf, stride, rows, cols,
                                                  dataflow):
    """The kernel equals the reference for random layers, arrays and dataflows."""
    layer = ScaleSimLayer(ifmap_h=max(h, fh), ifmap_w=max(w, fw), filt_h=fh, filt_w=fw,
                          channels=ch, num_filters=nf, stride=stride)
    counts = scalesim_sweep(layer, rows, cols, dataflow).point(0)
    assert counts == scalesim_layer_reference(layer, rows, cols, dataflow)


def test_compiled_kernel_equals_its_python_function():
    """The Numba kernel and its interpreted body fill identical tables."""
    rows = np.array([1, 3, 8, 128], dtype=np.int64)
    cols = np.array([1, 7, 8, 16], dtype=np.int64)
    flows = np.array([0, 1, 2, 0], dtype=np.int64)
    compiled = np.empty((4, len(COUNT_FIELDS)), dtype=np.int64)
    interpreted = np.empty_like(compiled)
    _scalesim_kernel(3025, 576, 64, rows, cols, flows, compiled)
    _scalesim_kernel.py_func(3025, 576, 64, rows, cols, flows, interpreted)
    np.testing.assert_array_equal(compiled, interpreted)


def test_vectorised_driver_equals_per_point_calls():
    """One sweep over many arrays and dataflows equals one call per design point."""
    layer = ScaleSimLayer(ifmap_h=56, ifmap_w=56, filt_h=3, filt_w=3, channels=64,
                          num_filters=64)
    rows, cols = np.meshgrid([1, 4, 8, 32, 100, 128], [1, 16, 33, 64, 256])
    for dataflow in DATAFLOWS:
        sweep = scalesim_sweep(layer, rows, cols, dataflow)
        assert len(sweep) == rows.size
        for i, (r, c) in enumerate(zip(rows.ravel(), cols.ravel(), strict=True)):
            assert sweep.point(i) == scalesim_layer(56, 56, 3, 3, 64, 64, 1, int(r), int(c),
                                                    dataflow)


def test_invariants_on_fixture_rows(reference):
    """Cycles cover the MACs (except OS on 1x1), rates lie in (0, 1]."""
    model = _sweep_rows(reference)
    pes = reference["rows"] * reference["cols"]
    one_by_one_os = (pes == 1) & (reference["dataflow"] == "os")
    bound = model["macs"] / pes
    assert (model["compute_cycles"][~one_by_one_os] >= bound[~one_by_one_os]).all()
    for name in ("mapping_efficiency", "compute_utilization"):
        assert ((model[name] > 0) & (model[name] <= 1)).all()


def test_output_stationary_on_one_pe_is_one_cycle_short():
    """On a 1x1 array under OS, SCALE-Sim's trailing -1 leaves cycles = MACs - 1."""
    layer = ScaleSimLayer(ifmap_h=12, ifmap_w=10, filt_h=3, filt_w=3, channels=5, num_filters=7)
    counts = scalesim_sweep(layer, 1, 1, "os").point(0)
    assert counts.compute_cycles == layer.macs - 1
    assert counts.overall_utilization > 1.0


def test_gemm_maps_like_scalesim_mnk_rows():
    """A GEMM M,N,K is the conv SCALE-Sim builds: Sr=M, Sc=N, T=K under OS."""
    counts = scalesim_sweep(ScaleSimLayer.from_gemm(100, 200, 300), 32, 32, "os").point(0)
    assert (counts.sr, counts.sc, counts.t) == (100, 200, 300)
    assert (counts.row_folds, counts.col_folds) == (4, 7)
    assert counts.compute_cycles == 4 * 7 * (300 + 32 + 32 - 2) - 1


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"rows": 0}, "rows must be an integer >= 1, got 0"),
    ({"cols": 2.5}, "cols must be an integer >= 1, got 2.5"),
    ({"dataflow": "rs"}, "dataflow must be one of"),
    ({"filt_h": 9}, "filt_h must be <= ifmap_h=8, got 9"),
    ({"stride": 0}, "stride must be an integer >= 1, got 0"),
])
def test_invalid_inputs_raise_named_errors(kwargs, message):
    """Bad sizes, strides or dataflows raise a ValueError naming the field and its bound."""
    args = {"ifmap_h": 8, "ifmap_w": 8, "filt_h": 3, "filt_w": 3, "channels": 4,
            "num_filters": 5, "stride": 1, "rows": 4, "cols": 4, "dataflow": "ws"} | kwargs
    with pytest.raises(ValueError, match=message):
        scalesim_layer(**args)


def test_sweep_rejects_non_integer_arrays():
    """A sweep with zero or fractional array sizes raises a ValueError naming the field."""
    layer = ScaleSimLayer.from_gemm(4, 4, 4)
    with pytest.raises(ValueError, match="rows must be integers >= 1"):
        scalesim_sweep(layer, np.array([4, 0]), 4, "os")
    with pytest.raises(ValueError, match="cols must be integers >= 1"):
        scalesim_sweep(layer, 4, np.array([4.0]), "os")


def test_sweep_accepts_names_or_codes_and_rejects_unknown_ones():
    """Dataflows given as names or as codes 0..2 give the same sweep; others raise."""
    layer = ScaleSimLayer.from_gemm(30, 20, 10)
    by_name = scalesim_sweep(layer, [4, 8, 16], 8, ["os", "WS", "is"])
    by_code = scalesim_sweep(layer, [4, 8, 16], 8, np.array([0, 1, 2]))
    np.testing.assert_array_equal(by_name.values, by_code.values)
    with pytest.raises(ValueError, match="dataflow must be one of"):
        scalesim_sweep(layer, 4, 4, np.array([0, 3]))
    with pytest.raises(ValueError, match="dataflow must be one of"):
        scalesim_sweep(layer, 4, 4, ["os", "rs"])
