"""Gantt chart of a simulated timeline: one row per resource, one bar per event."""

from __future__ import annotations

from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from hwsim.sim.trace import timeline_of

_CATEGORY_COLORS = {
    "compute": "tab:blue", "memory": "tab:orange", "prefetch": "tab:green",
    "link": "tab:red", "batch": "tab:purple",
}
_TIME_UNITS = ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns"))


def gantt(source: Any, ax: Axes | None = None, *, title: str | None = None) -> Figure:
    """Gantt chart of a ``Report``'s (or result's, or timeline DataFrame's) events.

    Rows are resources in order of first use, bars are coloured by category, and time is
    shown in the largest unit (s, ms, µs, ns) that keeps the run length >= 1.
    """
    timeline = timeline_of(source)
    fig, ax = _axes(ax)
    scale, unit = _time_unit(float(timeline["end_s"].max()) if len(timeline) else 0.0)
    resources = list(dict.fromkeys(timeline["resource"]))
    colors = {c: _CATEGORY_COLORS.get(c, f"C{k % 10}")
              for k, c in enumerate(dict.fromkeys(timeline["category"]))}
    for row, resource in enumerate(resources):
        events = timeline[timeline["resource"] == resource]
        spans = [(s / scale, (e - s) / scale) for s, e in zip(events["start_s"], events["end_s"],
                                                             strict=True)]
        ax.broken_barh(spans, (row - 0.4, 0.8), facecolors=[colors[c] for c in events["category"]],
                       edgecolor="white", linewidth=0.3)
    ax.set_yticks(range(len(resources)), [str(r) for r in resources])
    ax.invert_yaxis()
    ax.set_xlabel(f"time ({unit})")
    ax.set_ylabel("resource")
    ax.legend(handles=[Patch(color=v, label=k) for k, v in colors.items()], loc="upper right",
              fontsize="small")
    ax.set_title(title if title is not None else str(getattr(source, "workload", "timeline")))
    return fig


def _axes(ax: Axes | None) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax  # type: ignore[return-value]
    fig = Figure(figsize=(8.0, 4.0), layout="constrained")  # no pyplot: backend-free
    return fig, fig.subplots()


def _time_unit(span_s: float) -> tuple[float, str]:
    for scale, unit in _TIME_UNITS:
        if span_s >= scale:
            return scale, unit
    return _TIME_UNITS[-1]
