"""The systolic-array model: config validation, presets, cost invariants, precision, sparsity."""

from __future__ import annotations

import dataclasses
import math

import pytest

from accelerators.systolic import PRESETS, TPU_V1, SystolicConfig
from accelerators.systolic.formats import executed_format
from accelerators.systolic.physical import area_breakdown_mm2
from hwsim.accelerator import Accelerator, analytic_report
from hwsim.graph import Op, OpKind, Precision, Sparsity, SparsityPattern
from hwsim.units import MIB
from workloads.builder import GraphBuilder
from workloads.zoo import resnet18, resnet50

INT8 = Precision.integer(weight_bits=8, act_bits=8)
INT4 = Precision.integer(weight_bits=4, act_bits=4)


def _int8(graph):
    return graph.map_ops(lambda op: op.replace(precision=INT8))


@pytest.fixture(scope="module")
def net():
    """ResNet-18 at int8, batch 2 (every op kind of a CNN, grouped and strided convs)."""
    return _int8(resnet18(batch=2, image_size=64))


def _conv(c_in=256, c_out=256, hw=14, k=3, precision=INT8, sparsity=None, groups=1) -> Op:
    b = GraphBuilder("one", precision)
    x = b.input((1, c_in, hw, hw))
    b.conv2d(x, c_out, k, padding=k // 2, groups=groups, name="conv")
    op = b.build()["conv"]
    return op.replace(sparsity=sparsity) if sparsity else op


CONFIGS = [
    SystolicConfig(rows=r, cols=c, dataflow=df, ifmap_sram_bytes=s, filter_sram_bytes=s,
                   ofmap_sram_bytes=s, mode=mode)
    for r, c in ((128, 128), (32, 32), (16, 64)) for df in ("os", "ws", "is")
    for s in (64 * 1024, 8 * MIB) for mode in ("realistic", "scalesim")
]


# ---- configuration -------------------------------------------------------------------------
@pytest.mark.parametrize(("changes", "message"), [
    ({"rows": 0}, "rows must be an integer >= 1, got 0"),
    ({"cols": 2.5}, "cols must be an integer >= 1, got 2.5"),
    ({"dataflow": "xs"}, "dataflow must be one of 'os', 'ws', 'is', got 'xs'"),
    ({"mode": "fast"}, "mode must be one of 'realistic', 'scalesim', got 'fast'"),
    ({"freq_hz": -1.0}, r"freq_hz must be a number in \(0, inf\), got -1.0"),
    ({"freq_hz": float("inf")}, r"freq_hz must be a number in \(0, inf\), got inf"),
    ({"dram_bw_bytes_per_s": 0}, r"dram_bw_bytes_per_s must be a number in \(0, inf\)"),
    ({"ofmap_sram_bytes": 0}, "ofmap_sram_bytes must be an integer >= 1, got 0"),
    ({"dram_type": "sdram"}, "dram_type must be one of lpddr4, ddr3"),
    ({"node_nm": 3}, "node_nm must be a number in 5..180 nm, got 3"),
    ({"formats": (("int3", 1.0),)}, "format must be one of int4, int8"),
    ({"formats": "int8:0"}, "formats multiplier of int8 must be a number > 0, got '0'"),
    ({"formats": "int8:1,int8:2"}, "formats lists 'int8' twice"),
    ({"formats": ()}, "formats must list at least one"),
    ({"nm_sparsity": "3:2"}, "nm_sparsity entry must be integers 1 <= n < m, got '3:2'"),
    ({"nm_sparsity": "2:4", "dataflow": "os"}, "nm_sparsity is supported only with dataflow"),
    ({"gated_mac_energy_fraction": 1.5}, r"gated_mac_energy_fraction must be a number in \[0"),
    ({"area_overhead_fraction": 1.0}, "area_overhead_fraction must be a number in"),
    ({"idle_power_w": -1.0}, r"idle_power_w must be a number in \[0, inf\), got -1.0"),
    ({"zero_gating": "yes"}, "zero_gating must be a bool, got 'yes'"),
    ({"keep_activations_on_chip": 1}, "keep_activations_on_chip must be a bool, got 1"),
])
def test_config_errors_name_field_value_and_range(changes, message):
    """Invalid fields raise ValueError naming the field, the value and the allowed range."""
    with pytest.raises(ValueError, match=message):
        SystolicConfig(**changes)


def test_config_normalises_text_fields():
    """Formats and N:M patterns given as text become tuples; names are case-insensitive."""
    config = SystolicConfig(formats="INT8:1, int4:2", nm_sparsity="2:4,1:4", dataflow="WS",
                            dram_type="HBM2")
    assert config.formats == (("int8", 1.0), ("int4", 2.0))
    assert config.nm_sparsity == ((2, 4), (1, 4))
    assert config.dram_type == "hbm2"


def test_config_is_an_accelerator_with_array_and_vector_engines(net):
    """The config satisfies the protocol; MAC ops run on "array", the rest on "vector"."""
    config = SystolicConfig()
    assert isinstance(config, Accelerator)
    assert [e.name for e in config.resources().engines] == ["array", "vector"]
    assert config.resources().double_buffered
    engines = {op.kind: config.engine_for(op) for op in net.ops}
    assert engines[OpKind.CONV2D] == "array"
    assert engines[OpKind.MATMUL] == "array"
    assert engines[OpKind.NORM] == "vector"
    assert engines[OpKind.POOL] == "vector"


# ---- presets --------------------------------------------------------------------------------
def test_presets_are_keyed_by_their_names():
    """PRESETS maps each CLI name to a config carrying that name."""
    assert set(PRESETS) == {"tpu-v1", "scalesim-32x32", "scalesim-google", "edge-tpu"}
    assert all(config.name == key for key, config in PRESETS.items())


def test_tpu_v1_peak_matches_published_92_tops():
    """TPU v1: 65,536 MACs at 700 MHz are 92 int8 TOPS (Jouppi et al. 2017)."""
    assert 2 * TPU_V1.peak_macs_per_s == pytest.approx(91.75e12, rel=1e-3)
    assert TPU_V1.onchip_bytes == 24 * MIB + 256 * 1024 + 4 * MIB


def test_tpu_v1_area_is_calibrated_to_the_published_floorplan():
    """TPU v1 die under 331 mm^2 with the matrix unit ~24% and the unified buffer ~29%."""
    parts = area_breakdown_mm2(TPU_V1)
    assert parts["total"] == pytest.approx(TPU_V1.area_mm2)
    assert parts["total"] < 331
    assert parts["array"] / parts["total"] == pytest.approx(0.24, abs=0.03)
    assert parts["ifmap_sram"] / parts["total"] == pytest.approx(0.29, abs=0.05)


def test_tpu_v1_power_on_resnet50_is_near_the_measured_40_w():
    """TPU v1 draws 28 W idle and 40 W busy (Jouppi et al. 2017, Table 2): static power is
    the measured idle, and an int8 ResNet-50 averages within 25% of the busy figure and
    under the 75 W TDP."""
    assert TPU_V1.static_power_w == 28.0
    report = analytic_report(_int8(resnet50()), TPU_V1)
    assert report.avg_power_w == pytest.approx(40.0, rel=0.25)
    assert report.avg_power_w < 75.0


def test_idle_power_replaces_smaller_leakage_only():
    """idle_power_w is the static power when above the modelled leakage, else ignored."""
    leak = SystolicConfig().static_power_w
    assert dataclasses.replace(SystolicConfig(), idle_power_w=leak / 2).static_power_w == leak
    assert dataclasses.replace(SystolicConfig(), idle_power_w=5.0).static_power_w == 5.0


def test_area_and_leakage_grow_with_array_and_sram():
    """More PEs or more SRAM never shrink the area or the leakage."""
    small = SystolicConfig(rows=32, cols=32)
    for bigger in (dataclasses.replace(small, rows=64), dataclasses.replace(small, cols=64),
                   dataclasses.replace(small, ifmap_sram_bytes=64 * MIB)):
        assert bigger.area_mm2 > small.area_mm2
        assert bigger.static_power_w > small.static_power_w


# ---- invariants -----------------------------------------------------------------------------
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.rows}x{c.cols}-{c.dataflow}"
                         f"-{c.ifmap_sram_bytes}-{c.mode}")
