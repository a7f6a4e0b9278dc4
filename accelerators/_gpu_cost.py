"""Op costs on a ``GPUConfig``; the model is described in ``accelerators.gpu``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from accelerators._common import (
    action_energy,
    cap_to_power,
    compute_format,
    mac_energy_j,
    overhead_mac_j,
    resolve_format,
)
from hwsim.accelerator import OpCost
from hwsim.graph import MAC_KINDS, Op, OpKind
from hwsim.numerics import SparsityPattern

if TYPE_CHECKING:
    from accelerators.gpu import GPUConfig

#: CTA tile shapes (rows of A, columns of B) a library picks from.
TILES = ((256, 128), (128, 256), (128, 128), (128, 64), (64, 128), (64, 64))
#: Split-K factors tried.
SPLITS = (1, 2, 4, 8, 16)
_FALLBACK = {"int4": "int8", "int8": "fp16", "fp8": "fp16", "fp16": "fp32", "bf16": "fp32",
             "int16": "fp32"}
_K_STEP_BYTES = 64  # bytes of K per main-loop step (32 fp16, 64 int8, 16 tf32 values)
_STAGES = 3  # shared-memory pipeline depth of a CTA
_ACC_BYTES = 4.0  # fp32 / int32 accumulators and split-K partials
_VIEW_FUNCS = frozenset({"reshape", "flatten"})
_FUSABLE = frozenset({OpKind.ELEMENTWISE, OpKind.NORM, OpKind.CONCAT, OpKind.RESHAPE})
_SOFTMAX_ALU_OPS = 4  # max, subtract, add and scale per score beside the exp


@dataclass(frozen=True)
class GemmPlan:
    """The chosen CTA tiling of a GEMM and where its time goes (seconds, bytes)."""

    tile_m: int
    tile_n: int
    tile_k: int
    split_k: int
    ctas: int
    waves: int
    cta_cycles: float
    compute_s: float
    dram_s: float
    reduce_s: float
    kernel_s: float
    l2_read_bytes: float
    dram_read_bytes: float
    dram_write_bytes: float
    fmt: str
    sparse: bool


def _fits_2_4(n: int, m: int) -> bool:
    """Whether every aligned block of 4 of an ``n:m`` tensor holds at most 2 nonzeros
    (1:2, 2:4, 1:4, 2:8 ... all run as 2:4)."""
    if 4 % m == 0:
        return (4 // m) * n <= 2
    return m % 4 == 0 and min(n, 4) <= 2


def _is_sparse_2_4(gpu: GPUConfig, op: Op, fmt: str) -> bool:
    s = op.sparsity
    nm = s.pattern is SparsityPattern.NM and _fits_2_4(s.n, s.m)
    tensor = fmt != "fp32" or gpu.tf32_for_fp32
    return gpu.sparse_2_4 and nm and tensor and bool(op.weight_shape)


@dataclass(frozen=True)
class _Shape:
    """What a GEMM plan depends on: dims, operand bytes (A, B, C; ``w`` of B are weights)
    and the compute format."""

    g: int
    m: int
    k: int
    n: int
    elem: float
    a: float
    b: float
    c: float
    w: float
    fmt: str
    sparse: bool


def _shape(gpu: GPUConfig, op: Op) -> _Shape:
    """The plan inputs of ``op``; 2:4 B keeps half its values plus 2-bit indices per value."""
    fmt = resolve_format(compute_format(op.precision), gpu.rates(), _FALLBACK)
    sparse = _is_sparse_2_4(gpu, op, fmt)
    act = op.precision.act_bits / 8.0
    a = math.prod(op.in_shapes[0]) * act
    b = op.weight_bytes if op.weight_shape else math.prod(op.in_shapes[1]) * act
    if sparse:
        b = b / 2.0 * (1.0 + 2.0 / op.precision.weight_bits)
    g, m, k, n = op.gemm
    return _Shape(g=g, m=m, k=k, n=n, elem=act, a=a, b=b, c=op.output_bytes,
                  w=b if op.weight_shape else 0.0, fmt=fmt, sparse=sparse)


def _feasible(gpu: GPUConfig, bm: int, bn: int, bk: int, elem: float) -> bool:
    """Whether a tile's accumulators fit in registers and its pipeline in shared memory."""
    smem = _STAGES * (bm + bn) * bk * elem
    return bm * bn * _ACC_BYTES <= gpu.regs_bytes_per_sm and smem <= gpu.smem_bytes_per_sm


