"""Cost of one op on a systolic design, in its realistic or SCALE-Sim mode.

The flow of ``op_cost``:

1. conv2d and matmul become a ``GemmWork`` (format, N:M skipping, bytes, MAC split);
2. the mode counts cycles and bytes: ``realistic`` runs the fold model (``_kernels``:
   double-buffered preloads, partial sums on chip, DRAM re-fetches from SRAM capacity,
   stalls at the DRAM bandwidth), ``scalesim`` takes SCALE-Sim 3.0.0's compute cycles and
   SRAM requests (``_scalesim``) with compulsory DRAM traffic and no stalls;
3. counts become an ``OpCost`` with energy per component from ``physical``.

Elementwise, pool, softmax, norm and embedding ops run on the vector unit (``vector_lanes``
operations per cycle, streamed from DRAM; realistic mode stalls when DRAM is slower).
With ``keep_activations_on_chip`` an activation of at most half the ifmap SRAM stays on
chip between ops in both modes (no DRAM read of it, no DRAM write of it).
Input, reshape and concat cost nothing: producers write straight into the slice of the
concatenated buffer and reshapes relabel addresses, so no byte moves.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from accelerators.systolic._kernels import FIELDS, N_FIELDS, _gemm_kernel
from accelerators.systolic._scalesim import ScaleSimLayer, dataflow_code, scalesim_sweep
from accelerators.systolic.physical import vector_op_energy_j
from accelerators.systolic.work import GemmWork, gemm_work, is_mac_op
from hwsim.accelerator import ZERO_COST, EnergyBreakdown, OpCost
from hwsim.graph import Op, OpKind

if TYPE_CHECKING:
    from accelerators.systolic.config import SystolicConfig

__all__ = ["VECTOR_KINDS", "fold_counts", "op_cost", "scalesim_layer_of"]

VECTOR_KINDS = frozenset({OpKind.ELEMENTWISE, OpKind.POOL, OpKind.SOFTMAX, OpKind.NORM,
                          OpKind.EMBEDDING})


def op_cost(config: SystolicConfig, op: Op) -> OpCost:
    """Cost of ``op`` run alone on ``config`` (zero for ops that move no data)."""
    if is_mac_op(op):
        work = gemm_work(config, op)
        return to_op_cost(config, work, fold_counts(config, op, work))
    if op.kind in VECTOR_KINDS:
        return _vector_cost(config, op)
    return ZERO_COST


def fold_counts(config: SystolicConfig, op: Op, work: GemmWork) -> dict[str, float]:
    """Cycles and bytes (keys ``_kernels.FIELDS``) of a MAC op in the config's mode."""
    df = dataflow_code(config.dataflow.value)
    if config.mode.value == "scalesim":
        return _scalesim_counts(config, op, work, df)
    out = np.empty(N_FIELDS, dtype=np.float64)
    _gemm_kernel(work.groups, work.m, work.k_eff[df], work.n, df, config.rows, config.cols,
                 float(config.ifmap_sram_bytes), float(config.filter_sram_bytes),
                 float(config.ofmap_sram_bytes), config.dram_bw_bytes_per_cycle,
                 work.a_sram_bytes, work.a_dram_bytes, work.w_bytes[df], work.o_acc_bytes,
                 work.o_act_bytes, config.keep_activations_on_chip, out)
    return dict(zip(FIELDS, out.tolist(), strict=True))


def scalesim_layer_of(op: Op, work: GemmWork) -> ScaleSimLayer:
    """One group of ``op`` as a SCALE-Sim topology row.

    A batch-1 conv2d with equal strides keeps its geometry, with the smallest unpadded
    input that gives the op's output size, ``(P - 1) * stride + kernel`` (SCALE-Sim has no
    padding); every other MAC op is SCALE-Sim's GEMM row ``M, N, K``.
    """
    if op.kind is OpKind.CONV2D and op.out_shape[0] == 1 and op.stride[0] == op.stride[1]:
        _, _, p, q = op.out_shape
        _, c_group, kh, kw = op.weight_shape
        s = op.stride[0]
        return ScaleSimLayer(ifmap_h=(p - 1) * s + kh, ifmap_w=(q - 1) * s + kw, filt_h=kh,
                             filt_w=kw, channels=c_group, num_filters=work.n, stride=s)
    return ScaleSimLayer.from_gemm(m=work.m, n=work.n, k=work.k)