def test_cycles_bound_utilization_and_energy_additivity(config, net):
    """cycles >= MACs / peak, 0 <= utilization <= 1, op energies sum to the report's."""
    total = 0.0
    for op in net.ops:
        cost = config.op_cost(op)
        assert cost.cycles == pytest.approx(cost.compute_cycles + cost.stall_cycles)
        assert cost.compute_cycles >= op.macs / (config.rows * config.cols) - 1e-9
        assert 0.0 <= cost.utilization <= 1.0
        assert cost.macs_executed + cost.macs_gated + cost.macs_skipped == pytest.approx(op.macs)
        total += cost.energy_j
    report = analytic_report(net, config)
    assert report.energy_j - report.energy.static_j == pytest.approx(total, rel=1e-12)
    assert report.energy.static_j == pytest.approx(config.static_power_w * report.latency_s)


def test_handworked_weight_stationary_layer():
    """A 1x1 conv 64->64 on 56x56 (WS, 128x128): one fold of 3136 rows + fill 2*64+64-2."""
    b = GraphBuilder("one", INT8)
    b.conv2d(b.input((1, 64, 56, 56)), 64, 1, name="conv")
    op = b.build()["conv"]
    config = SystolicConfig(rows=128, cols=128, dataflow="ws", dram_bw_bytes_per_s=1e18)
    cost = config.op_cost(op)
    assert cost.compute_cycles == 3136 + 2 * 64 + 64 - 2
    assert cost.dram_read_bytes == 56 * 56 * 64 + 64 * 64
    assert cost.dram_write_bytes == 56 * 56 * 64
    assert cost.utilization == pytest.approx(op.macs / (128 * 128 * 3326))


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_more_bandwidth_never_adds_stalls(dataflow, net):
    """Raising the DRAM bandwidth never raises any op's stall cycles."""
    prev = None
    for bw in (1e9, 4e9, 16e9, 64e9, 1e12):
        config = SystolicConfig(rows=32, cols=32, dataflow=dataflow, dram_bw_bytes_per_s=bw,
                                ifmap_sram_bytes=32 * 1024, filter_sram_bytes=32 * 1024,
                                ofmap_sram_bytes=32 * 1024)
        stalls = [config.op_cost(op).stall_cycles for op in net.ops]
        if prev is not None:
            assert all(s <= p + 1e-9 for s, p in zip(stalls, prev, strict=True))
        prev = stalls


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
@pytest.mark.parametrize("field", ["ifmap_sram_bytes", "filter_sram_bytes", "ofmap_sram_bytes"])
def test_bigger_sram_never_more_dram_traffic(dataflow, field, net):
    """Growing any SRAM never raises any op's DRAM bytes."""
    prev = None
    for size in (1024, 16 * 1024, 256 * 1024, 4 * MIB, 64 * MIB):
        config = dataclasses.replace(
            SystolicConfig(rows=32, cols=32, dataflow=dataflow, ifmap_sram_bytes=16 * 1024,
                           filter_sram_bytes=16 * 1024, ofmap_sram_bytes=16 * 1024),
            **{field: size})
        traffic = [config.op_cost(op).dram_bytes for op in net.ops]
        if prev is not None:
            assert all(t <= p + 1e-6 for t, p in zip(traffic, prev, strict=True))
        prev = traffic


