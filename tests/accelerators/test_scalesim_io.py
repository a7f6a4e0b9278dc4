"""Readers of SCALE-Sim topologies and configurations, and the SCALE-Sim mode on what they read."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from accelerators.systolic import SystolicConfig, read_scalesim_cfg, read_topology_csv
from accelerators.systolic._scalesim import scalesim_layer
from hwsim.graph import OpKind, SparsityPattern
from hwsim.units import KIB

INPUTS = Path(__file__).resolve().parents[1] / "fixtures" / "scalesim_inputs"


def _csv_rows(name: str) -> list[list[str]]:
    lines = (INPUTS / name).read_text().splitlines()[1:]
    return [[c.strip() for c in line.split(",")[:-1]] for line in lines if line.strip()]


def test_conv_topology_reads_every_row_as_input_and_conv():
    """Each conv row becomes its own input op and a conv2d with the row's geometry."""
    graph = read_topology_csv(INPUTS / "resnet18.csv")
    convs = [op for op in graph.ops if op.kind is OpKind.CONV2D]
    assert graph.name == "resnet18"
    assert len(convs) == 20
    assert len(graph) == 40
    first = graph["Conv1"]
    assert first.in_shapes == ((1, 3, 224, 224),)
    assert first.weight_shape == (64, 3, 7, 7)
    assert first.stride == (2, 2)


def test_conv_outputs_follow_scalesim_ceil_rule():
    """Outputs are SCALE-Sim's ceil((H - R) / S) + 1 (110 for the 224, 7x7/2 stem)."""
    graph = read_topology_csv(INPUTS / "resnet18.csv")
    for name, h, _, r, _, _, _, s in _csv_rows("resnet18.csv"):
        expected = math.ceil((int(h) - int(r)) / int(s)) + 1
        assert graph[name].out_shape[2] == expected
    assert graph["Conv1"].out_shape == (1, 64, 110, 110)
    assert graph["Conv2_1a"].padding == (0, 0)


def test_topology_text_and_path_give_the_same_graph():
    """CSV text (a string with a newline) reads like the file it came from."""
    text = (INPUTS / "resnet18.csv").read_text()
    assert read_topology_csv(text).ops == read_topology_csv(INPUTS / "resnet18.csv").ops


def test_gemm_topology_reads_m_n_k_and_sparsity():
    """GEMM rows are M, N, K: an M x K input times a K x N weight; 'N:M' sets sparsity."""
    graph = read_topology_csv(INPUTS / "gemm.csv")
    qkv = graph["vit_qkv"]
    assert qkv.kind is OpKind.MATMUL
    assert qkv.gemm == (1, 197, 768, 2304)
    sparse = graph["gemm_sparse"].sparsity
    assert sparse.pattern is SparsityPattern.NM
    assert (sparse.n, sparse.m) == (2, 4)


def test_depthwise_rows_become_grouped_convs():
    """A 'DP' row is one group per channel, as SCALE-Sim splits it into per-channel layers."""
    graph = read_topology_csv(INPUTS / "mobilenet_dw.csv")
    dw = graph["DP_Conv2"]
    assert dw.groups == 32
    assert dw.weight_shape == (32, 1, 3, 3)
    assert dw.out_shape == (1, 32, 112, 112)
    assert graph["PW_Conv2"].groups == 1


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
@pytest.mark.parametrize(("rows", "cols"), [(32, 32), (128, 128), (16, 64)])
def test_scalesim_mode_equals_driver_on_resnet18_rows(dataflow, rows, cols):
    """SCALE-Sim mode's cycles equal the SCALE-Sim driver called with each CSV row."""
    graph = read_topology_csv(INPUTS / "resnet18.csv")
    config = SystolicConfig(rows=rows, cols=cols, dataflow=dataflow, mode="scalesim")
    for name, *values in _csv_rows("resnet18.csv"):
        counts = scalesim_layer(*(int(v) for v in values), rows, cols, dataflow)
        cost = config.op_cost(graph[name])
        assert cost.compute_cycles == counts.compute_cycles
        assert cost.stall_cycles == 0
        assert cost.sram_read_bytes == pytest.approx(
            counts.ifmap_sram_reads + counts.filter_sram_reads + graph[name].output_bytes)


