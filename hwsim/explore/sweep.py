"""Sweeps: evaluate a table of design points on an executor, saving and resuming results."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any

import pandas as pd

from hwsim.explore.executors import (
    STATUS_ERROR,
    Executor,
    Point,
    SerialExecutor,
    evaluate_points,
)
from hwsim.explore.store import RESERVED_COLUMNS, open_store, point_ids, records

Progress = Callable[[int, int, float, float], None]
_MAX_AUTO_BATCH = 256


def run_sweep(
    evaluate: Any,
    designs: pd.DataFrame,
    *,
    executor: Executor | None = None,
    out: Any = None,
    batch_size: int | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Evaluate every design point and return one result row per distinct point.

    Parameters
    ----------
    evaluate : callable or problem object
        ``evaluate(design: dict) -> dict[str, float]``, or an object with
        ``evaluate_batch(designs) -> list[dict]`` (see :mod:`hwsim.explore.executors`).
        Must be picklable for process and Dask executors.
    designs : DataFrame
        One column per parameter, one row per point. Repeated points run once.
    executor : Executor or None
        Where batches run; None runs them serially here. The caller closes it.
    out : None, str, Path or ResultStore
        Output (``.csv`` file or ``.parquet`` directory), written after every batch. If
        it already holds results, points already there (by ``point_id``) are not run
        again, so a killed sweep restarted with the same output resumes; points stored
        with status ``"error"`` are run again and their new row replaces the old one.
    batch_size : int or None
        Points per task; None picks about four batches per worker, at most 256 points.
    progress : callable or None
        Called after each batch as ``progress(done, total, rate_per_s, eta_s)``; ``done``
        counts resumed points too, the rate only points run now.

    Returns
    -------
    DataFrame
        ``point_id``, parameters, metrics, ``status`` (``"ok"``, ``"error"``,
        ``"infeasible"``) and ``error``, in the order of ``designs``.
    """
    unique = _unique_points(designs)
    store = open_store(out)
    stored = _compatible(store.load(), designs)
    finished = set(stored.loc[stored["status"] != STATUS_ERROR, "point_id"])
    todo = [p for p in unique if p[0] not in finished]
    executor = executor if executor is not None else SerialExecutor()
    batches = _chunks(todo, _batch_size(batch_size, len(todo), executor.workers))
    started, ran = time.perf_counter(), 0
    for rows in executor.map_batches(partial(evaluate_points, evaluate), batches):
        store.append(rows)
        ran += len(rows)
        if progress is not None:
            rate = ran / max(time.perf_counter() - started, 1e-9)
            left = len(todo) - ran
            progress(len(unique) - left, len(unique), rate, left / rate)
    return _ordered(store.load(), [pid for pid, _ in unique], list(designs.columns))


def _unique_points(designs: pd.DataFrame) -> list[Point]:
    if not isinstance(designs, pd.DataFrame):
        raise TypeError(f"designs must be a DataFrame, got {type(designs).__name__}")
    clashes = [c for c in designs.columns if c in RESERVED_COLUMNS or not isinstance(c, str)]
    if clashes or designs.columns.empty:
        raise ValueError(
            f"designs need string parameter columns other than {RESERVED_COLUMNS}, "
            f"got {list(designs.columns)}"
        )
    points = dict(zip(point_ids(designs), records(designs), strict=True))
    return list(points.items())


def _compatible(stored: pd.DataFrame, designs: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in designs.columns if c not in stored.columns]
    if len(stored) and missing:
        raise ValueError(
            f"the output already holds results without parameters {missing}; "
            "use a new output for a different design space"
        )
    return stored


def _batch_size(batch_size: int | None, todo: int, workers: int) -> int:
    if batch_size is None:
        return max(1, min(_MAX_AUTO_BATCH, math.ceil(todo / (4 * workers))))
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1 or None, got {batch_size!r}")
    return batch_size


def _chunks(points: Sequence[Point], size: int) -> Iterator[list[Point]]:
    for start in range(0, len(points), size):
        yield list(points[start:start + size])


def _ordered(stored: pd.DataFrame, ids: list[str], params: list[str]) -> pd.DataFrame:
    """Rows for ``ids`` in that order; columns: id, parameters, metrics, status, error."""
    table = stored.set_index("point_id").loc[ids].reset_index()
    metrics = [c for c in table.columns if c not in RESERVED_COLUMNS and c not in params]
    return table.reindex(columns=["point_id", *params, *metrics, "status", "error"])


