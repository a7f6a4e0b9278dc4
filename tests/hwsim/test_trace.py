"""Tests of timeline export (Chrome trace events) and the Gantt chart."""

import json

import pandas as pd
import pytest
from conftest_sim import RooflineAcc, fc_gelu_chain
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from hwsim.graph import OpKind
from hwsim.plots import gantt
from hwsim.sim import (
    BatchPolicy,
    HostStandIn,
    System,
    serve,
    simulate,
    simulate_pipelined,
    to_chrome_trace,
)


def _report():
    return simulate(fc_gelu_chain(depth=3), RooflineAcc(engines=2, bw_bytes_per_s=1e10))


def test_chrome_trace_has_one_complete_event_per_timeline_row():
    """Every timeline row becomes a ph 'X' event with ts and dur in microseconds."""
    report = _report()
    trace = to_chrome_trace(report)
    events = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert len(events) == len(report.timeline)
    for event, row in zip(events, report.timeline.itertuples(index=False), strict=True):
        assert event["name"] == row.name
        assert event["cat"] == row.category
        assert event["ts"] == pytest.approx(row.start_s * 1e6)
        assert event["dur"] == pytest.approx((row.end_s - row.start_s) * 1e6)
        assert isinstance(event["pid"], int)
        assert isinstance(event["tid"], int)
    assert json.loads(json.dumps(trace)) == trace


def test_chrome_trace_names_a_thread_per_resource():
    """Metadata events name one thread per resource and the process of each device."""
    report = _report()
    trace = to_chrome_trace(report)
    threads = {e["args"]["name"]: e["tid"] for e in trace["traceEvents"]
               if e["ph"] == "M" and e["name"] == "thread_name"}
    assert set(threads) == set(report.timeline["resource"])
    assert len(set(threads.values())) == len(threads)
    processes = [e for e in trace["traceEvents"] if e["name"] == "process_name"]
    assert [p["args"]["name"] for p in processes] == ["fc_gelu"]


def test_chrome_trace_gives_each_device_its_own_process():
    """In a host + accelerator system, device resources and links get separate pids."""
    acc = RooflineAcc(unsupported=frozenset({OpKind.ELEMENTWISE}))
    report = simulate(fc_gelu_chain(depth=2), System.with_host(acc, HostStandIn()))
    trace = to_chrome_trace(report)
    names = {e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "process_name"}
    assert names == {"roofline", "host", "links"}


def test_chrome_trace_accepts_dataframes_and_serving_results():
    """A bare timeline DataFrame and a serving result export too; bad tables are rejected."""
    result = serve(lambda b: fc_gelu_chain(depth=1, batch=b), RooflineAcc(),
                   arrivals=[0.0, 0.0, 1.0], policy=BatchPolicy(max_batch=2))
    trace = to_chrome_trace(result.timeline)
    assert [e["name"] for e in trace["traceEvents"] if e["ph"] == "X"] == ["batch0 x2",
                                                                         "batch1 x1"]
    with pytest.raises(ValueError, match="timeline lacks columns"):
        to_chrome_trace(pd.DataFrame({"name": ["a"]}))


def test_gantt_returns_a_figure_with_a_row_per_resource():
    """The Gantt chart is a Figure with one labelled row per resource and a time unit."""
    report = _report()
    fig = gantt(report)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert sorted(labels) == sorted(set(report.timeline["resource"]))
    assert ax.get_xlabel() in {"time (s)", "time (ms)", "time (µs)", "time (ns)"}
    assert ax.get_ylabel() == "resource"


def test_gantt_draws_on_a_given_axes():
    """Given an Axes, the chart draws there and returns that Axes' figure."""
    fig = Figure()
    ax = fig.subplots()
    result = simulate_pipelined(fc_gelu_chain(), RooflineAcc(), 3, stages=2)
    assert gantt(result, ax=ax) is fig
    assert isinstance(ax, Axes)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["stage0", "stage1"]