def scalesim_fields(work: GemmWork, cycles, ifmap_reads, filter_reads, ofmap_writes,
                    a_on_chip, o_on_chip) -> dict[str, object]:
    """Fold-model fields from SCALE-Sim's per-group counts (scalars or arrays).

    SRAM requests are words of the op's precision: ifmap reads of activations, filter reads
    of the second operand, ofmap writes of outputs. DRAM traffic is compulsory (each tensor
    once, activations kept on chip excepted) and fills the SRAMs; the output is read once
    from the ofmap SRAM to be written out (to the ifmap SRAM when kept on chip).
    """
    g = work.groups
    w_word = work.w_bytes[0] / (float(g) * work.k * work.n)
    zero = 0.0 * np.asarray(cycles, dtype=np.float64)
    a_dram = np.where(a_on_chip, 0.0, work.a_dram_bytes)
    o_dram = np.where(o_on_chip, 0.0, work.out_bytes)
    return {
        "compute_cycles": g * np.asarray(cycles, dtype=np.float64), "stall_cycles": zero,
        "dram_read_bytes": zero + a_dram + work.w_bytes[0],
        "dram_write_bytes": zero + o_dram,
        "ifmap_sram_read_bytes": g * np.asarray(ifmap_reads) * work.o_act_bytes,
        "ifmap_sram_write_bytes": zero + a_dram + (work.out_bytes - o_dram),
        "filter_sram_read_bytes": g * np.asarray(filter_reads) * w_word,
        "filter_sram_write_bytes": zero + work.w_bytes[0],
        "ofmap_sram_read_bytes": zero + work.out_bytes,
        "ofmap_sram_write_bytes": g * np.asarray(ofmap_writes) * work.o_act_bytes,
        "folds": zero,
    }


def _scalesim_counts(config: SystolicConfig, op: Op, work: GemmWork,
                     df: int) -> dict[str, float]:
    sweep = scalesim_sweep(scalesim_layer_of(op, work), config.rows, config.cols, df)
    c = sweep.point(0)
    fields = scalesim_fields(work, c.compute_cycles, c.ifmap_sram_reads, c.filter_sram_reads,
                             c.ofmap_sram_writes, config.keeps_on_chip(work.a_dram_bytes),
                             config.keeps_on_chip(work.out_bytes))
    fields["folds"] = float(work.groups * c.folds)
    return {k: float(v) for k, v in fields.items()}  # type: ignore[arg-type]


def to_op_cost(config: SystolicConfig, work: GemmWork, counts: dict[str, float]) -> OpCost:
    """The ``OpCost`` of a MAC op from its fold-model counts."""
    df = dataflow_code(config.dataflow.value)
    if config.mode.value == "scalesim":
        df = 0  # SCALE-Sim skips nothing: every dataflow has the dense split
    compute, stall = counts["compute_cycles"], counts["stall_cycles"]
    issued = work.macs_executed[df] + work.macs_gated[df]
    peak = config.rows * config.cols * work.multiplier * compute
    mac_j = work.mac_energy_j * (work.macs_executed[df]
                                 + config.gated_mac_energy_fraction * work.macs_gated[df])
    return OpCost(
        latency_s=(compute + stall) / config.freq_hz, cycles=compute + stall,
        compute_cycles=compute, stall_cycles=stall,
        sram_read_bytes=_sram_total(counts, "read"), sram_write_bytes=_sram_total(counts, "write"),
        dram_read_bytes=counts["dram_read_bytes"], dram_write_bytes=counts["dram_write_bytes"],
        macs_executed=work.macs_executed[df], macs_gated=work.macs_gated[df],
        macs_skipped=work.macs_skipped[df],
        utilization=min(1.0, issued / peak) if peak else 0.0,
        energy=EnergyBreakdown(compute_j=mac_j, sram_j=sram_energy_j(config, counts),
                               dram_j=dram_energy_j(config, counts)),
    )


