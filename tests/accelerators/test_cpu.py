"""Tests of the CPU model and host calibration: mechanism, invariants, presets, errors."""

from __future__ import annotations

import dataclasses
import os
import statistics
import time

import numpy as np
import pytest

from accelerators.calibrate import (
    _sum_kernel,
    calibrate_host,
    isa_fields,
    load_preset,
    save_preset,
)
from accelerators.cpu import CORE_I7_1185G7, PRESETS, XEON_8380, CPUConfig
from hwsim.accelerator import Accelerator, analytic_report
from hwsim.graph import Op, OpKind, Precision, Sparsity
from workloads.zoo import mlp, resnet18

INT8 = Precision.of("int8")
# No per-call costs, so that ratios of times are ratios of the modelled work.
BARE = dataclasses.replace(XEON_8380, dispatch_s=0.0, call_s=0.0, parallel_overhead_s=0.0)


def matmul(m: int, k: int, n: int, *, precision: Precision | None = None, g: int = 1) -> Op:
    """A product of two activations."""
    lead = (g,) if g > 1 else ()
    return Op(name="mm", kind=OpKind.MATMUL, inputs=("a", "b"),
              in_shapes=((*lead, m, k), (*lead, k, n)), out_shape=(*lead, m, n),
              precision=precision or Precision())


def pointwise(n: int, *, precision: Precision | None = None) -> Op:
    """An elementwise ReLU over ``n`` values."""
    return Op(name="relu", kind=OpKind.ELEMENTWISE, inputs=("x",), in_shapes=((n,),),
              out_shape=(n,), func="relu", precision=precision or Precision())


@pytest.fixture(scope="module")
def host() -> CPUConfig:
    """This machine, calibrated in quick mode."""
    return calibrate_host(quick=True)


def test_calibration_reads_the_machine(host):
    """Calibration uses the OS core count and cache sizes, and fits positive rates."""
    assert host.cores == len(os.sched_getaffinity(0))
    assert host.l1_bytes <= host.l2_bytes
    assert host.peak_flops("fp32") > 0
    assert host.dram_bw_bytes_per_s >= host.core_dram_bw_bytes_per_s
    assert host.dispatch_s > 0


def test_preset_yaml_round_trip(host):
    """save_preset then load_preset gives back the same config."""
    assert load_preset(save_preset(host)) == host
    assert load_preset(save_preset(XEON_8380)) == XEON_8380


def test_load_preset_converts_yaml_strings_and_rejects_unknown_keys():
    """'2.3e9' (a string to YAML) is read as a number; unknown keys list the allowed ones."""
    assert load_preset("cores: 8\nfreq_hz: 2.3e9\n").freq_hz == 2.3e9
    with pytest.raises(ValueError, match="unknown CPUConfig fields \\['turbo'\\]"):
        load_preset("turbo: 1\n")
    with pytest.raises(ValueError, match="YAML mapping"):
        load_preset("- 1\n")


def _median_s(fn, repeats: int = 5) -> float:
    fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


