"""Tests of the GPU model: tiling and waves, published A100 figures, invariants, presets."""

from __future__ import annotations

import dataclasses
import math

import pytest

from accelerators.gpu import (
    A100_80GB_SXM,
    H100_SXM,
    H200_SXM,
    PRESETS,
    V100_SXM2,
    GPUConfig,
    fused_attention_cost,
    gemm_plan,
)
from hwsim.accelerator import Accelerator, analytic_report
from hwsim.graph import Op, OpKind, Precision, Sparsity
from workloads.zoo import mlp, resnet50

FP16 = Precision.of("fp16")


def matmul(m: int, k: int, n: int, *, precision: Precision = FP16, g: int = 1) -> Op:
    """A product of two activations."""
    lead = (g,) if g > 1 else ()
    return Op(name="mm", kind=OpKind.MATMUL, inputs=("a", "b"),
              in_shapes=((*lead, m, k), (*lead, k, n)), out_shape=(*lead, m, n),
              precision=precision)


def linear(m: int, k: int, n: int, *, precision: Precision = FP16,
           sparsity: Sparsity | None = None) -> Op:
    """A product with a weight matrix."""
    return Op(name="fc", kind=OpKind.MATMUL, inputs=("x",), in_shapes=((m, k),),
              out_shape=(m, n), weight_shape=(k, n), precision=precision,
              sparsity=sparsity or Sparsity())


def pointwise(n: int, *, precision: Precision = FP16) -> Op:
    """A large elementwise op (memory-bound)."""
    return Op(name="gelu", kind=OpKind.ELEMENTWISE, inputs=("x",), in_shapes=((n,),),
              out_shape=(n,), func="gelu", precision=precision)


# LLMCompass artifact, ae/figure5/ab/real_hardware/matmul_A100.csv (A100 80GB SXM, fp16,
# PyTorch synchronous calls; 21 us host overhead per call as in LLMCompass's model).
@pytest.mark.parametrize(("m", "k", "n", "measured_s"), [
    (8192, 8192, 8192, 3.9614e-3), (64, 12288, 12288, 0.1900e-3), (8192, 64, 64, 29.6e-6)])
def test_a100_published_gemms_within_15_percent(m, k, n, measured_s):
    """The three published A100 cuBLAS timings are predicted within 15%."""
    gpu = dataclasses.replace(A100_80GB_SXM, host_overhead_s=21e-6)
    predicted = gpu.op_cost(matmul(m, k, n)).latency_s
    assert abs(predicted - measured_s) / measured_s < 0.15


def test_large_gemm_plan_matches_hand_computation():
    """8192^3 fp16 on A100: 256x128 tiles, 2048 CTAs in 19 waves, cycles as by hand."""
    plan = gemm_plan(A100_80GB_SXM, matmul(8192, 8192, 8192))
    assert (plan.tile_m, plan.tile_n, plan.tile_k, plan.split_k) == (256, 128, 32, 1)
    assert plan.ctas == 32 * 64
    assert plan.waves == math.ceil(2048 / 108)
    math_cycles = 2 * 256 * 128 * 32 / (2048 * 0.9)  # > L2 (518) and smem (512) cycles
    prologue = 0.5e-6 * 1.41e9
    epilogue = 256 * 128 * 2 / (5120 / 108)
    assert plan.cta_cycles == pytest.approx(prologue + 256 * math_cycles + epilogue)
    assert plan.compute_s == pytest.approx(19 * plan.cta_cycles / 1.41e9)


def test_wave_quantisation_doubles_time_past_one_wave():
    """One more tile than SMs costs a second wave (about twice the math time)."""
    one = gemm_plan(A100_80GB_SXM, matmul(128 * 12, 4096, 128 * 9), tile=(128, 128), split_k=1)
    two = gemm_plan(A100_80GB_SXM, matmul(128 * 13, 4096, 128 * 9), tile=(128, 128), split_k=1)
    assert (one.ctas, one.waves, two.ctas, two.waves) == (108, 1, 117, 2)
    assert two.compute_s == pytest.approx(2 * one.compute_s)


def test_split_k_chosen_for_few_tiles_and_deep_k():
    """A product with few output tiles and a long K is split along K."""
    plan = gemm_plan(A100_80GB_SXM, matmul(128, 65536, 128))
    assert plan.split_k > 1
    assert plan.reduce_s > 0


