"""Op costs on a ``CPUConfig``; the model is described in ``accelerators.cpu``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from accelerators._common import (
    action_energy,
    cap_to_power,
    compute_format,
    mac_energy_j,
    overhead_mac_j,
    resolve_format,
)
from hwsim.accelerator import EnergyBreakdown, OpCost
from hwsim.graph import MAC_KINDS, Op, OpKind

if TYPE_CHECKING:
    from accelerators.cpu import CPUConfig

_FALLBACK = {"int4": "int8", "int8": "fp32", "fp8": "bf16", "bf16": "fp32", "fp16": "fp32",
             "int16": "fp32"}
NR = 4  # columns of the register tile (micro-kernel); rows are one SIMD register of fp32
_VIEW_FUNCS = frozenset({"reshape", "flatten"})


@dataclass(frozen=True)
class Timing:
    """How one op spends its time and moves its bytes (before energy)."""

    latency_s: float
    core_s: float
    active: int
    fmt: str
    level: str
    read_bytes: float
    write_bytes: float
    dram_read_bytes: float
    dram_write_bytes: float


def is_gemm(op: Op) -> bool:
    """Whether ``op`` runs as a cache-blocked GEMM (rather than a vector loop)."""
    if op.kind not in MAC_KINDS:
        return False
    _, m, _, n = op.gemm
    depthwise = op.kind is OpKind.CONV2D and n == 1 and op.groups > 1
    return not depthwise and m > 1 and n > 1


def is_view(op: Op) -> bool:
    """Whether ``op`` moves no data (graph inputs and pure reshapes)."""
    return op.kind is OpKind.INPUT or (op.kind is OpKind.RESHAPE and op.func in _VIEW_FUNCS)


def op_format(cfg: CPUConfig, op: Op) -> str:
    """The compute format ``op`` runs in on ``cfg`` (after falling back to wider formats)."""
    return resolve_format(compute_format(op.precision), cfg.rates(), _FALLBACK)


def _padded(x: int, tile: int) -> int:
    return math.ceil(x / tile) * tile


def _calls(cfg: CPUConfig, op: Op) -> int:
    """Library calls an op takes: one, or one per group when batches are a loop of calls."""
    return 1 if cfg.batch_parallel else op.gemm[0]


def _threads(cfg: CPUConfig, work: float) -> int:
    """Cores a call uses: each gets at least ``parallel_min_macs`` of work (as OpenBLAS
    sizes its thread count), one when the work is smaller."""
    if cfg.parallel_min_macs <= 0:
        return cfg.cores
    return max(1, min(cfg.cores, int(work / cfg.parallel_min_macs)))


def _call_overhead_s(cfg: CPUConfig, active: int) -> float:
    """Fixed cost of one library call (forking threads when it uses several cores)."""
    return cfg.call_s + (cfg.parallel_overhead_s if active > 1 else 0.0)


def _gemm_bytes(op: Op) -> tuple[float, float, float]:
    """Compulsory bytes of the A, B and C operands of a product."""
    act = op.precision.act_bits / 8.0
    a = math.prod(op.in_shapes[0]) * act
    b = op.weight_bytes if op.weight_shape else math.prod(op.in_shapes[1]) * act
    return a, b, op.output_bytes


def _cold_s(cfg: CPUConfig, weight_bytes: float, level: str, active: int) -> float:
    """Time to stream an op's weights from DRAM while its other data are served from
    ``level``: an inference reads every weight once, so the weights are never warm in a
    cache (other layers' weights evicted them), even when the op's working set fits it."""
    if level == "dram":
        return 0.0
    return weight_bytes / cfg.bandwidth("dram", active)


def _blocking(cfg: CPUConfig, elem_bytes: float) -> tuple[int, int]:
    """GotoBLAS block sizes ``(kc, nc)``: micro-panels of A and B fill half of L1, a
    ``kc x nc`` panel of B half of the last cache level."""
    kc = max(16, int(0.5 * cfg.l1_bytes / ((cfg.lanes + NR) * elem_bytes)))
    last = cfg.l3_bytes or cfg.l2_bytes
    nc = max(NR, int(0.5 * last / (kc * elem_bytes)))
    return kc, nc


def _gemm(cfg: CPUConfig, op: Op) -> Timing:
    g, m, k, n = op.gemm
    fmt = op_format(cfg, op)
    calls = _calls(cfg, op)
    groups = g // calls
    tiles = groups * math.ceil(m / cfg.lanes) * math.ceil(n / NR)
    active = min(_threads(cfg, op.macs / calls), tiles)
    imbalance = math.ceil(tiles / active) / (tiles / active)
    flops = 2.0 * groups * _padded(m, cfg.lanes) * k * _padded(n, NR)
    rate = active * cfg.core_flops_per_cycle(fmt) * cfg.clock_hz(active) * cfg.gemm_efficiency
    core_s = flops * imbalance / rate
    a, b, c = (x / calls for x in _gemm_bytes(op))
    w = op.weight_read_bytes / calls
    level = cfg.level_of(a + b + c, active)
    kc, nc = _blocking(cfg, op.precision.act_bits / 8.0)
    k_blocks = math.ceil(k / kc)
    ab = a + b if level in ("l1", "l2") else a * math.ceil(n / nc) + b
    bw = cfg.bandwidth(level, active)
    c_moves = c * (1 + 2 * k_blocks)  # beta pass, then read and write per kc block
    t_ab = max(ab / bw, _cold_s(cfg, w, level, active))
    call_s = max(core_s, t_ab) + c_moves / bw + _call_overhead_s(cfg, active)
    read, write = calls * (ab + c * k_blocks), calls * c * (1 + k_blocks)
    dram = (read, write) if level == "dram" else (calls * w, 0.0)
    return Timing(latency_s=cfg.dispatch_s + calls * call_s, core_s=calls * core_s,
                  active=active, fmt=fmt, level=level, read_bytes=read, write_bytes=write,
                  dram_read_bytes=dram[0], dram_write_bytes=dram[1])


def _vector_bytes(op: Op) -> tuple[float, float]:
    """Bytes read and written by a vector loop (an embedding reads its int32 ids and the
    rows it gathers)."""
    return op.input_bytes + op.weight_read_bytes, op.output_bytes


def _vector(cfg: CPUConfig, op: Op) -> Timing:
    """GEMV, depthwise convolution and every non-product op: a streaming loop."""
    fmt = op_format(cfg, op)
    product = op.kind in MAC_KINDS
    calls = _calls(cfg, op) if product else 1
    work = max(op.macs, op.out_elements) / calls
    threaded = product or cfg.parallel_vector_ops
    active = _threads(cfg, work) if threaded else 1
    read, write = _vector_bytes(op)
    level = cfg.level_of((read + write) / calls, active)
    if level == "dram":
        read += write  # write-allocate: a missed line is read before it is written
    clock = cfg.clock_hz(active)
    if product:
        core_s = 2.0 * op.macs / (active * cfg.core_flops_per_cycle(fmt) * clock)
    else:
        core_s = op.flops / (active * cfg.lanes * cfg.fma_units * clock)
    w = op.weight_read_bytes
    data_s = max((read + write) / cfg.bandwidth(level, active),
                 _cold_s(cfg, w, level, active))
    latency = max(core_s, data_s) + cfg.dispatch_s + calls * _call_overhead_s(cfg, active)
    dram = (read, write) if level == "dram" else (w, 0.0)
    return Timing(latency_s=latency, core_s=core_s, active=active, fmt=fmt, level=level,
                  read_bytes=read, write_bytes=write, dram_read_bytes=dram[0],
                  dram_write_bytes=dram[1])


def _energy(cfg: CPUConfig, op: Op, t: Timing) -> EnergyBreakdown:
    """Dynamic energy estimate, capped by the active cores' share of the power budget."""
    macs = op.macs if op.kind in MAC_KINDS else op.flops / 2.0
    tech = cfg.technology
    raw = action_energy(
        tech=tech, mac_j=mac_energy_j(tech, t.fmt), macs=macs,
        overhead_j=overhead_mac_j(tech, fmt=t.fmt, ref_fmt="fp32", rates=cfg.rates(),
                                  overhead=cfg.datapath_overhead),
        sram_bytes=t.read_bytes + t.write_bytes,
        sram_capacity_bytes=cfg.l2_bytes, dram_bytes=t.dram_read_bytes + t.dram_write_bytes,
        dram_type=cfg.dram_type)
    budget_w = (cfg.tdp_w - cfg.idle_w) * t.active / cfg.cores
    return cap_to_power(raw, latency_s=t.latency_s, power_w=budget_w)


def _to_cost(cfg: CPUConfig, op: Op, t: Timing) -> OpCost:
    clock = cfg.clock_hz(t.active)
    cycles = t.latency_s * clock
    compute_cycles = min(t.core_s * clock, cycles)
    peak_macs = t.active * cfg.core_flops_per_cycle(t.fmt) / 2.0
    util = op.macs / (peak_macs * compute_cycles) if op.macs and compute_cycles else 0.0
    return OpCost(
        latency_s=t.latency_s, cycles=cycles, compute_cycles=compute_cycles,
        stall_cycles=cycles - compute_cycles, sram_read_bytes=t.read_bytes,
        sram_write_bytes=t.write_bytes, dram_read_bytes=t.dram_read_bytes,
        dram_write_bytes=t.dram_write_bytes, macs_executed=float(op.macs),
        utilization=min(util, 1.0), energy=_energy(cfg, op, t),
    )


def cpu_timing(cfg: CPUConfig, op: Op) -> Timing:
    """Timing of ``op`` on ``cfg`` (``op`` must not be a view)."""
    return _gemm(cfg, op) if is_gemm(op) else _vector(cfg, op)


def cpu_op_cost(cfg: CPUConfig, op: Op) -> OpCost:
    """Cost of ``op`` on ``cfg``: zero for views, else a GEMM or a vector loop."""
    if is_view(op):
        return OpCost(latency_s=0.0)
    return _to_cost(cfg, op, cpu_timing(cfg, op))