@pytest.mark.parametrize(("m", "k", "n"), [(256, 256, 256), (1, 2048, 2048)])
def test_prediction_within_factor_three_of_numpy(host, m, k, n):
    """One-thread NumPy GEMM and GEMV times are within 3x of the calibrated prediction."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    rng = np.random.default_rng(0)
    a = rng.random((m, k), dtype=np.float32)
    b = rng.random((k, n), dtype=np.float32)
    out = np.empty((m, n), dtype=np.float32)
    with threadpoolctl.threadpool_limits(limits=1):
        measured = _median_s(lambda: np.matmul(a, b, out=out))
    predicted = dataclasses.replace(host, cores=1).op_cost(matmul(m, k, n)).latency_s
    assert measured / 3 < predicted < measured * 3


@pytest.mark.parametrize("op", [matmul(2048, 2048, 2048), pointwise(1 << 26),
                                matmul(1, 4096, 4096)], ids=["gemm", "stream", "gemv"])
def test_more_cores_or_bandwidth_is_never_slower(op):
    """Doubling cores or DRAM bandwidth never makes a large op slower."""
    base = BARE.op_cost(op).latency_s
    assert dataclasses.replace(BARE, cores=80).op_cost(op).latency_s <= base
    more_bw = dataclasses.replace(BARE, dram_bw_bytes_per_s=2 * BARE.dram_bw_bytes_per_s)
    assert more_bw.op_cost(op).latency_s <= base


def test_compute_bound_gemm_scales_with_clock():
    """A large GEMM takes about 1/f: doubling the clock halves its time."""
    op = matmul(2048, 2048, 2048)
    fast = dataclasses.replace(BARE, freq_hz=2 * BARE.freq_hz)
    assert fast.op_cost(op).latency_s == pytest.approx(BARE.op_cost(op).latency_s / 2, rel=0.05)


def test_memory_bound_op_scales_with_dram_bandwidth():
    """A large elementwise op from DRAM takes bytes over bandwidth: double it, halve time."""
    op = pointwise(1 << 27)
    fast = dataclasses.replace(BARE, dram_bw_bytes_per_s=2 * BARE.dram_bw_bytes_per_s,
                               core_dram_bw_bytes_per_s=2 * BARE.core_dram_bw_bytes_per_s)
    assert fast.op_cost(op).latency_s == pytest.approx(BARE.op_cost(op).latency_s / 2)
    assert fast.op_cost(op).dram_read_bytes > 0


def test_int8_without_vnni_gains_only_bandwidth():
    """Without VNNI an int8 GEMM computes at the fp32 rate; a stream still moves 4x less."""
    no_vnni = dataclasses.replace(BARE, int8_rate=0.0)
    gemm32, gemm8 = matmul(2048, 2048, 2048), matmul(2048, 2048, 2048, precision=INT8)
    t32 = no_vnni.op_cost(gemm32)
    t8 = no_vnni.op_cost(gemm8)
    assert t8.compute_cycles == pytest.approx(t32.compute_cycles)
    assert BARE.op_cost(gemm8).latency_s < 0.4 * BARE.op_cost(gemm32).latency_s
    stream32, stream8 = pointwise(1 << 27), pointwise(1 << 27, precision=INT8)
    assert no_vnni.op_cost(stream8).latency_s == pytest.approx(
        no_vnni.op_cost(stream32).latency_s / 4)


def test_vnni_gemm_draws_about_the_fp32_power():
    """An int8 VNNI product does 4x the MACs per instruction at about the same power as an
    fp32 one, not a quarter of it (the overhead is per instruction, not per MAC)."""
    def power(precision: Precision) -> float:
        cost = XEON_8380.op_cost(matmul(2048, 2048, 2048, precision=precision))
        return cost.energy_j / cost.latency_s

    assert power(INT8) == pytest.approx(power(Precision()), rel=0.35)


def test_tile_imbalance_over_cores():
    """Five register tiles on four cores take as long as eight: ceil(5/4) = 2 per core."""
    cpu = dataclasses.replace(BARE, cores=4, single_core_boost=1.0, parallel_min_macs=0.0)
    four = cpu.op_cost(matmul(cpu.lanes * 4, 4096, 4))
    five = cpu.op_cost(matmul(cpu.lanes * 5, 4096, 4))
    assert five.compute_cycles == pytest.approx(2 * four.compute_cycles)
    assert five.utilization == pytest.approx(four.utilization * 5 / 8)


def test_small_ops_run_on_one_core():
    """Below parallel_min_macs a product uses one core at the boosted clock."""
    cost = XEON_8380.op_cost(matmul(16, 16, 16))
    assert cost.latency_s >= XEON_8380.dispatch_s
    assert cost.cycles == pytest.approx(cost.latency_s * XEON_8380.clock_hz(1))


@pytest.mark.parametrize("cpu", list(PRESETS.values()), ids=list(PRESETS))
@pytest.mark.parametrize(("m", "k", "n"), [(1, 4096, 4096), (1, 4096, 11008), (16, 1024, 1024)])
def test_weights_stream_from_dram_even_when_they_fit_a_cache(cpu, m, k, n):
    """A product's weights cross DRAM once per call (an inference reads each weight once):
    a decode-style fp16 GEMV whose weights fit the last-level cache still takes at least
    its weight bytes over the DRAM bandwidth, and they count as DRAM traffic."""
    op = Op(name="fc", kind=OpKind.MATMUL, inputs=("x",), in_shapes=((m, k),),
            out_shape=(m, n), weight_shape=(k, n), precision=Precision.of("fp16"))
    cost = cpu.op_cost(op)
    assert cost.dram_read_bytes >= op.weight_bytes
    assert cost.latency_s >= op.weight_bytes / cpu.dram_bw_bytes_per_s
    assert cost.energy.dram_j > 0


def _lookup(ids: int, vocab: int) -> Op:
    """An fp16 embedding of ``ids`` tokens into a ``vocab`` x 768 table."""
    return Op(name="emb", kind=OpKind.EMBEDDING, inputs=("ids",), in_shapes=((1, ids),),
              out_shape=(1, ids, 768), weight_shape=(vocab, 768), precision=Precision.of("fp16"))


def test_embedding_reads_only_the_rows_it_gathers():
    """A lookup reads one row per id from DRAM, never more rows than the table holds."""
    large = XEON_8380.op_cost(_lookup(128, 30522))
    small = XEON_8380.op_cost(_lookup(128, 2))
    assert large.dram_read_bytes == pytest.approx(128 * 768 * 2)
    assert small.dram_read_bytes == pytest.approx(2 * 768 * 2)


def test_sparsity_is_not_exploited():
    """A dense CPU kernel gains nothing from pruned weights."""
    dense = Op(name="fc", kind=OpKind.MATMUL, inputs=("x",), in_shapes=((256, 1024),),
               out_shape=(256, 1024), weight_shape=(1024, 1024))
    sparse = dense.replace(sparsity=Sparsity.n_m(2, 4))
    assert XEON_8380.op_cost(sparse).latency_s == XEON_8380.op_cost(dense).latency_s


@pytest.mark.parametrize("cpu", list(PRESETS.values()), ids=list(PRESETS))
@pytest.mark.parametrize("op", [matmul(1024, 1024, 1024), matmul(8, 8, 8), pointwise(1 << 24),
                                matmul(1, 4096, 4096), matmul(64, 64, 64, g=12)], ids=str)
def test_cost_invariants(cpu, op):
    """Utilization in [0, 1], cycles split consistently, power within the core budget."""
    cost = cpu.op_cost(op)
    assert 0.0 <= cost.utilization <= 1.0
    assert cost.cycles == pytest.approx(cost.compute_cycles + cost.stall_cycles)
    assert cost.latency_s >= 2 * op.macs / cpu.peak_flops("fp32") / cpu.single_core_boost
    assert cost.energy_j / cost.latency_s <= cpu.tdp_w - cpu.idle_w + 1e-9


def test_batched_products_as_loop_of_calls_pay_per_call():
    """With batch_parallel off, each matrix of a batch is its own call with its own cost;
    the op's dispatch is paid once."""
    loop = dataclasses.replace(XEON_8380, batch_parallel=False)
    batched = loop.op_cost(matmul(32, 32, 32, g=64)).latency_s
    single = loop.op_cost(matmul(32, 32, 32)).latency_s
    assert batched - loop.dispatch_s == pytest.approx(64 * (single - loop.dispatch_s))
    assert batched > 64 * (single - loop.dispatch_s)


