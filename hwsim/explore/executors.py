"""Executors that run batches of design points, and the per-batch evaluation they run.

Every executor offers ``map_batches(fn, batches)``, which applies ``fn`` to each batch
and yields the results as they complete (not in submission order), and ``workers``, the
number of batches it runs at once. A batch (a list of points) is the unit of work sent
to a worker, so per-task overhead is paid once per batch, not once per point.

Problems arrive as objects: either a picklable callable ``evaluate(design) -> metrics``
or an object with ``evaluate_batch(designs) -> list[metrics]`` (so a batch can reach
array kernels in one call), optionally also with ``evaluate(design)``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from functools import partial
from itertools import islice
from multiprocessing.context import BaseContext
from typing import Any, Protocol, TypeVar

import numpy as np

B = TypeVar("B")
R = TypeVar("R")
Point = tuple[str, dict[str, Any]]

STATUS_OK = "ok"
STATUS_ERROR = "error"
STATUS_INFEASIBLE = "infeasible"


class InfeasibleDesign(Exception):  # noqa: N818 - reads as a verdict, not an error
    """Raised by a problem (or returned in ``evaluate_batch``'s list) for a design it
    cannot build; the point is recorded with status ``"infeasible"``."""


class Executor(Protocol):
    """What :func:`~hwsim.explore.sweep.run_sweep` and ``explore`` need from an executor."""

    @property
    def workers(self) -> int: ...

    def map_batches(self, fn: Callable[[B], R], batches: Iterable[B]) -> Iterator[R]: ...

    def close(self) -> None: ...


class _ClosingExecutor:
    """Context-manager support: ``with Executor() as ex: ...`` closes it on exit."""

    def close(self) -> None:
        """Release the executor's workers (nothing to release by default)."""

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SerialExecutor(_ClosingExecutor):
    """Runs batches one after another in the calling process."""

    workers = 1

    def map_batches(self, fn: Callable[[B], R], batches: Iterable[B]) -> Iterator[R]:
        """Yield ``fn(batch)`` for each batch, in order."""
        for batch in batches:
            yield fn(batch)


class ProcessExecutor(_ClosingExecutor):
    """Runs batches on a local pool of worker processes.

    Parameters
    ----------
    workers : int or None
        Worker processes; None means ``os.cpu_count()``.
    max_pending : int or None
        Batches submitted but not yet finished; None means ``2 * workers``. Batches are
        drawn lazily from the iterable, so memory stays bounded for long sweeps.
    mp_context : multiprocessing context or None
        Start method for the workers; None uses the platform default.
    """

    def __init__(
        self,
        workers: int | None = None,
        *,
        max_pending: int | None = None,
        mp_context: BaseContext | None = None,
    ) -> None:
        self._workers = _positive("workers", workers, os.cpu_count() or 1)
        self._max_pending = _positive("max_pending", max_pending, 2 * self._workers)
        self._pool = ProcessPoolExecutor(max_workers=self._workers, mp_context=mp_context,
                                         initializer=_exit_with_parent)

    @property
    def workers(self) -> int:
        """Number of worker processes."""
        return self._workers

    def map_batches(self, fn: Callable[[B], R], batches: Iterable[B]) -> Iterator[R]:
        """Yield ``fn(batch)`` for each batch as the workers finish them."""
        todo = iter(batches)
        pending: set[Future[R]] = {self._pool.submit(fn, b)
                                   for b in islice(todo, self._max_pending)}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                pending |= {self._pool.submit(fn, b) for b in islice(todo, len(done))}
                for future in done:
                    yield future.result()
        finally:
            for future in pending:
                future.cancel()

    def close(self) -> None:
        """Shut the worker pool down."""
        self._pool.shutdown(wait=True, cancel_futures=True)


def _exit_with_parent(poll_s: float = 0.5) -> None:
    """Worker initializer: end this worker once its parent process is gone.

    A pool's workers otherwise outlive a killed parent (SIGKILL runs no cleanup), blocked
    forever on a task queue whose writing end they hold themselves.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


class DaskExecutor(_ClosingExecutor):
    """Runs batches on a Dask cluster (``pip install 'hwsim[dask]'``).

    Parameters
    ----------
    scheduler : str or distributed.Client
        ``"local"`` starts a LocalCluster owned (and closed) by this executor; any other
        string is a scheduler address (``"tcp://host:8786"``); a Client is used as given
        and left open on :meth:`close`.
    workers : int or None
        LocalCluster workers when ``scheduler == "local"``; None means ``os.cpu_count()``.
    processes : bool
        LocalCluster workers are processes (True) or threads of this process (False).
    max_pending : int or None
        Batches submitted but not yet finished; None means ``2 * workers``.
    """

    def __init__(
        self,
        scheduler: Any = "local",
        *,
        workers: int | None = None,
        processes: bool = True,
        max_pending: int | None = None,
    ) -> None:
        distributed = _import_distributed()
        self._owned = not isinstance(scheduler, distributed.Client)
        if not self._owned:
            self._client = scheduler
        elif scheduler == "local":
            n = _positive("workers", workers, os.cpu_count() or 1)
            cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=1,
                                               processes=processes, dashboard_address=None)
            self._client = distributed.Client(cluster)
        elif isinstance(scheduler, str):
            self._client = distributed.Client(scheduler)
        else:
            raise ValueError(
                f"scheduler must be 'local', an address string or a distributed.Client, "
                f"got {scheduler!r}"
            )
        self._max_pending = _positive("max_pending", max_pending, 2 * self.workers)

    @property
    def workers(self) -> int:
        """Total worker threads in the cluster (at least 1)."""
        return max(1, sum(self._client.nthreads().values()))

    def map_batches(self, fn: Callable[[B], R], batches: Iterable[B]) -> Iterator[R]:
        """Yield ``fn(batch)`` for each batch as the cluster finishes them."""
        distributed = _import_distributed()
        todo = iter(batches)
        queue = distributed.as_completed(
            [self._client.submit(fn, b, pure=False) for b in islice(todo, self._max_pending)]
        )
        for future in queue:
            for batch in islice(todo, 1):
                queue.add(self._client.submit(fn, batch, pure=False))
            yield future.result()

    def close(self) -> None:
        """Close the client and its LocalCluster, if this executor started them."""
        if self._owned:
            cluster = self._client.cluster
            self._client.close()
            if cluster is not None:
                cluster.close()


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(
            "DaskExecutor needs dask.distributed: pip install 'hwsim[dask]'"
        ) from exc
    return distributed


def _positive(name: str, value: int | None, default: int) -> int:
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1 or None, got {value!r}")
    return value


def evaluate_points(problem: Any, points: Sequence[Point]) -> list[dict[str, Any]]:
    """Evaluate a batch of ``(point_id, design)`` pairs into result rows.

    Each row holds ``point_id``, the design's parameters, the metrics, ``status``
    (``"ok"``, ``"error"`` or ``"infeasible"``) and ``error`` (the message, else "").
    A problem with ``evaluate_batch`` gets the whole batch in one call; if that call
    raises, the batch is retried point by point (when the problem is callable or has
    ``evaluate``) so one bad point does not fail its neighbours.
    """
    designs = [design for _, design in points]
    outcomes = _batch_outcomes(problem, designs)
    return [_row(point_id, design, outcome)
            for (point_id, design), outcome in zip(points, outcomes, strict=True)]


def _batch_outcomes(problem: Any, designs: list[dict[str, Any]]) -> list[Any]:
    batch = getattr(problem, "evaluate_batch", None)
    single = problem if callable(problem) else getattr(problem, "evaluate", None)
    if batch is None and single is None:
        raise TypeError(
            f"problem must be callable or offer evaluate_batch/evaluate, got {problem!r}"
        )
    if batch is not None:
        outcomes = _call(partial(_run_batch, batch), designs)
        if not isinstance(outcomes, Exception):
            return outcomes
        if single is None:
            return [outcomes] * len(designs)
    assert single is not None
    return [_call(single, dict(design)) for design in designs]


def _run_batch(batch: Callable[[Any], Any], designs: list[dict[str, Any]]) -> list[Any]:
    outcomes = list(batch([dict(d) for d in designs]))
    if len(outcomes) != len(designs):
        raise ValueError(
            f"evaluate_batch returned {len(outcomes)} results for {len(designs)} designs"
        )
    return outcomes


def _call(fn: Callable[[Any], Any], argument: Any) -> Any:
    """``fn(argument)``, or the exception it raised."""
    try:
        return fn(argument)
    except Exception as exc:
        return exc


def _row(point_id: str, design: dict[str, Any], outcome: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"point_id": point_id, **design}
    try:
        metrics = _metrics(outcome, design)
    except InfeasibleDesign as exc:
        return {**row, "status": STATUS_INFEASIBLE, "error": str(exc)}
    except Exception as exc:
        return {**row, "status": STATUS_ERROR, "error": f"{type(exc).__name__}: {exc}"}
    return {**row, **metrics, "status": STATUS_OK, "error": ""}


def _metrics(outcome: Any, design: Mapping[str, Any]) -> dict[str, Any]:
    """Validate one outcome into metrics (numbers as float), raising what it holds."""
    if isinstance(outcome, Exception):
        raise outcome
    if not isinstance(outcome, Mapping):
        raise TypeError(f"evaluate must return a mapping of metrics, got {outcome!r}")
    reserved = set(design) | {"point_id", "status", "error"}
    clashes = sorted(str(k) for k in outcome if k in reserved or not isinstance(k, str))
    if clashes:
        raise ValueError(f"metric names {clashes} clash with parameters or reserved columns")
    return {k: _number(k, v) for k, v in outcome.items()}


def _number(name: str, value: Any) -> Any:
    if isinstance(value, str | bool | np.bool_):
        return value
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"metric {name!r} must be a number or a string, got {value!r}") from exc