def test_scalesim_mode_depthwise_is_channels_times_one_channel_layer():
    """A depthwise row costs its channel count times one single-channel SCALE-Sim layer."""
    graph = read_topology_csv(INPUTS / "mobilenet_dw.csv")
    config = SystolicConfig(rows=32, cols=32, dataflow="ws", mode="scalesim")
    one = scalesim_layer(114, 114, 3, 3, 1, 1, 1, 32, 32, "ws")
    assert config.op_cost(graph["DP_Conv2"]).compute_cycles == 32 * one.compute_cycles


@pytest.mark.parametrize(("text", "message"), [
    ("Layer name, IFMAP Height\nConv1, 224, 224, 7, 7, 3, x, 2,\n",
     "line 2: Num Filter must be an integer >= 1, got 'x'"),
    ("Layer name, IFMAP Height\nConv1, 224, 224, 7, 7,\n", "line 2: expected 8 fields"),
    ("Layer name, IFMAP Height\nA, 4, 4, 1, 1, 1, 1, 1,\n\nA, 4, 4, 1, 1, 1, 1, 1,\n",
     "line 4: Layer name 'A' repeats line 2"),
    ("Layer name, IFMAP Height\nA, 4, 4, 5, 1, 1, 1, 1,\n",
     "line 2: Filter Height 5 exceeds the input size 4"),
    ("Layer, M, N, K,\ng, 4, 0, 4,\n", "line 2: N must be an integer >= 1, got '0'"),
    ("Layer, M, N, K,\ng, 4, 4, 4, 3-4,\n", "line 2: Sparsity must be 'N:M', got '3-4'"),
    ("Layer, M, N, K,\n\n", "line 3: the topology has no layer rows"),
])
def test_topology_errors_name_line_and_field(text, message):
    """Malformed topology rows raise ValueError naming the line and the field."""
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        read_topology_csv(text)


def test_cfg_reads_scalesim_example():
    """The example configuration gives a 32x32 OS design with 64 KiB SRAMs and 10 B/cycle."""
    config = read_scalesim_cfg(INPUTS / "scale.cfg")
    assert (config.rows, config.cols, config.dataflow.value) == (32, 32, "os")
    assert config.ifmap_sram_bytes == config.filter_sram_bytes == 64 * KIB
    assert config.name == "example_32x32_os"
    assert config.mode.value == "scalesim"
    assert config.dram_bw_bytes_per_cycle == pytest.approx(10.0)
    assert config.nm_sparsity == ()


def test_cfg_reads_bandwidth_list_sparsity_and_mode():
    """A bandwidth list gives its minimum; SparsitySupport gives n:BlockSize for n <= M/2."""
    config = read_scalesim_cfg(INPUTS / "google_sparse.cfg", mode="realistic", freq_hz=7e8)
    assert config.mode.value == "realistic"
    assert config.freq_hz == 7e8
    assert config.dram_bw_bytes_per_s == pytest.approx(10 * 7e8)
    assert config.nm_sparsity == ((1, 8), (2, 8), (3, 8), (4, 8))
    assert config.ofmap_sram_bytes == 2048 * KIB


_GOOD = (INPUTS / "scale.cfg").read_text()


@pytest.mark.parametrize(("text", "message"), [
    (_GOOD.replace("ArrayHeight:    32", "ArrayHeight:    thirty"),
     "line 5: ArrayHeight must be an integer >= 1, got 'thirty'"),
    (_GOOD.replace("Dataflow : os", "Dataflow : xs"),
     "line 14: Dataflow must be one of 'os', 'ws', 'is', got 'xs'"),
    (_GOOD.replace("OfmapSramSzkB:   64\n", ""),
     r"line 4: \[architecture_presets\] has no OfmapSramSzkB"),
    (_GOOD.replace("Bandwidth : 10", "Bandwidth : ten"), "line 13: Bandwidth must be integers"),
    (_GOOD.replace("MemoryBanks:   1", "MemoryBanks 1"),
     "line 15: expected 'key: value', got 'MemoryBanks 1'"),
    ("ArrayHeight: 4\n[architecture_presets]\n", "line 1: ArrayHeight appears before any"),
    ("[general]\nrun_name = x\n", r"line 1: the config has no \[architecture_presets\] section"),
    (_GOOD + "[sparsity]\nSparsitySupport : true\n",
     "line 23: SparsitySupport needs Dataflow ws, got 'os'"),
])
def test_cfg_errors_name_line_and_field(text, message):
    """Malformed configurations raise ValueError naming the line and the field."""
    with pytest.raises(ValueError, match=message):
        read_scalesim_cfg(text)
