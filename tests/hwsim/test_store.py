"""Tests for hwsim.explore.store and run_sweep: ids, atomic stores, resume after a kill."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hwsim.explore import CsvStore, ParquetStore, point_id, point_ids, run_sweep

JOB = Path(__file__).with_name("sweep_kill_job.py")


def rows(*values):
    return [{"point_id": f"p{v}", "x": v, "y": v / 2, "status": "ok", "error": ""}
            for v in values]


class Recorder:
    """An evaluate that remembers which designs it ran."""

    def __init__(self):
        self.seen = []

    def __call__(self, design):
        self.seen.append(design["x"])
        return {"double": 2.0 * design["x"]}


def frame(n):
    return pd.DataFrame({"x": range(n), "tag": ["a", "b"] * (n // 2) + ["a"] * (n % 2)})


def test_point_id_is_stable():
    """The id of a design is a fixed function of its names and values."""
    assert point_id({"rows": 16, "dataflow": "ws"}) == "2a85695c5dd70396"


def test_point_id_ignores_order_and_scalar_types():
    """Key order, NumPy scalars and integral floats do not change the id."""
    plain = point_id({"rows": 16, "bits": 8, "f": 0.25})
    assert point_id({"f": np.float64(0.25), "bits": np.int32(8), "rows": 16.0}) == plain


def test_point_id_distinguishes_values():
    """Different values, names or types give different ids."""
    ids = {point_id(d) for d in [{"a": 1}, {"a": 2}, {"b": 1}, {"a": True}, {"a": "1"},
                                 {"a": 1.5}, {"a": 1, "b": 1}]}
    assert len(ids) == 7


def test_point_ids_follow_rows():
    """point_ids maps each row of a frame to its id."""
    assert point_ids(frame(3)) == [point_id(d) for d in frame(3).to_dict("records")]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_store_round_trip_leaves_no_temporaries(tmp_path, suffix):
    """Appended rows reload in a new store and no temporary file is left behind."""
    path = tmp_path / f"out{suffix}"
    store = CsvStore(path) if suffix == ".csv" else ParquetStore(path)
    store.append(rows(1, 2))
    store.append(rows(3))
    again = (CsvStore if suffix == ".csv" else ParquetStore)(path)
    pd.testing.assert_frame_equal(again.load(), store.load())
    assert list(again.load()["x"]) == [1, 2, 3]
    assert not list(tmp_path.rglob("*.tmp"))


def test_parquet_store_writes_one_part_per_append(tmp_path):
    """Each append becomes one part file; stale temporaries are removed on open."""
    store = ParquetStore(tmp_path / "out.parquet")
    store.append(rows(1))
    store.append(rows(2))
    (tmp_path / "out.parquet" / ".part-000003.parquet.x.tmp").write_bytes(b"half")
    reopened = ParquetStore(tmp_path / "out.parquet")
    assert sorted(p.name for p in (tmp_path / "out.parquet").iterdir()) == [
        "part-000001.parquet", "part-000002.parquet"]
    reopened.append(rows(3))
    assert (tmp_path / "out.parquet" / "part-000003.parquet").exists()


def test_csv_store_removes_its_stale_temporaries_on_open(tmp_path):
    """A temporary copy left by a killed write is removed; other files are kept."""
    CsvStore(tmp_path / "out.csv").append(rows(1))
    (tmp_path / ".out.csv.x1y2.tmp").write_text("half")
    (tmp_path / ".other.csv.x1y2.tmp").write_text("someone else's")
    assert list(CsvStore(tmp_path / "out.csv").load()["x"]) == [1]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.csv.x1y2.tmp", "out.csv"]


class FailsOnce:
    """An evaluate that raises on the designs in ``bad`` the first time it sees them."""

    def __init__(self, bad):
        self.bad = set(bad)
        self.seen = []

    def __call__(self, design):
        self.seen.append(design["x"])
        if design["x"] in self.bad:
            self.bad.discard(design["x"])
            raise RuntimeError("transient")
        return {"double": 2.0 * design["x"]}


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_resume_retries_points_that_failed(tmp_path, suffix):
    """A rerun on the same output runs only the points stored as errors, and their new rows
    replace the old ones."""
    out, evaluate = tmp_path / f"out{suffix}", FailsOnce({1, 3})
    first = run_sweep(evaluate, frame(5), out=out, batch_size=1)
    assert list(first["status"]) == ["ok", "error", "ok", "error", "ok"]
    evaluate.seen.clear()
    second = run_sweep(evaluate, frame(5), out=out, batch_size=1)
    assert sorted(evaluate.seen) == [1, 3]
    assert list(second["status"]) == ["ok"] * 5
    assert list(second["double"]) == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert (CsvStore if suffix == ".csv" else ParquetStore)(out).load()["point_id"].is_unique


def test_missing_pyarrow_gives_install_hint(tmp_path, monkeypatch):
    """Parquet output without pyarrow says which extra to install."""
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(ImportError, match=r"pip install 'hwsim\[parquet\]'"):
        ParquetStore(tmp_path / "out.parquet")


def test_foreign_file_is_rejected(tmp_path):
    """A CSV that is not a sweep result is not silently extended."""
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a sweep result"):
        CsvStore(tmp_path / "other.csv")


def test_sweep_returns_one_row_per_distinct_design_in_order():
    """Results follow the design order and repeated designs run once."""
    designs = pd.concat([frame(5), frame(2)], ignore_index=True)
    evaluate = Recorder()
    table = run_sweep(evaluate, designs, batch_size=2)
    assert list(table["x"]) == [0, 1, 2, 3, 4]
    assert list(table.columns) == ["point_id", "x", "tag", "double", "status", "error"]
    assert sorted(evaluate.seen) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_sweep_resumes_without_recomputing(tmp_path, suffix):
    """A second sweep on the same output only runs the points not yet stored."""
    out = tmp_path / f"out{suffix}"
    first = Recorder()
    run_sweep(first, frame(6), out=out, batch_size=4)
    second = Recorder()
    table = run_sweep(second, frame(10), out=out, batch_size=4)
    assert sorted(second.seen) == [6, 7, 8, 9]
    assert list(table["double"]) == [2.0 * x for x in range(10)]


def test_sweep_refuses_an_output_of_another_space(tmp_path):
    """Resuming into an output made for other parameters raises ValueError."""
    run_sweep(Recorder(), frame(2), out=tmp_path / "out.csv")
    with pytest.raises(ValueError, match=r"without parameters \['z'\]"):
        run_sweep(Recorder(), frame(2).assign(z=1), out=tmp_path / "out.csv")


def test_progress_reports_every_batch():
    """progress receives done/total after each batch, ending at total with zero eta."""
    calls = []
    run_sweep(Recorder(), frame(5), batch_size=2, progress=lambda *a: calls.append(a))
    assert [(done, total) for done, total, _, _ in calls] == [(2, 5), (4, 5), (5, 5)]
    assert calls[-1][2] > 0
    assert calls[-1][3] == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"batch_size": 0}, "batch_size must be"), ({"out": "x.txt"}, "ending in .csv")],
)
def test_sweep_argument_errors(kwargs, message):
    """Bad batch sizes and unknown output formats raise ValueError."""
    with pytest.raises(ValueError, match=message):
        run_sweep(Recorder(), frame(2), **kwargs)


def test_empty_sweep_returns_empty_table():
    """No designs give an empty table with the id, parameter and status columns."""
    table = run_sweep(Recorder(), pd.DataFrame({"x": []}))
    assert table.empty
    assert list(table.columns) == ["point_id", "x", "status", "error"]


def test_sweep_rejects_reserved_columns():
    """Design columns may not be named like result columns."""
    with pytest.raises(ValueError, match="point_id"):
        run_sweep(Recorder(), frame(2).rename(columns={"tag": "status"}))


def read_raw(out):
    """Every stored row, duplicates included, straight from the files."""
    if out.suffix == ".csv":
        return pd.read_csv(out, dtype={"point_id": str})
    parts = sorted(out.glob("part-*.parquet"))
    return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True) if parts else None


def job_command(out, log, n, sleep_s):
    return [sys.executable, str(JOB), str(out), str(log), str(n), str(sleep_s)]


def wait_for_rows(out, job, at_least, timeout_s=60.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and job.poll() is None:
        if out.exists():
            raw = read_raw(out)
            if raw is not None and len(raw) >= at_least:
                return
        time.sleep(0.02)
    raise AssertionError(f"the sweep job wrote fewer than {at_least} rows (rc={job.poll()})")


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_killed_sweep_resumes_exactly_once(tmp_path, suffix, monkeypatch):
    """A sweep killed by SIGKILL and restarted stores every point once, none recomputed."""
    monkeypatch.syspath_prepend(str(JOB.parent))
    from sweep_kill_job import job_designs

    n, out = 40, tmp_path / f"out{suffix}"
    job = subprocess.Popen(job_command(out, tmp_path / "first.log", n, 0.03))
    try:
        wait_for_rows(out, job, at_least=6)
    finally:
        job.send_signal(signal.SIGKILL)
        job.wait()
    before = set(read_raw(out)["point_id"])
    assert 6 <= len(before) < n
    subprocess.run(job_command(out, tmp_path / "second.log", n, 0.0), timeout=120, check=True)
    raw = read_raw(out)
    expected = job_designs(n).assign(point_id=point_ids(job_designs(n)))
    assert raw["point_id"].is_unique
    merged = expected.merge(raw, on=["point_id", "x", "y"], validate="1:1")
    assert len(merged) == n
    assert (merged["status"] == "ok").all()
    np.testing.assert_array_equal(merged["square"], merged["x"] ** 2.0)
    np.testing.assert_array_equal(merged["half_sum"], 0.5 * (merged["x"] + merged["y"]))
    rerun = set((tmp_path / "second.log").read_text().split())
    assert rerun.isdisjoint(before)
    assert rerun == set(expected["point_id"]) - before