def test_sram_that_holds_everything_reads_each_tensor_once():
    """With ample SRAM an op's DRAM traffic is compulsory: inputs, weights, output once."""
    op = _conv()
    for df in ("os", "ws", "is"):
        config = SystolicConfig(rows=32, cols=32, dataflow=df, ifmap_sram_bytes=64 * MIB,
                                filter_sram_bytes=64 * MIB, ofmap_sram_bytes=64 * MIB)
        cost = config.op_cost(op)
        assert cost.dram_read_bytes == pytest.approx(op.input_bytes + op.weight_bytes)
        assert cost.dram_write_bytes == pytest.approx(op.output_bytes)


def test_activations_kept_on_chip_leave_only_weights_in_dram(net):
    """With activations kept on chip and room for them, DRAM carries each weight once."""
    keep = SystolicConfig(rows=32, cols=32, keep_activations_on_chip=True,
                          ifmap_sram_bytes=64 * MIB, filter_sram_bytes=64 * MIB)
    costs = [keep.op_cost(op) for op in net.ops]
    assert sum(c.dram_read_bytes for c in costs) == pytest.approx(net.weight_bytes)
    assert sum(c.dram_write_bytes for c in costs) == 0
    tight = dataclasses.replace(keep, ifmap_sram_bytes=1024)
    plain = dataclasses.replace(tight, keep_activations_on_chip=False)
    assert [tight.op_cost(op) for op in net.ops] == [plain.op_cost(op) for op in net.ops]


