"""A MAC op as the systolic cost model sees it: GEMM dims, bytes and MAC split per dataflow.

``gemm_work(config, op)`` resolves everything about an op that does not depend on the array
shape or the SRAM sizes: the format it runs in and that format's throughput multiplier, the
N:M weight pattern the array skips (weight-stationary only), the reduction length after
packing ``k_eff``, the bytes of each operand, and how its MACs split into executed, gated
(zero operand, clock-gated: time spent, energy mostly saved) and skipped (neither).

Per-dataflow fields are tuples indexed by the dataflow code (0 = os, 1 = ws, 2 = is): only
weight-stationary skips N:M zeros, so only its entry can differ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from accelerators.systolic.formats import FormatSpec, executed_format
from accelerators.systolic.physical import mac_energy_j
from hwsim.graph import Op, OpKind, SparsityPattern

if TYPE_CHECKING:
    from accelerators.systolic.config import SystolicConfig

__all__ = ["WS_CODE", "GemmWork", "gemm_work", "is_mac_op", "usable_pattern"]

WS_CODE = 1


@dataclass(frozen=True)
class GemmWork:
    """Everything the fold model needs about one MAC op, independent of the array.

    groups, m, k, n: the op as ``groups`` GEMMs ``M x K @ K x N`` (dense K).
    k_eff: reduction length per dataflow after N:M skipping and format packing.
    a_sram_bytes: input-operand bytes the array reads (im2col view, dense K).
    a_dram_bytes: bytes of the real input tensor. w_bytes: stored second-operand bytes per
    dataflow (N:M-compressed with metadata where skipped). o_acc_bytes, o_act_bytes: bytes
    of one output element as a partial sum and as an activation. out_bytes: the output.
    macs_*: dense MACs split per dataflow. mac_energy_j: one executed MAC.
    fmt, multiplier: executed format and its MACs per PE per cycle.
    """

    groups: int
    m: int
    k: int
    n: int
    k_eff: tuple[int, int, int]
    a_sram_bytes: float
    a_dram_bytes: float
    w_bytes: tuple[float, float, float]
    o_acc_bytes: float
    o_act_bytes: float
    out_bytes: float
    macs: int
    macs_executed: tuple[float, float, float]
    macs_gated: tuple[float, float, float]
    macs_skipped: tuple[float, float, float]
    mac_energy_j: float
    fmt: FormatSpec
    multiplier: float

    @property
    def issued(self) -> tuple[float, float, float]:
        """MACs the array issues per dataflow (executed plus gated)."""
        e, g = self.macs_executed, self.macs_gated
        return e[0] + g[0], e[1] + g[1], e[2] + g[2]


def _nm_fits(n: int, m: int, hw_n: int, hw_m: int) -> bool:
    """Whether every aligned ``hw_m`` block of an ``n:m`` tensor has at most ``hw_n`` nonzeros."""
    if hw_m % m == 0:
        return (hw_m // m) * n <= hw_n
    if m % hw_m == 0:
        return min(n, hw_m) <= hw_n
    return False


def usable_pattern(config: SystolicConfig, op: Op) -> tuple[int, int] | None:
    """The sparsest N:M pattern of the design that the op's weights satisfy, or None.

    Only weights with an N:M pattern qualify: the array cannot find unstructured zeros.
    Ties in density go to the smaller block (less metadata).
    """
    sp = op.sparsity
    if not op.weight_shape or sp.pattern is not SparsityPattern.NM:
        return None
    usable = [(hw_n / hw_m, hw_m, hw_n) for hw_n, hw_m in config.nm_sparsity
              if _nm_fits(sp.n, sp.m, hw_n, hw_m)]
    if not usable:
        return None
    _, hw_m, hw_n = min(usable)
    return hw_n, hw_m


def _second_operand_bytes(op: Op) -> float:
    if op.weight_shape:
        return op.weight_bytes
    return math.prod(op.in_shapes[1]) * op.precision.act_bits / 8.0


def _compressed_bytes(op: Op, hw_n: int, hw_m: int) -> float:
    """Stored bytes of N:M-compressed weights: kept values plus log2(M)-bit indices."""
    kept = math.prod(op.weight_shape) * hw_n / hw_m
    bias = op.weight_bytes - math.prod(op.weight_shape) * op.precision.weight_bits / 8.0
    return kept * (op.precision.weight_bits + math.ceil(math.log2(hw_m))) / 8.0 + bias


def _mac_split(config: SystolicConfig, op: Op, density: float) -> tuple[float, float, float]:
    """(executed, gated, skipped) MACs when the array issues ``density`` of the weights."""
    macs = float(op.macs)
    issued = macs * density
    if not config.zero_gating:
        return issued, 0.0, macs - issued
    nonzero = min(issued, macs * op.sparsity.weight_density * op.sparsity.act_density)
    return nonzero, issued - nonzero, macs - issued


def gemm_work(config: SystolicConfig, op: Op) -> GemmWork:
    """The fold-model view of a conv2d or matmul ``op`` on ``config``'s formats and sparsity."""
    g, m, k, n = op.gemm
    fmt, mult = executed_format(op.precision, config.formats)
    prec = op.precision
    pattern = usable_pattern(config, op)
    w_dense = w_ws = _second_operand_bytes(op)
    k_dense = k_ws = math.ceil(k / mult)
    density = 1.0
    if pattern is not None:
        density = pattern[0] / pattern[1]
        k_ws = math.ceil(math.ceil(k * pattern[0] / pattern[1]) / mult)
        w_ws = _compressed_bytes(op, *pattern)
    dense, sparse = _mac_split(config, op, 1.0), _mac_split(config, op, density)
    splits = (dense, sparse, dense)
    a_shape = op.in_shapes[0]
    return GemmWork(
        groups=g, m=m, k=k, n=n, k_eff=(k_dense, k_ws, k_dense),
        a_sram_bytes=float(g) * m * k * prec.act_bits / 8.0,
        a_dram_bytes=math.prod(a_shape) * prec.act_bits / 8.0,
        w_bytes=(w_dense, w_ws, w_dense),
        o_acc_bytes=prec.acc_bits / 8.0, o_act_bytes=prec.act_bits / 8.0,
        out_bytes=op.output_bytes, macs=op.macs,
        macs_executed=tuple(s[0] for s in splits),  # type: ignore[arg-type]
        macs_gated=tuple(s[1] for s in splits),  # type: ignore[arg-type]
        macs_skipped=tuple(s[2] for s in splits),  # type: ignore[arg-type]
        mac_energy_j=mac_energy_j(config.tech, fmt, prec.acc_bits),
        fmt=fmt, multiplier=mult,
    )


def is_mac_op(op: Op) -> bool:
    """Whether ``op`` runs on the MAC array (a conv2d or matmul with work to do)."""
    return op.kind in (OpKind.CONV2D, OpKind.MATMUL) and op.macs > 0