def test_infeasible_candidate_raises():
    """A tile that cannot be split along a short K is refused with a clear error."""
    with pytest.raises(ValueError, match="infeasible"):
        gemm_plan(A100_80GB_SXM, matmul(128, 64, 128), tile=(128, 128), split_k=16)


@pytest.mark.parametrize("gpu", list(PRESETS.values()), ids=list(PRESETS))
@pytest.mark.parametrize("op", [matmul(8192, 8192, 8192), matmul(64, 4096, 4096),
                                matmul(8, 8, 8), pointwise(1 << 26)], ids=str)
def test_cost_invariants(gpu, op):
    """Utilization in [0, 1], time above the math and launch bounds, power within TDP."""
    cost = gpu.op_cost(op)
    assert 0.0 <= cost.utilization <= 1.0
    assert cost.latency_s >= gpu.kernel_launch_s
    assert cost.latency_s >= 2 * op.macs / gpu.peak_ops("fp16" if gpu.rates()["fp16"] else "fp32")
    assert cost.energy_j / cost.latency_s <= gpu.tdp_w - gpu.idle_w + 1e-9
    assert cost.cycles == pytest.approx(cost.compute_cycles + cost.stall_cycles)


def test_memory_bound_time_above_hbm_roofline():
    """A large elementwise op takes at least its bytes over the peak HBM bandwidth."""
    op = pointwise(1 << 28)
    cost = A100_80GB_SXM.op_cost(op)
    assert cost.latency_s >= (op.input_bytes + op.output_bytes) / A100_80GB_SXM.hbm_bw_bytes_per_s


@pytest.mark.parametrize("field", ["freq_hz", "hbm_bw_bytes_per_s", "l2_bw_bytes_per_cycle"])
@pytest.mark.parametrize("op", [matmul(8192, 8192, 8192), matmul(16, 8192, 8192),
                                pointwise(1 << 27)], ids=str)
def test_more_clock_or_bandwidth_is_never_slower(field, op):
    """Raising the clock or a bandwidth never makes an op slower."""
    faster = dataclasses.replace(A100_80GB_SXM, **{field: getattr(A100_80GB_SXM, field) * 1.5})
    assert faster.op_cost(op).latency_s <= A100_80GB_SXM.op_cost(op).latency_s * (1 + 1e-12)


@pytest.mark.parametrize("op", [linear(784, 1152, 128, precision=Precision.of("int8")),
                                linear(128, 768, 768), matmul(8192, 8192, 8192)], ids=str)
def test_more_sms_are_never_slower(op):
    """Doubling the SMs at the same L2 bandwidth never slows a product: a grid smaller than
    the chip splits L2 over the SMs it uses, not over every SM."""
    more = dataclasses.replace(A100_80GB_SXM, sms=2 * A100_80GB_SXM.sms)
    assert more.op_cost(op).latency_s <= A100_80GB_SXM.op_cost(op).latency_s * (1 + 1e-12)


def test_compute_bound_gemm_scales_with_clock():
    """A large fp16 product takes about 1/f: doubling the clock halves its time."""
    base = dataclasses.replace(A100_80GB_SXM, kernel_launch_s=0.0, dram_latency_s=0.0)
    fast = dataclasses.replace(base, freq_hz=2 * base.freq_hz)
    op = matmul(8192, 8192, 8192)
    assert fast.op_cost(op).latency_s == pytest.approx(base.op_cost(op).latency_s / 2, rel=0.02)


@pytest.mark.parametrize("gpu", [A100_80GB_SXM, H100_SXM], ids=["a100", "h100"])
@pytest.mark.parametrize("fmt", ["bf16", "fp8_e4m3", "int8", "fp32"])
def test_busy_gemm_power_is_similar_in_every_format(gpu, fmt):
    """A compute-bound product draws within 25% of the fp16 power in any format, faster or
    slower (an instruction costs about the same to deliver whatever it computes)."""
    def power(precision: str) -> float:
        cost = gpu.op_cost(matmul(8192, 8192, 8192, precision=Precision.of(precision)))
        return cost.energy_j / cost.latency_s

    assert power(fmt) == pytest.approx(power("fp16"), rel=0.25)


def test_h100_int8_beats_fp16_on_compute_bound_gemm():
    """H100 int8 tensor cores run a compute-bound product about twice as fast as fp16."""
    fp16 = H100_SXM.op_cost(matmul(8192, 8192, 8192)).latency_s
    int8 = H100_SXM.op_cost(matmul(8192, 8192, 8192, precision=Precision.of("int8"))).latency_s
    assert 1.6 < fp16 / int8 < 2.1


