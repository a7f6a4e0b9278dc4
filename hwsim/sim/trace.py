"""Timeline export as Chrome trace-event data (opens in Perfetto and chrome://tracing).

``to_chrome_trace`` is a pure function: it returns the JSON-ready dict; writing it to a file
(``json.dump``) is the caller's business. Each resource becomes a thread (``tid``) of the
process (``pid``) of its device: a resource named ``dev.engine`` belongs to device ``dev``,
a plain name to the single device, links to a process of their own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

_US_PER_S = 1e6


def timeline_of(source: Any) -> pd.DataFrame:
    """The timeline DataFrame of a report-like object (anything with ``.timeline``) or itself."""
    timeline = getattr(source, "timeline", source)
    missing = {"name", "resource", "start_s", "end_s", "category"} - set(timeline.columns)
    if missing:
        raise ValueError(f"timeline lacks columns {sorted(missing)}")
    return timeline


def to_chrome_trace(source: Any) -> dict[str, Any]:
    """Chrome trace-event JSON data of a ``Report``'s (or result's, or DataFrame's) timeline.

    Returns ``{"traceEvents": [...], "displayTimeUnit": "ns"}`` with one complete event
    (``ph: "X"``, ``ts`` and ``dur`` in microseconds) per timeline row, plus metadata events
    (``ph: "M"``) naming every process and thread.
    """
    timeline = timeline_of(source)
    workload = getattr(source, "workload", "hwsim")
    pids: dict[str, int] = {}
    tids: dict[str, tuple[int, int]] = {}
    for resource in dict.fromkeys(timeline["resource"]):
        group = _group_of(str(resource), str(workload))
        pid = pids.setdefault(group, len(pids) + 1)
        tids[str(resource)] = (pid, len(tids) + 1)
    events: list[dict[str, Any]] = []
    events += [_meta("process_name", pid, 0, group) for group, pid in pids.items()]
    events += [_meta("thread_name", pid, tid, res) for res, (pid, tid) in tids.items()]
    for name, resource, start_s, end_s, category in timeline[
            ["name", "resource", "start_s", "end_s", "category"]].itertuples(index=False):
        pid, tid = tids[str(resource)]
        events.append({"name": str(name), "cat": str(category), "ph": "X",
                       "ts": float(start_s) * _US_PER_S,
                       "dur": float(end_s - start_s) * _US_PER_S, "pid": pid, "tid": tid})
    return {"traceEvents": events, "displayTimeUnit": "ns"}


def _group_of(resource: str, default: str) -> str:
    if resource.startswith("link:"):
        return "links"
    return resource.split(".", 1)[0] if "." in resource else default


def _meta(kind: str, pid: int, tid: int, name: str) -> dict[str, Any]:
    return {"name": kind, "ph": "M", "pid": pid, "tid": tid, "args": {"name": name}}