def _l2_share(gpu: GPUConfig, ctas: int) -> float:
    """L2 bytes per cycle one CTA receives: the chip's L2 bandwidth split over the SMs in
    use, at most what the SM's shared memory can take in."""
    return min(gpu.l2_bw_bytes_per_cycle / min(ctas, gpu.sms),
               gpu.smem_bw_bytes_per_cycle_per_sm)


def _step_cycles(gpu: GPUConfig, bm: int, bn: int, bk: int, rate: float,
                 ab_bytes: tuple[float, float], l2_share: float) -> float:
    """Cycles of one K step of a CTA: the slowest of math, L2 loads and smem reads."""
    math_c = 2.0 * bm * bn * bk / (rate * gpu.tensor_efficiency)
    loads = (bm * ab_bytes[0] + bn * ab_bytes[1]) * bk
    l2_c = loads / l2_share
    warp_m, warp_n = min(64, bm // 2), min(64, bn // 2)  # 4-8 warps, each a 64x64 or less
    smem = (bm * ab_bytes[0] * (bn // warp_n) + bn * ab_bytes[1] * (bm // warp_m)) * bk
    return max(math_c, l2_c, smem / gpu.smem_bw_bytes_per_cycle_per_sm)


def _dram_traffic(gpu: GPUConfig, sh: _Shape, grid: tuple[int, int, int]) -> tuple[float, float]:
    """DRAM bytes read and written by a GEMM.

    Warm (operands fit in half of L2): only the weights are read, once (an inference reads
    each weight once, so they are never left in L2 by an earlier op), and C stays in L2.
    Otherwise A is read once per band of resident N tiles and B once per band of resident M
    tiles (the concurrently running CTAs form the bands), and C is written.
    """
    a, b = sh.a, sh.b
    if a + b + sh.c <= gpu.l2_bytes / 2:
        return sh.w, 0.0
    tiles_m, tiles_n, ctas = grid
    resident = min(ctas, gpu.sms)
    rows = min(tiles_m, math.ceil(math.sqrt(resident)))
    cols = min(tiles_n, math.ceil(resident / rows))
    return max(a + b, a * math.ceil(tiles_n / cols) + b * math.ceil(tiles_m / rows)), sh.c


def _hbm_bw(gpu: GPUConfig) -> float:
    return gpu.hbm_bw_bytes_per_s * gpu.hbm_efficiency


def _l2_bw(gpu: GPUConfig) -> float:
    return gpu.l2_bw_bytes_per_cycle * gpu.freq_hz


def _plan(gpu: GPUConfig, sh: _Shape, tile: tuple[int, int], split: int) -> GemmPlan | None:
    g, m, k, n = sh.g, sh.m, sh.k, sh.n
    bm, bn = tile
    bk = max(8, int(_K_STEP_BYTES / max(sh.elem, 0.5)))
    if not _feasible(gpu, bm, bn, bk, sh.elem) or (split > 1 and k / split < 2 * bk):
        return None
    rate = gpu.rates()[sh.fmt] * (2.0 if sh.sparse else 1.0)
    b, c = sh.b, sh.c
    ab_elem = (sh.elem, b / (g * k * n))  # A tiles are im2col rows for convolutions
    tiles_m, tiles_n = math.ceil(m / bm), math.ceil(n / bn)
    ctas = g * tiles_m * tiles_n * split
    steps = math.ceil(math.ceil(k / split) / bk)
    out_elem = _ACC_BYTES if split > 1 else c / (g * m * n)
    share = _l2_share(gpu, ctas)
    epilogue = bm * bn * out_elem / share
    cta = (gpu.dram_latency_s * gpu.freq_hz
           + steps * _step_cycles(gpu, bm, bn, bk, rate, ab_elem, share) + epilogue)
    waves = math.ceil(ctas / gpu.sms)
    reads, writes = _dram_traffic(gpu, sh, (tiles_m, tiles_n, ctas))
    reduce_s = 0.0
    if split > 1:
        partials = 2.0 * split * g * m * n * _ACC_BYTES + c
        bw = _l2_bw(gpu) if partials <= gpu.l2_bytes / 2 else _hbm_bw(gpu)
        reduce_s = partials / bw + gpu.kernel_launch_s
    compute_s, dram_s = waves * cta / gpu.freq_hz, (reads + writes) / _hbm_bw(gpu)
    return GemmPlan(tile_m=bm, tile_n=bn, tile_k=bk, split_k=split, ctas=ctas, waves=waves,
                    cta_cycles=cta, compute_s=compute_s, dram_s=dram_s, reduce_s=reduce_s,
                    kernel_s=max(compute_s, dram_s) + reduce_s,
                    l2_read_bytes=ctas * steps * (bm * ab_elem[0] + bn * ab_elem[1]) * bk,
                    dram_read_bytes=reads, dram_write_bytes=writes, fmt=sh.fmt,
                    sparse=sh.sparse)


def gemm_plan(gpu: GPUConfig, op: Op, *, tile: tuple[int, int] | None = None,
              split_k: int | None = None) -> GemmPlan:
    """The fastest (tile, split-K) plan of a matmul or convolution on ``gpu``.

    With ``tile`` and ``split_k`` both given, that one candidate is costed instead (raises
    ``ValueError`` when its buffers do not fit or K is too short to split).
    """
    if op.kind not in MAC_KINDS:
        raise ValueError(f"op {op.name!r}: gemm_plan needs a conv2d or matmul, got {op.kind}")
    if tile is None or split_k is None:
        return _best_plan(gpu, _shape(gpu, op))
    plan = _plan(gpu, _shape(gpu, op), tile, split_k)
    if plan is None:
        raise ValueError(f"tile {tile} with split_k={split_k} is infeasible for op {op.name!r}")
    return plan


@lru_cache(maxsize=4096)
def _best_plan(gpu: GPUConfig, sh: _Shape) -> GemmPlan:
    """The fastest feasible plan (cached: networks repeat their layer shapes)."""
    plans = (_plan(gpu, sh, tile, split) for tile in TILES for split in SPLITS)
    return min((p for p in plans if p is not None), key=lambda p: p.kernel_s)


def _fixed_s(gpu: GPUConfig) -> float:
    return gpu.kernel_launch_s + gpu.host_overhead_s


def _gemm_cost(gpu: GPUConfig, op: Op) -> OpCost:
    plan = gemm_plan(gpu, op)
    latency = plan.kernel_s + _fixed_s(gpu)
    executed = op.macs / 2.0 if plan.sparse else float(op.macs)
    compute_cycles = plan.compute_s * gpu.freq_hz
    peak = gpu.rates()[plan.fmt] / 2.0 * gpu.sms * (2.0 if plan.sparse else 1.0)
    return _finish(gpu, op, latency=latency, compute_cycles=compute_cycles, fmt=plan.fmt,
                   executed=executed, util=op.macs / (peak * compute_cycles),
                   l2_bytes=plan.l2_read_bytes,
                   dram=(plan.dram_read_bytes, plan.dram_write_bytes))


def _stream_bytes(op: Op) -> tuple[float, float, float]:
    """Bytes read and written by a memory-bound kernel, and the weight bytes of the reads
    (the weights, or the rows an embedding gathers, after its int32 ids)."""
    return op.input_bytes + op.weight_read_bytes, op.output_bytes, op.weight_read_bytes


def _stream_cost(gpu: GPUConfig, op: Op) -> OpCost:
    """A memory-bound kernel: one DRAM latency, then bytes at L2 or HBM bandwidth.

    When its data fit in half of L2 they are warm there, except the weights, which come
    from HBM (an inference reads each weight once).
    """
    read, write, weights = _stream_bytes(op)
    warm = read + write <= gpu.l2_bytes / 2
    if warm:
        data_s = max((read + write) / _l2_bw(gpu), weights / _hbm_bw(gpu))
    else:
        data_s = (read + write) / _hbm_bw(gpu)
    flops = op.flops if op.kind not in MAC_KINDS else 2.0 * op.macs
    compute_s = flops / (gpu.fp32_ops_per_cycle_per_sm * gpu.sms * gpu.freq_hz)
    latency = gpu.dram_latency_s + max(data_s, compute_s) + _fixed_s(gpu)
    dram = (weights, 0.0) if warm else (read, write)
    return _finish(gpu, op, latency=latency, compute_cycles=compute_s * gpu.freq_hz,
                   fmt="fp32", executed=float(op.macs), util=0.0, l2_bytes=read, dram=dram)


def _finish(gpu: GPUConfig, op: Op, *, latency: float, compute_cycles: float, fmt: str,
            executed: float, util: float, l2_bytes: float, dram: tuple[float, float],
            skipped: float | None = None) -> OpCost:
    cycles = latency * gpu.freq_hz
    compute_cycles = min(compute_cycles, cycles)
    tech = gpu.technology
    rates = gpu.rates()
    ref = "fp16" if rates["fp16"] > 0 else "fp32"
    work = executed if op.kind in MAC_KINDS else op.flops / 2.0
    raw = action_energy(tech=tech, mac_j=mac_energy_j(tech, fmt), macs=work,
                        overhead_j=overhead_mac_j(tech, fmt=fmt, ref_fmt=ref, rates=rates,
                                                  overhead=gpu.datapath_overhead),
                        sram_bytes=l2_bytes,
                        sram_capacity_bytes=gpu.l2_bytes, dram_bytes=sum(dram),
                        dram_type=gpu.dram_type)
    return OpCost(
        latency_s=latency, cycles=cycles, compute_cycles=compute_cycles,
        stall_cycles=cycles - compute_cycles, sram_read_bytes=l2_bytes,
        dram_read_bytes=dram[0], dram_write_bytes=dram[1], macs_executed=executed,
        macs_skipped=op.macs - executed if skipped is None else skipped,
        utilization=min(max(util, 0.0), 1.0),
        energy=cap_to_power(raw, latency_s=latency, power_w=gpu.tdp_w - gpu.idle_w),
    )


def _is_free(gpu: GPUConfig, op: Op) -> bool:
    """Views cost nothing; with fused epilogues neither do pointwise ops, norms and copies."""
    if op.kind is OpKind.INPUT or (op.kind is OpKind.RESHAPE and op.func in _VIEW_FUNCS):
        return True
    fusable = op.kind in _FUSABLE and (op.kind is not OpKind.NORM or op.func == "batchnorm")
    return gpu.fuse_epilogues and fusable


def gpu_op_cost(gpu: GPUConfig, op: Op) -> OpCost:
    """Cost of ``op`` on ``gpu`` as one kernel."""
    if _is_free(gpu, op):
        return OpCost(latency_s=0.0)
    _, m, _, n = op.gemm
    if op.kind in MAC_KINDS and min(m, n) > 1:
        return _gemm_cost(gpu, op)
    return _stream_cost(gpu, op)


def fused_attention_cost(gpu: GPUConfig, qk: Op, softmax: Op, av: Op) -> OpCost:
    """Cost of a FlashAttention-style kernel doing ``qk``, ``softmax`` and ``av`` at once.

    Q, K, V are read once and the context written once; scores never leave the SM. One CTA
    per 128 query rows of each (batch, head) group runs in waves over the SMs. Its math
    (both products on tensor cores) and its softmax (one exp on the SFUs plus a few ALU ops
    per score) do not overlap, as in FlashAttention-2.
    """
    g, m, k, t = qk.gemm
    fmt = resolve_format(compute_format(qk.precision), gpu.rates(), _FALLBACK)
    rate = gpu.rates()[fmt] * gpu.tensor_efficiency
    rows = 128
    per_cta_scores = rows * t
    mma_c = 2.0 * per_cta_scores * (k + av.gemm[3]) / rate
    soft_c = per_cta_scores * (1.0 / gpu.sfu_ops_per_cycle_per_sm
                               + _SOFTMAX_ALU_OPS / gpu.fp32_ops_per_cycle_per_sm)
    waves = math.ceil(g * math.ceil(m / rows) / gpu.sms)
    compute_s = waves * (gpu.dram_latency_s * gpu.freq_hz + mma_c + soft_c) / gpu.freq_hz
    read = qk.input_bytes + math.prod(av.in_shapes[1]) * av.precision.act_bits / 8.0
    dram_s = (read + av.output_bytes) / _hbm_bw(gpu)
    macs = float(qk.macs + av.macs)
    latency = max(compute_s, dram_s) + _fixed_s(gpu)
    peak = gpu.rates()[fmt] / 2.0 * gpu.sms
    return _finish(gpu, qk, latency=latency, compute_cycles=compute_s * gpu.freq_hz, fmt=fmt,
                   executed=macs, util=macs / (peak * compute_s * gpu.freq_hz), l2_bytes=read,
                   dram=(read, av.output_bytes), skipped=0.0)
