"""Design-space plots: Pareto front, parallel coordinates, speedup bars, energy breakdown,
roofline. Each takes a DataFrame (and an optional Axes) and returns the Figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from hwsim.explore.pareto import pareto_mask

#: Axis labels with units for the metric columns hwsim produces.
LABELS = {
    "latency_s": "latency (s)",
    "energy_j": "energy (J)",
    "avg_power_w": "average power (W)",
    "area_mm2": "area (mm²)",
    "throughput_per_s": "throughput (inferences/s)",
    "edp_js": "energy-delay product (J·s)",
    "accuracy": "top-1 accuracy",
    "fidelity_sqnr_db": "fidelity proxy SQNR (dB)",
}


def _axes(ax: Axes | None, size: tuple[float, float] = (6.4, 4.8)) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax  # type: ignore[return-value]
    # A bare Figure (no pyplot): no global state, no GUI backend needed.
    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.subplots()


def _label(col: str) -> str:
    return LABELS.get(col, col)


def _require(df: pd.DataFrame, cols: Sequence[str]) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"columns {missing} not in the table; it has {list(df.columns)}")


def _numeric(df: pd.DataFrame, cols: Sequence[str]) -> None:
    """Raise ``ValueError`` naming the first of ``cols`` that holds something not a number."""
    _require(df, cols)
    for c in cols:
        values = pd.to_numeric(df[c], errors="coerce")
        bad = df[c].notna() & values.isna()
        if bad.any():
            raise ValueError(f"column {c!r} must hold numbers to be plotted, "
                             f"got {df[c][bad].iloc[0]!r}")


def pareto_plot(df: pd.DataFrame, x: str, y: str, *, color: str | None = None,
                senses: tuple[str, str] = ("min", "min"), ax: Axes | None = None,
                log: bool = True) -> Figure:
    """2-D Pareto front of ``y`` against ``x``: dominated points faded, the front
    highlighted and joined, an optional third column as colour. ``log`` puts an axis on a
    log scale when all its values are > 0."""
    _numeric(df, [x, y] + ([color] if color else []))
    ok = df[[x, y]].notna().all(axis=1).to_numpy()
    data = df[ok]
    if data.empty:
        raise ValueError(f"no row has numbers in both {x!r} and {y!r}")
    front = pareto_mask(data[[x, y]].to_numpy(float), list(senses))
    fig, ax = _axes(ax)
    shade: dict[str, Any] = {}
    if color:  # one colour scale for both layers
        shade = {"cmap": "viridis", "vmin": data[color].min(), "vmax": data[color].max()}
    sc = ax.scatter(data[x][~front], data[y][~front], s=12, alpha=0.25, label="dominated",
                    c=data[color][~front] if color else "tab:blue", **shade)
    fr = data[front].sort_values(x)
    ax.scatter(fr[x], fr[y], s=40, edgecolor="black", linewidth=0.8, zorder=3,
               c=fr[color] if color else "tab:red", label="Pareto front", **shade)
    ax.plot(fr[x], fr[y], color="tab:red", linewidth=1.2, zorder=2)
    if color:
        fig.colorbar(sc, ax=ax, label=_label(color))
    if log and (data[x].astype(float) > 0).all():
        ax.set_xscale("log")
    if log and (data[y].astype(float) > 0).all():
        ax.set_yscale("log")
    ax.set_xlabel(_label(x))
    ax.set_ylabel(_label(y))
    ax.set_title(f"{len(fr)} Pareto-optimal of {len(data)} designs")
    ax.legend(loc="best")
    ax.grid(True, which="both", alpha=0.3)
    return fig


def parallel_coordinates(df: pd.DataFrame, columns: Sequence[str], *,
                         highlight: np.ndarray | None = None, ax: Axes | None = None) -> Figure:
    """Parallel-coordinates plot of many objectives, each axis min-max normalised;
    ``highlight`` (a boolean mask, e.g. the Pareto front) is drawn on top in colour."""
    _numeric(df, columns)
    vals = df[list(columns)].to_numpy(float)
    lo, hi = np.nanmin(vals, axis=0), np.nanmax(vals, axis=0)
    norm = (vals - lo) / np.where(hi > lo, hi - lo, 1.0)
    fig, ax = _axes(ax, (8, 4.8))
    xs = np.arange(len(columns))
    mask = np.zeros(len(df), bool) if highlight is None else np.asarray(highlight, bool)
    for row in norm[~mask]:
        ax.plot(xs, row, color="grey", alpha=0.15, linewidth=0.7)
    for row in norm[mask]:
        ax.plot(xs, row, color="tab:red", alpha=0.8, linewidth=1.2)
    ax.set_xticks(xs, [f"{_label(c)}\n[{a:.3g}, {b:.3g}]" for c, a, b in zip(columns, lo, hi,
                                                                                strict=True)])
    ax.set_ylabel("normalised value (0 = min, 1 = max)")
    ax.set_ylim(-0.05, 1.05)
    return fig


def speedup_bars(df: pd.DataFrame, *, label: str = "config", value: str = "speedup",
                 group: str | None = None, ax: Axes | None = None) -> Figure:
    """Bars of a speedup (or any ratio) per configuration, grouped by ``group`` if given."""
    _require(df, [label, value] + ([group] if group else []))
    fig, ax = _axes(ax)
    table = df.pivot_table(index=label, columns=group, values=value, sort=False) if group \
        else df.set_index(label)[[value]]
    table.plot.bar(ax=ax, rot=30, legend=group is not None)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_ylabel(f"{value} (x, vs baseline)")
    ax.set_xlabel("")
    return fig


def energy_breakdown(df: pd.DataFrame, *, label: str = "config",
                     components: Sequence[str] = ("energy_compute_j", "energy_sram_j",
                                                  "energy_dram_j", "energy_other_j",
                                                  "energy_static_j"),
                     ax: Axes | None = None) -> Figure:
    """Stacked bars of energy by component per configuration (joules)."""
    cols = [c for c in components if c in df.columns]
    if not cols:
        raise ValueError(f"none of the energy columns {list(components)} is in the table; "
                         f"it has {list(df.columns)}")
    _numeric(df, cols)
    _require(df, [label])
    fig, ax = _axes(ax)
    table = df.set_index(label)[cols]
    table.columns = [c.removeprefix("energy_").removesuffix("_j") for c in cols]
    table.plot.bar(stacked=True, ax=ax, rot=30)
    ax.set_ylabel("energy (J)")
    ax.set_xlabel("")
    return fig


def roofline(per_op: pd.DataFrame, *, peak_flops_per_s: float, bw_bytes_per_s: float,
             ax: Axes | None = None, title: str = "") -> Figure:
    """Roofline with each op placed by its operational intensity (FLOPs per DRAM byte) and
    achieved FLOP/s; ``per_op`` needs ``macs``, ``latency_s``, ``dram_read_bytes`` and
    ``dram_write_bytes`` (a Report's per-op table)."""
    _require(per_op, ["macs", "latency_s", "dram_read_bytes", "dram_write_bytes"])
    d = per_op[(per_op["macs"] > 0) & (per_op["latency_s"] > 0)]
    flops = 2.0 * d["macs"].to_numpy(float)
    traffic = (d["dram_read_bytes"] + d["dram_write_bytes"]).to_numpy(float)
    intensity = flops / np.maximum(traffic, 1.0)
    achieved = flops / d["latency_s"].to_numpy(float)
    fig, ax = _axes(ax)
    ridge = peak_flops_per_s / bw_bytes_per_s
    xs = np.logspace(np.log10(max(min(intensity.min(initial=1.0), ridge) / 10, 1e-3)),
                     np.log10(max(intensity.max(initial=1.0), ridge) * 10), 200)
    ax.plot(xs, np.minimum(peak_flops_per_s, xs * bw_bytes_per_s), color="black",
            label=f"roof ({peak_flops_per_s / 1e12:.3g} TFLOP/s, "
                  f"{bw_bytes_per_s / 1e9:.3g} GB/s)")
    ax.scatter(intensity, achieved, s=14, alpha=0.7, label="ops")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("operational intensity (FLOP / DRAM byte)")
    ax.set_ylabel("achieved FLOP/s")
    ax.set_title(title or "roofline")
    ax.legend(loc="lower right")
    ax.grid(True, which="both", alpha=0.3)
    return fig
