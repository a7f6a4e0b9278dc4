"""Vectorised evaluation of many systolic design points (``SystolicDesigns``).

``sweep_costs`` costs one op at every point in one kernel call; ``evaluate_designs`` costs a
whole graph (one kernel call for all its MAC layers in realistic mode) and returns per-point
latency, energy and area, equal to ``analytic_report(graph, designs.config(i))`` for each
point ``i``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from accelerators.systolic import physical
from accelerators.systolic._kernels import (
    FIELDS,
    LAYER_COLUMNS,
    N_FIELDS,
    _graph_kernel,
    _points_kernel,
)
from accelerators.systolic._scalesim import scalesim_sweep
from accelerators.systolic.designs import SystolicDesigns
from accelerators.systolic.model import (
    VECTOR_KINDS,
    scalesim_fields,
    scalesim_layer_of,
    vector_bytes,
    vector_fields,
)
from accelerators.systolic.work import GemmWork, gemm_work, is_mac_op
from hwsim.accelerator import batch_of
from hwsim.graph import Graph, Op

__all__ = ["evaluate_designs", "sweep_costs"]


def _mac_fields(work: GemmWork, op: Op, d: SystolicDesigns) -> dict[str, np.ndarray]:
    """Fold-model fields of a MAC op at every point (keys ``_kernels.FIELDS``)."""
    if d.base.mode.value == "scalesim":
        sweep = scalesim_sweep(scalesim_layer_of(op, work), d.rows, d.cols, d.dataflow)
        fields = scalesim_fields(work, sweep.column("compute_cycles"),
                                 sweep.column("ifmap_sram_reads"),
                                 sweep.column("filter_sram_reads"),
                                 sweep.column("ofmap_sram_writes"),
                                 _on_chip(d, work.a_dram_bytes), _on_chip(d, work.out_bytes))
        fields["folds"] = work.groups * sweep.column("row_folds") * sweep.column("col_folds")
        return {k: np.asarray(v, dtype=np.float64) for k, v in fields.items()}
    out = np.empty((len(d), N_FIELDS), dtype=np.float64)
    cap_i, cap_f, cap_o = _float_caps(d)
    _points_kernel(work.groups, work.m, np.array(work.k_eff, np.int64), work.n,
                   work.a_sram_bytes, work.a_dram_bytes, np.array(work.w_bytes), work.o_acc_bytes,
                   work.o_act_bytes, d.base.keep_activations_on_chip, d.rows, d.cols,
                   d.dataflow, cap_i, cap_f, cap_o,
                   d.bw_bytes_per_cycle, out)
    return {name: out[:, i] for i, name in enumerate(FIELDS)}


def _float_caps(d: SystolicDesigns) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    i, f, o = (np.asarray(c, dtype=np.float64) for c in d.sram_bytes)
    return i, f, o


def _split_by_point(values: tuple[float, float, float], d: SystolicDesigns) -> np.ndarray:
    """A per-dataflow triple picked per point (SCALE-Sim mode skips nothing: the dense one)."""
    table = np.asarray(values, dtype=np.float64)
    return table[0 * d.dataflow] if d.base.mode.value == "scalesim" else table[d.dataflow]


def _energies(d: SystolicDesigns, f: Mapping[str, Any], compute_j: Any) -> dict[str, Any]:
    e = physical.sram_energy(d.base, d.sram_bytes)
    sram = sum(f[f"{b}_sram_{a}_bytes"] * getattr(e, f"{b}_{a}")
               for b in ("ifmap", "filter", "ofmap") for a in ("read", "write"))
    dram = (f["dram_read_bytes"] + f["dram_write_bytes"]) * d.base.dram_energy_per_byte_j
    return {"compute_j": compute_j + 0.0 * sram, "sram_j": sram, "dram_j": dram,
            "energy_j": compute_j + sram + dram}


def sweep_costs(op: Op, designs: SystolicDesigns) -> dict[str, np.ndarray]:
    """Cost of ``op`` at every design point, arrays of shape (n,).

    Keys: ``_kernels.FIELDS`` plus ``cycles``, ``latency_s``, ``sram_read_bytes``,
    ``sram_write_bytes``, ``macs_executed``,
    ``macs_gated``, ``macs_skipped``, ``utilization``, ``compute_j``, ``sram_j``, ``dram_j``
    and ``energy_j``; each equals the same field of ``op_cost`` at that point.
    """
    d, n = designs, len(designs)
    if is_mac_op(op):
        work = gemm_work(d.base, op)
        f = _mac_fields(work, op, d)
        executed = _split_by_point(work.macs_executed, d)
        gated = _split_by_point(work.macs_gated, d)
        f["macs_skipped"] = _split_by_point(work.macs_skipped, d)
        peak = d.rows * d.cols * work.multiplier * f["compute_cycles"]
        f["utilization"] = np.minimum(1.0, (executed + gated) / np.maximum(peak, 1e-300))
        compute_j = work.mac_energy_j * (executed + d.base.gated_mac_energy_fraction * gated)
    else:
        f = _vector_fields(op, d) if op.kind in VECTOR_KINDS else _zero_fields(n)
        executed = gated = f["macs_skipped"] = f["utilization"] = np.zeros(n)
        per_op = max(op.flops, op.out_elements) * physical.vector_op_energy_j(d.base.tech,
                                                                                op.precision)
        compute_j = np.full(n, per_op if op.kind in VECTOR_KINDS else 0.0)
    f["macs_executed"], f["macs_gated"] = executed, gated
    f["cycles"] = f["compute_cycles"] + f["stall_cycles"]
    f["latency_s"] = f["cycles"] / d.freq_hz
    for action in ("read", "write"):
        f[f"sram_{action}_bytes"] = (f[f"ifmap_sram_{action}_bytes"]
                                     + f[f"filter_sram_{action}_bytes"]
                                     + f[f"ofmap_sram_{action}_bytes"])
    f.update(_energies(d, f, compute_j))
    return f


def _zero_fields(n: int) -> dict[str, np.ndarray]:
    return {name: np.zeros(n) for name in FIELDS}


def _on_chip(d: SystolicDesigns, activation_bytes: float) -> np.ndarray:
    """Per point: whether an activation of this size stays on chip between ops."""
    keep = d.base.keep_activations_on_chip
    return np.asarray(keep & (activation_bytes <= d.ifmap_sram_bytes / 2))


def _vector_fields(op: Op, d: SystolicDesigns) -> dict[str, np.ndarray]:
    a, _, o = vector_bytes(op)
    a_dram = np.where(_on_chip(d, a), 0.0, a)
    o_dram = np.where(_on_chip(d, o), 0.0, o)
    f = vector_fields(op, d.base.vector_lanes, a_dram, o_dram)
    if d.base.mode.value == "realistic":
        moved = f["dram_read_bytes"] + f["dram_write_bytes"]
        f["stall_cycles"] = np.maximum(0.0, moved / d.bw_bytes_per_cycle - f["compute_cycles"])
    return f


def _layer_table(works: list[GemmWork]) -> np.ndarray:
    """The ``_kernels.LAYER_COLUMNS`` table of the MAC layers, shape (n_layers, 13)."""
    rows = [(w.groups, w.m, w.n, *w.k_eff, w.a_sram_bytes, w.a_dram_bytes, *w.w_bytes,
             w.o_acc_bytes, w.o_act_bytes) for w in works]
    return np.array(rows, dtype=np.float64).reshape(len(works), len(LAYER_COLUMNS))


def _mac_totals(ops: list[Op], works: list[GemmWork], d: SystolicDesigns) -> dict[str, Any]:
    """Fold-model fields summed over every MAC layer, per point."""
    if d.base.mode.value == "scalesim":
        total = _zero_fields(len(d))
        for op, work in zip(ops, works, strict=True):
            for key, value in _mac_fields(work, op, d).items():
                total[key] += value
        return total
    out = np.empty((len(d), N_FIELDS), dtype=np.float64)
    cap_i, cap_f, cap_o = _float_caps(d)
    _graph_kernel(_layer_table(works), d.base.keep_activations_on_chip, d.rows, d.cols,
                  d.dataflow, cap_i, cap_f, cap_o, d.bw_bytes_per_cycle, out)
    return {name: out[:, i] for i, name in enumerate(FIELDS)}


def _mac_compute_j(works: list[GemmWork], d: SystolicDesigns) -> np.ndarray:
    """MAC energy summed over the layers, per point (it depends on the dataflow only)."""
    frac = d.base.gated_mac_energy_fraction
    per_df = [sum(w.mac_energy_j * (w.macs_executed[i] + frac * w.macs_gated[i]) for w in works)
              for i in range(3)]
    return _split_by_point((per_df[0], per_df[1], per_df[2]), d)


def evaluate_designs(graph: Graph, designs: SystolicDesigns) -> dict[str, np.ndarray]:
    """Whole-graph totals at every design point, arrays of shape (n,).

    Ops run one after another (as ``analytic_report``). Keys: ``latency_s``,
    ``throughput_per_s``, ``energy_j`` (dynamic plus leakage over the latency),
    ``dynamic_energy_j``, ``compute_j``, ``sram_j``, ``dram_j``, ``static_j``, ``area_mm2``,
    ``static_power_w``, ``cycles``, ``compute_cycles``, ``stall_cycles``, ``dram_bytes``.
    """
    d = designs
    mac_ops = [op for op in graph.ops if is_mac_op(op)]
    works = [gemm_work(d.base, op) for op in mac_ops]
    f = _mac_totals(mac_ops, works, d)
    compute_j = _mac_compute_j(works, d)
    for op in graph.ops:
        if op.kind in VECTOR_KINDS:
            for key, value in _vector_fields(op, d).items():
                f[key] = f[key] + value
            compute_j = compute_j + max(op.flops, op.out_elements) * physical.vector_op_energy_j(
                d.base.tech, op.precision)
    out = _energies(d, f, compute_j)
    out["dynamic_energy_j"] = out.pop("energy_j")
    out["compute_cycles"], out["stall_cycles"] = f["compute_cycles"], f["stall_cycles"]
    out["cycles"] = f["compute_cycles"] + f["stall_cycles"]
    out["dram_bytes"] = f["dram_read_bytes"] + f["dram_write_bytes"]
    out["latency_s"] = out["cycles"] / d.freq_hz
    out["throughput_per_s"] = batch_of(graph) / np.where(out["latency_s"] > 0, out["latency_s"],
                                                         np.inf)
    caps = d.sram_bytes
    out["static_power_w"] = (physical.static_power_w(d.base, rows=d.rows, cols=d.cols,
                                                     sram_bytes=caps) + 0.0 * d.freq_hz)
    out["area_mm2"] = physical.area_mm2(d.base, rows=d.rows, cols=d.cols, sram_bytes=caps) \
        + 0.0 * d.freq_hz
    out["static_j"] = out["static_power_w"] * out["latency_s"]
    out["energy_j"] = out["dynamic_energy_j"] + out["static_j"]
    return out