def test_tpu_v1_reads_resnet50_weights_once_from_dram():
    """TPU v1 keeps ResNet-50's activations in its unified buffer: DRAM holds the weights."""
    from workloads.zoo import resnet50
    graph = _int8(resnet50())
    report = analytic_report(graph, TPU_V1)
    assert report.per_op["dram_read_bytes"].sum() == pytest.approx(graph.weight_bytes)
    assert report.per_op["dram_write_bytes"].sum() == 0
    assert report.latency_s >= graph.weight_bytes / TPU_V1.dram_bw_bytes_per_s


# ---- precision ------------------------------------------------------------------------------
def test_int4_on_a_2x_int4_array_halves_compute_cycles():
    """Large layers: int4 at 2x takes at most half the int8 cycles plus one pipeline fill."""
    config = SystolicConfig(rows=64, cols=64, formats="int8:1,int4:2")
    for df in ("os", "ws", "is"):
        cfg = dataclasses.replace(config, dataflow=df)
        int8 = cfg.op_cost(_conv(512, 512, 14)).compute_cycles
        int4 = cfg.op_cost(_conv(512, 512, 14, precision=INT4)).compute_cycles
        assert int4 <= int8 / 2 + 2 * cfg.rows + cfg.cols
        assert int4 / int8 < 0.52


def test_int4_without_int4_support_gains_only_bytes():
    """On an int8-only array int4 runs at int8 speed but moves half the bytes."""
    config = SystolicConfig(rows=64, cols=64, dram_bw_bytes_per_s=1e18)
    int8, int4 = config.op_cost(_conv()), config.op_cost(_conv(precision=INT4))
    assert int4.compute_cycles == int8.compute_cycles
    assert int4.dram_bytes == pytest.approx(int8.dram_bytes / 2)


@pytest.mark.parametrize(("precision", "formats", "label", "mult"), [
    (INT4, "int8:1,int4:2", "int4", 2.0),
    (INT4, "int8:1", "int8", 1.0),
    (Precision.of("fp32"), "int8:1,int16:0.25", "int16", 0.25),
    (INT8, "fp16:1", "fp16", 1.0),
    (INT8, "bf16:1,fp8:2", "bf16", 1.0),
    (Precision.of("fp16"), "bf16:1,fp32:0.5", "fp32", 0.5),
    (Precision.of("fp16"), "bf16:1", "bf16", 1.0),
])
def test_ops_run_in_the_fastest_format_that_holds_them(precision, formats, label, mult):
    """An op runs in the fastest supported format that holds it, else the widest one."""
    spec, got = executed_format(precision, SystolicConfig(formats=formats).formats)
    assert (spec.label, got) == (label, mult)


# ---- sparsity -------------------------------------------------------------------------------
SPARSE_24 = Sparsity.n_m(2, 4)


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
def test_2_4_weights_halve_ws_cycles_only_when_supported(dataflow):
    """2:4 weights halve WS compute cycles on a 2:4 array; without support nothing changes."""
    dense, sparse = _conv(), _conv(sparsity=SPARSE_24)
    plain = SystolicConfig(rows=64, cols=64, dataflow=dataflow)
    assert plain.op_cost(sparse).compute_cycles == plain.op_cost(dense).compute_cycles
    assert plain.op_cost(sparse).macs_skipped == 0
    if dataflow == "ws":
        support = dataclasses.replace(plain, nm_sparsity="2:4")
        full, half = support.op_cost(dense).compute_cycles, support.op_cost(sparse).compute_cycles
        assert half <= full / 2 + 2 * support.rows + support.cols
        assert support.op_cost(sparse).macs_skipped == pytest.approx(sparse.macs / 2)


