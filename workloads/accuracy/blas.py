"""Scoped single-threaded BLAS for the small matrix products of the digits models."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """Limit BLAS to one thread inside the block, restoring the previous limits after.

    The digits models multiply matrices of a few hundred rows: threads only add
    synchronisation, which on a loaded machine slows training several-fold. One thread
    also makes float results independent of the core count. threadpoolctl ships with
    scikit-learn, which the digits need anyway; without it the block runs unchanged.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield
