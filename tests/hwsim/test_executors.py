"""Tests for hwsim.explore.executors: batch evaluation and serial/process/Dask executors."""

import sys

import pandas as pd
import pytest

from hwsim.explore import (
    DaskExecutor,
    InfeasibleDesign,
    IntRange,
    ProcessExecutor,
    SerialExecutor,
    Space,
    evaluate_points,
    run_sweep,
)


def toy(design):
    """A problem with a failing point (a == 3) and an infeasible one (a == 5)."""
    if design["a"] == 3:
        raise RuntimeError("a three")
    if design["a"] == 5:
        raise InfeasibleDesign("a five does not fit")
    return {"latency_s": design["a"] * 0.5 + design["b"], "kind": "even" if design["a"] % 2
            else "odd"}


class BatchProblem:
    """A problem with a vectorised batch path that records which path ran."""

    def __init__(self):
        self.batch_calls = 0
        self.single_calls = 0

    def evaluate_batch(self, designs):
        self.batch_calls += 1
        if any(d["a"] < 0 for d in designs):
            raise ValueError("negative a in batch")
        return [InfeasibleDesign("too big") if d["a"] > 8 else {"y": 2.0 * d["a"]}
                for d in designs]

    def evaluate(self, design):
        self.single_calls += 1
        if design["a"] < 0:
            raise ValueError("negative a")
        return {"y": 2.0 * design["a"]}


def points(*values):
    return [(f"p{a}", {"a": a, "b": 1}) for a in values]


def designs():
    return Space([IntRange("a", 0, 9), IntRange("b", 0, 4)]).grid(10)


def test_rows_hold_id_parameters_metrics_and_status():
    """A good point yields its id, parameters, metrics, status ok and an empty error."""
    assert evaluate_points(toy, points(2)) == [
        {"point_id": "p2", "a": 2, "b": 1, "latency_s": 2.0, "kind": "odd", "status": "ok",
         "error": ""}]


def test_failing_point_is_recorded_and_neighbours_survive():
    """An exception marks that point as an error and the rest of the batch still runs."""
    rows = evaluate_points(toy, points(2, 3, 4, 5))
    assert [r["status"] for r in rows] == ["ok", "error", "ok", "infeasible"]
    assert rows[1]["error"] == "RuntimeError: a three"
    assert rows[3]["error"] == "a five does not fit"
    assert "latency_s" not in rows[1]


@pytest.mark.parametrize(
    ("result", "message"),
    [([1.0], "must return a mapping"), ({"a": 1.0}, "clash"), ({"x": [1]}, "must be a number")],
)
def test_malformed_metrics_are_errors(result, message):
    """Non-mapping results, clashing names and non-numeric metrics are recorded as errors."""
    rows = evaluate_points(lambda d: result, points(1))
    assert rows[0]["status"] == "error"
    assert message in rows[0]["error"]


def test_evaluate_batch_is_preferred():
    """A problem offering evaluate_batch gets the whole batch in one call."""
    problem = BatchProblem()
    rows = evaluate_points(problem, points(1, 2, 9))
    assert (problem.batch_calls, problem.single_calls) == (1, 0)
    assert [r.get("y") for r in rows[:2]] == [2.0, 4.0]
    assert rows[2]["status"] == "infeasible"


def test_failed_batch_falls_back_to_single_points():
    """If evaluate_batch raises, each point is retried alone and only the bad one fails."""
    problem = BatchProblem()
    rows = evaluate_points(problem, points(1, -1, 2))
    assert problem.single_calls == 3
    assert [r["status"] for r in rows] == ["ok", "error", "ok"]
    assert rows[1]["error"] == "ValueError: negative a"


def test_failed_batch_without_single_path_fails_every_point():
    """A batch-only problem whose batch raises records the error on each point."""

    class BatchOnly:
        def evaluate_batch(self, designs):
            raise ValueError("kernel failed")

    rows = evaluate_points(BatchOnly(), points(1, 2))
    assert [r["error"] for r in rows] == ["ValueError: kernel failed"] * 2


def test_wrong_length_batch_result_is_an_error():
    """evaluate_batch must return one result per design."""

    class Short:
        def evaluate_batch(self, designs):
            return []

    rows = evaluate_points(Short(), points(1, 2))
    assert all("returned 0 results for 2 designs" in r["error"] for r in rows)


def test_problem_without_evaluate_is_rejected():
    """Something neither callable nor offering evaluate/evaluate_batch is a TypeError."""
    with pytest.raises(TypeError, match="evaluate_batch"):
        evaluate_points(object(), points(1))


def test_process_executor_yields_every_batch():
    """map_batches returns one result per batch even with more batches than slots."""
    with ProcessExecutor(2, max_pending=2) as executor:
        results = list(executor.map_batches(sum, [[i, i] for i in range(20)]))
    assert sorted(results) == [2 * i for i in range(20)]


def test_process_executor_propagates_task_errors():
    """An exception escaping the batch function reaches the caller."""
    with ProcessExecutor(1) as executor, pytest.raises(ZeroDivisionError):
        list(executor.map_batches(divide_one_by, [[1], [0]]))


def divide_one_by(batch):
    return [1 / x for x in batch]


@pytest.mark.parametrize("kind", ["process", "dask"])
def test_executors_give_identical_rows(kind):
    """Serial, process and Dask executors produce the same table, errors included."""
    serial = run_sweep(toy, designs(), executor=SerialExecutor(), batch_size=7)
    if kind == "process":
        executor = ProcessExecutor(2)
    else:
        executor = DaskExecutor("local", workers=2, processes=False)
    with executor:
        other = run_sweep(toy, designs(), executor=executor, batch_size=7)
    pd.testing.assert_frame_equal(serial, other)
    assert (serial["status"] == "error").sum() == 5
    assert (serial["status"] == "infeasible").sum() == 5


def test_dask_executor_accepts_a_client():
    """A Client passed in is used as is and left open."""
    distributed = pytest.importorskip("distributed")
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=1,
                            dashboard_address=None) as client:
        with DaskExecutor(client) as executor:
            assert executor.workers == 1
            assert sorted(executor.map_batches(sum, [[1, 2], [3]])) == [3, 3]
        assert client.status == "running"


@pytest.mark.parametrize("value", [0, -1, 1.5, True])
def test_bad_worker_counts_are_rejected(value):
    """Worker counts must be positive integers."""
    with pytest.raises(ValueError, match=f"workers must be an integer >= 1 or None, got {value}"):
        ProcessExecutor(value)


def test_dask_rejects_bad_scheduler():
    """A scheduler that is neither 'local', an address nor a Client raises ValueError."""
    with pytest.raises(ValueError, match="scheduler must be 'local'"):
        DaskExecutor(42)


def test_dask_missing_gives_install_hint(monkeypatch):
    """Without dask.distributed the error says which extra to install."""
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"pip install 'hwsim\[dask\]'"):
        DaskExecutor()