@pytest.mark.parametrize("n", [1, 7, 4096, 100_003])
def test_bandwidth_probe_kernel_equals_reference(n):
    """The parallel sum used to probe DRAM bandwidth equals its plain-Python reference."""
    x = np.random.default_rng(n).random(n, dtype=np.float32)
    assert _sum_kernel(x) == pytest.approx(_sum_kernel.py_func(x), rel=1e-4)
    assert _sum_kernel(x) == pytest.approx(float(np.sum(x, dtype=np.float64)), rel=1e-4)


def test_isa_flags_set_simd_width_and_rates():
    """AVX-512 with VNNI gives 512-bit SIMD and 4x int8; AVX2 alone gives neither."""
    assert isa_fields(frozenset({"avx512f", "avx512_vnni", "avx512_bf16"})) == {
        "simd_bits": 512, "fma_units": 2, "bf16_rate": 2.0, "int8_rate": 4.0, "fp16_rate": 0.0}
    avx2 = isa_fields(frozenset({"avx2", "fma"}))
    assert (avx2["simd_bits"], avx2["int8_rate"], avx2["bf16_rate"]) == (256, 0.0, 0.0)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("cores", 0, "cores must be an integer >= 1, got 0"),
    ("simd_bits", 300, "simd_bits must be one of 128, 256, 512, got 300"),
    ("gemm_efficiency", 0.0, "gemm_efficiency must be in \\(0, 1\\], got 0.0"),
    ("single_core_boost", 0.5, "single_core_boost must be >= 1"),
    ("idle_w", 300.0, "idle_w must be < tdp_w"),
    ("datapath_overhead", 0.5, "datapath_overhead must be a number >= 1, got 0.5"),
    ("dram_type", "core", "dram_type must be one of"),
    ("node_nm", 1.0, "node_nm must be a number in"),
])
def test_config_errors_name_field_and_value(field, value, message):
    """Bad fields raise ValueError naming the field, the value and the allowed range."""
    with pytest.raises(ValueError, match=message):
        CPUConfig(**{field: value})


def test_cost_on_fewer_cores():
    """A large product given one core is slower than on all; a bad core count is refused."""
    op = matmul(1024, 1024, 1024)
    assert XEON_8380.op_cost_on_cores(op, 1).latency_s > XEON_8380.op_cost(op).latency_s
    assert XEON_8380.op_cost_on_cores(op, 40) == XEON_8380.op_cost(op)
    with pytest.raises(ValueError, match="cores must be an integer in 1..40, got 41"):
        XEON_8380.op_cost_on_cores(op, 41)


def test_presets_and_protocol():
    """Presets satisfy the Accelerator protocol; the engine has one unit per core."""
    assert XEON_8380.peak_flops("fp32") == pytest.approx(40 * 2.3e9 * 64)
    assert CORE_I7_1185G7.core_flops_per_cycle("fp32") == 32
    for cpu in PRESETS.values():
        assert isinstance(cpu, Accelerator)
        assert cpu.resources().engines[0].count == cpu.cores
        assert cpu.engine_for(pointwise(8)) == "core"


def test_views_are_free_and_networks_report():
    """Reshapes cost nothing; ResNet-18 and an MLP run end to end within TDP."""
    view = Op(name="flat", kind=OpKind.RESHAPE, inputs=("x",), in_shapes=((2, 3, 4),),
              out_shape=(2, 12), func="flatten")
    assert XEON_8380.op_cost(view).latency_s == 0.0
    for graph in (resnet18(batch=2), mlp(batch=16)):
        report = analytic_report(graph, XEON_8380)
        assert report.latency_s > 0
        assert report.avg_power_w <= XEON_8380.tdp_w