def test_unsupported_format_gains_only_bandwidth():
    """fp8 on A100 (no fp8 units) computes as fp16: same math time, fewer bytes."""
    fp8 = Precision.of("fp8_e4m3")
    big = matmul(8192, 8192, 8192)
    assert gemm_plan(A100_80GB_SXM, matmul(8192, 8192, 8192, precision=fp8)).fmt == "fp16"
    ratio = (A100_80GB_SXM.op_cost(matmul(8192, 8192, 8192, precision=fp8)).latency_s
             / A100_80GB_SXM.op_cost(big).latency_s)
    assert ratio > 0.8
    stream = A100_80GB_SXM.op_cost(pointwise(1 << 28, precision=fp8)).latency_s
    assert stream < 0.6 * A100_80GB_SXM.op_cost(pointwise(1 << 28)).latency_s


def test_bf16_on_v100_falls_back_to_cuda_cores():
    """V100 has no bf16 tensor cores: bf16 products run at the fp32 CUDA-core rate."""
    plan = gemm_plan(V100_SXM2, matmul(4096, 4096, 4096, precision=Precision.of("bf16")))
    assert plan.fmt == "fp32"


def test_structured_sparsity_only_where_supported():
    """2:4 weights double tensor throughput on A100, change nothing on V100; unstructured
    zeros change nothing anywhere."""
    dense = linear(8192, 8192, 8192)
    sparse = linear(8192, 8192, 8192, sparsity=Sparsity.n_m(2, 4))
    unstructured = linear(8192, 8192, 8192, sparsity=Sparsity(weight_density=0.5,
                                                              pattern="unstructured"))
    a100 = A100_80GB_SXM
    assert 1.7 < a100.op_cost(dense).latency_s / a100.op_cost(sparse).latency_s < 2.1
    assert a100.op_cost(sparse).macs_skipped == dense.macs / 2
    assert a100.op_cost(unstructured).latency_s == a100.op_cost(dense).latency_s
    assert V100_SXM2.op_cost(sparse).latency_s == V100_SXM2.op_cost(dense).latency_s


@pytest.mark.parametrize("gpu", list(PRESETS.values()), ids=list(PRESETS))
@pytest.mark.parametrize(("m", "k", "n", "fmt"), [
    (1, 1024, 1024, "fp16"), (1, 2048, 1024, "int8"), (16, 1024, 1024, "fp16"),
    (8, 1024, 2048, "int8")])
def test_weights_come_from_hbm_even_when_they_fit_l2(gpu, m, k, n, fmt):
    """A product's weights cross HBM once (an inference reads each weight once): a decode
    GEMV or small-batch GEMM whose operands fit in half of L2 still takes at least its
    weight bytes over the HBM bandwidth, and they count as DRAM traffic."""
    op = linear(m, k, n, precision=Precision.of(fmt))
    assert op.weight_bytes <= gpu.l2_bytes / 2
    cost = gpu.op_cost(op)
    assert cost.dram_read_bytes >= op.weight_bytes
    assert cost.latency_s >= op.weight_bytes / gpu.hbm_bw_bytes_per_s
    assert cost.energy.dram_j > 0


@pytest.mark.parametrize(("n", "m", "runs_sparse"), [
    (1, 2, True), (2, 4, True), (1, 4, True), (2, 8, True), (3, 8, False), (1, 3, False)])
def test_patterns_that_satisfy_2_4_run_sparse(n, m, runs_sparse):
    """Weights whose every aligned block of 4 holds at most 2 nonzeros (1:4, 2:8 as well as
    2:4) run on the 2:4 sparse tensor cores; 3:8 and 1:3 do not."""
    sparse = gemm_plan(A100_80GB_SXM, linear(4096, 4096, 4096, sparsity=Sparsity.n_m(n, m)))
    assert sparse.sparse is runs_sparse


def _lookup(ids: int, vocab: int) -> Op:
    """An fp16 embedding of ``ids`` tokens into a ``vocab`` x 768 table."""
    return Op(name="emb", kind=OpKind.EMBEDDING, inputs=("ids",), in_shapes=((1, ids),),
              out_shape=(1, ids, 768), weight_shape=(vocab, 768), precision=Precision.of("fp16"))