def _sram_total(counts: dict[str, float], action: str) -> float:
    return sum(counts[f"{buf}_sram_{action}_bytes"] for buf in ("ifmap", "filter", "ofmap"))


def sram_energy_j(config: SystolicConfig, counts: dict) -> float:
    """SRAM energy of fold-model byte counts (scalars or arrays) on ``config``'s buffers."""
    e = config.sram_energy
    return (counts["ifmap_sram_read_bytes"] * e.ifmap_read
            + counts["ifmap_sram_write_bytes"] * e.ifmap_write
            + counts["filter_sram_read_bytes"] * e.filter_read
            + counts["filter_sram_write_bytes"] * e.filter_write
            + counts["ofmap_sram_read_bytes"] * e.ofmap_read
            + counts["ofmap_sram_write_bytes"] * e.ofmap_write)


def dram_energy_j(config: SystolicConfig, counts: dict) -> float:
    """DRAM energy of the bytes read and written."""
    return (counts["dram_read_bytes"] + counts["dram_write_bytes"]) * config.dram_energy_per_byte_j


def vector_bytes(op: Op) -> tuple[float, float, float]:
    """(input, weight, output) bytes a vector-unit op moves; embeddings read only used rows."""
    return op.input_bytes, op.weight_read_bytes, op.output_bytes


def vector_compute_cycles(op: Op, lanes: int) -> int:
    """Cycles of a vector-unit op: its operations (at least one per output) over the lanes."""
    return math.ceil(max(op.flops, op.out_elements) / lanes)


def vector_fields(op: Op, lanes: int, a_dram: Any, o_dram: Any) -> dict[str, Any]:
    """Fold-model fields of a vector-unit op before stalls (scalars or arrays).

    Inputs pass through the ifmap SRAM, weights through the filter SRAM and outputs through
    the ofmap SRAM; ``a_dram`` and ``o_dram`` are the input and output bytes that cross DRAM.
    """
    a, w, o = vector_bytes(op)
    zero = 0.0 * np.asarray(a_dram, dtype=np.float64)
    return {"compute_cycles": zero + vector_compute_cycles(op, lanes), "stall_cycles": zero,
            "ifmap_sram_read_bytes": zero + a, "ifmap_sram_write_bytes": zero + a,
            "filter_sram_read_bytes": zero + w, "filter_sram_write_bytes": zero + w,
            "ofmap_sram_read_bytes": zero + o, "ofmap_sram_write_bytes": zero + o,
            "dram_read_bytes": a_dram + w, "dram_write_bytes": zero + o_dram, "folds": zero}


def _vector_cost(config: SystolicConfig, op: Op) -> OpCost:
    """Vector-unit op: stream inputs through the SRAMs (from DRAM unless kept on chip)."""
    a, w, o = vector_bytes(op)
    a_dram = 0.0 if config.keeps_on_chip(a) else a
    o_dram = 0.0 if config.keeps_on_chip(o) else o
    counts = {k: float(v) for k, v in
              vector_fields(op, config.vector_lanes, a_dram, o_dram).items()}
    compute = counts["compute_cycles"]
    stall = 0.0
    if config.mode.value == "realistic":
        moved = counts["dram_read_bytes"] + counts["dram_write_bytes"]
        stall = max(0.0, moved / config.dram_bw_bytes_per_cycle - compute)
    energy = EnergyBreakdown(
        compute_j=max(op.flops, op.out_elements) * vector_op_energy_j(config.tech, op.precision),
        sram_j=sram_energy_j(config, counts), dram_j=dram_energy_j(config, counts))
    return OpCost(
        latency_s=(compute + stall) / config.freq_hz, cycles=compute + stall,
        compute_cycles=compute, stall_cycles=stall,
        sram_read_bytes=_sram_total(counts, "read"), sram_write_bytes=_sram_total(counts, "write"),
        dram_read_bytes=counts["dram_read_bytes"], dram_write_bytes=counts["dram_write_bytes"],
        energy=energy)