def test_sparser_pattern_runs_on_a_denser_supported_one():
    """1:4 weights satisfy 2:4 hardware and run at 2:4 speed; 2:4 weights do not fit 1:4."""
    one_four = SystolicConfig(rows=64, cols=64, nm_sparsity="1:4")
    two_four = SystolicConfig(rows=64, cols=64, nm_sparsity="2:4")
    op14, op24 = _conv(sparsity=Sparsity.n_m(1, 4)), _conv(sparsity=SPARSE_24)
    assert two_four.op_cost(op14).compute_cycles == two_four.op_cost(op24).compute_cycles
    assert one_four.op_cost(op24).compute_cycles == one_four.op_cost(_conv()).compute_cycles
    assert two_four.op_cost(op14).macs_gated == pytest.approx(op14.macs / 4)


@pytest.mark.parametrize("config", CONFIGS[::3], ids=lambda c: f"{c.dataflow}-{c.mode}")
def test_unstructured_and_activation_zeros_gate_energy_never_cycles(config):
    """Unstructured weight zeros and activation zeros save MAC energy, never cycles."""
    dense = config.op_cost(_conv())
    for sp in (Sparsity(weight_density=0.3, pattern=SparsityPattern.UNSTRUCTURED),
               Sparsity(act_density=0.5)):
        cost = config.op_cost(_conv(sparsity=sp))
        assert cost.cycles == dense.cycles
        assert cost.macs_skipped == 0
        assert cost.energy.compute_j < dense.energy.compute_j
    ungated = dataclasses.replace(config, zero_gating=False)
    sparse = _conv(sparsity=Sparsity(act_density=0.5))
    assert ungated.op_cost(sparse).energy.compute_j == pytest.approx(dense.energy.compute_j)


# ---- other ops ------------------------------------------------------------------------------
def test_moves_cost_nothing_and_vector_ops_use_lanes(net):
    """Input, reshape and concat are free; vector ops take ceil(work / lanes) cycles."""
    config = SystolicConfig(vector_lanes=64, dram_bw_bytes_per_s=1e18)
    for op in net.ops:
        cost = config.op_cost(op)
        if op.kind in (OpKind.INPUT, OpKind.RESHAPE, OpKind.CONCAT):
            assert cost.cycles == 0
            assert cost.energy_j == 0
        elif op.kind in (OpKind.ELEMENTWISE, OpKind.POOL, OpKind.NORM):
            assert cost.compute_cycles == math.ceil(max(op.flops, op.out_elements) / 64)
            assert cost.dram_write_bytes == op.output_bytes


def test_depthwise_conv_packs_groups_on_weight_stationary():
    """WS packs depthwise groups on the diagonal: 14 3x3 groups fit a 128x128 array at once."""
    op = _conv(c_in=128, c_out=128, hw=28, groups=128)
    config = SystolicConfig(rows=128, cols=128, dataflow="ws", dram_bw_bytes_per_s=1e18)
    passes = math.ceil(128 / (128 // 9))
    assert config.op_cost(op).compute_cycles == passes * 28 * 28 + 2 * 126 + 14 - 2


def test_scalesim_mode_ignores_bandwidth():
    """SCALE-Sim mode counts no stalls and DRAM traffic is compulsory."""
    op = _conv()
    slow = SystolicConfig(mode="scalesim", dram_bw_bytes_per_s=1e6, rows=16, cols=16)
    fast = dataclasses.replace(slow, dram_bw_bytes_per_s=1e15)
    assert slow.op_cost(op) == fast.op_cost(op)
    assert slow.op_cost(op).stall_cycles == 0
    assert slow.op_cost(op).dram_read_bytes == pytest.approx(op.input_bytes + op.weight_bytes)