def test_embedding_reads_only_the_rows_it_gathers():
    """A lookup reads one row per id from DRAM, never more rows than the table holds."""
    large = A100_80GB_SXM.op_cost(_lookup(128, 30522))
    small = A100_80GB_SXM.op_cost(_lookup(128, 2))
    assert large.dram_read_bytes == pytest.approx(128 * 768 * 2)
    assert small.dram_read_bytes == pytest.approx(2 * 768 * 2)


def test_fused_epilogues_make_pointwise_ops_free():
    """With fuse_epilogues an elementwise op costs nothing; without it, a kernel."""
    fused = dataclasses.replace(A100_80GB_SXM, fuse_epilogues=True)
    assert fused.op_cost(pointwise(1 << 20)).latency_s == 0.0
    assert A100_80GB_SXM.op_cost(pointwise(1 << 20)).latency_s > A100_80GB_SXM.kernel_launch_s


def _attention(seq: int) -> tuple[Op, Op, Op]:
    q, kt, s = (1, 16, seq, 128), (1, 16, 128, seq), (1, 16, seq, seq)
    qk = Op(name="qk", kind=OpKind.MATMUL, inputs=("q", "k"), in_shapes=(q, kt), out_shape=s,
            precision=FP16)
    sm = Op(name="sm", kind=OpKind.SOFTMAX, inputs=("qk",), in_shapes=(s,), out_shape=s,
            precision=FP16)
    av = Op(name="av", kind=OpKind.MATMUL, inputs=("sm", "v"), in_shapes=(s, q), out_shape=q,
            precision=FP16)
    return qk, sm, av


def test_fused_attention_reads_qkv_once_and_beats_unfused():
    """Fused attention moves only Q, K, V and O and is faster than its three kernels."""
    qk, sm, av = _attention(8192)
    fused = fused_attention_cost(H100_SXM, qk, sm, av)
    unfused = sum(H100_SXM.op_cost(op).latency_s for op in (qk, sm, av))
    assert fused.dram_read_bytes == pytest.approx(qk.input_bytes + av.in_shapes[1][-1] * 8192
                                                  * 16 * 2)
    assert fused.latency_s < unfused
    assert fused.macs_executed == qk.macs + av.macs
    assert 0.0 < fused.utilization <= 1.0


def test_presets_match_spec_sheet_peaks():
    """Preset peaks reproduce the data-sheet figures."""
    assert V100_SXM2.peak_ops("fp16") == pytest.approx(125e12, rel=0.01)
    assert A100_80GB_SXM.peak_ops("fp16") == pytest.approx(312e12, rel=0.01)
    assert A100_80GB_SXM.peak_ops("int8") == pytest.approx(624e12, rel=0.01)
    assert H100_SXM.peak_ops("fp16") == pytest.approx(989.4e12, rel=0.01)
    assert H100_SXM.peak_ops("fp8") == pytest.approx(1979e12, rel=0.01)
    assert H200_SXM.hbm_bw_bytes_per_s == 4.8e12
    assert H200_SXM.hbm_bytes == 141e9
    assert H200_SXM.peak_ops("fp16") == H100_SXM.peak_ops("fp16")


@pytest.mark.parametrize(("field", "value", "message"), [
    ("sms", 0, "sms must be an integer >= 1, got 0"),
    ("hbm_efficiency", 1.5, "hbm_efficiency must be in"),
    ("freq_hz", -1.0, "freq_hz must be a number > 0"),
    ("dram_type", "sram", "dram_type must be one of"),
    ("idle_w", 500.0, "idle_w must be < tdp_w"),
    ("datapath_overhead", 0.5, "datapath_overhead must be a number >= 1, got 0.5"),
])
def test_config_errors_name_field_and_value(field, value, message):
    """Bad fields raise ValueError naming the field and the allowed range."""
    with pytest.raises(ValueError, match=message):
        GPUConfig(**{field: value})


def test_is_an_accelerator_with_one_engine():
    """GPUConfig satisfies the Accelerator protocol and exposes one engine."""
    assert isinstance(A100_80GB_SXM, Accelerator)
    assert A100_80GB_SXM.resources().engines[0].count == 1
    assert A100_80GB_SXM.engine_for(pointwise(8)) == "gpu"
    assert A100_80GB_SXM.static_power_w == A100_80GB_SXM.idle_w


def test_whole_networks_report():
    """ResNet-50 and an MLP run end to end; average power stays within TDP."""
    for graph in (resnet50(batch=8), mlp(batch=32)):
        report = analytic_report(graph, H100_SXM)
        assert report.latency_s > 0
        assert report.avg_power_w <= H100_SXM.tdp_w
