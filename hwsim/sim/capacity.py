"""Load sweeps and capacity under a latency bound, built on ``serve``.

``load_sweep`` serves the same request pattern (one seed, common random numbers) at each
offered rate and returns one row per rate. ``max_throughput_under`` finds, for each batching
policy, the largest sustainable offered rate whose p99 latency meets a bound,
and keeps the policy that serves the most requests per second.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hwsim.accelerator import Accelerator
from hwsim.sim.serve import (
    BatchPolicy,
    GraphBuilder,
    PoissonArrivals,
    ServeResult,
    ServiceTimes,
    serve_with,
)
from hwsim.sim.system import System

if TYPE_CHECKING:
    import pandas as pd

#: Batch caps tried by ``max_throughput_under`` when no policies are given.
DEFAULT_MAX_BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256)


def load_sweep(graph_builder: GraphBuilder, target: Accelerator | System,
               rates_per_s: Sequence[float], *, policy: BatchPolicy, n: int = 2000,
               seed: int = 0, overlap: bool = True, analytic: bool = False) -> pd.DataFrame:
    """One row of ``ServeResult.to_dict()`` per offered rate (requests per second)."""
    import pandas as pd

    service = ServiceTimes(graph_builder, target, overlap=overlap, analytic=analytic)
    rows = [serve_with(service, arrivals=PoissonArrivals(rate_per_s=r, n=n, seed=seed),
                       policy=policy).to_dict() for r in rates_per_s]
    return pd.DataFrame(rows)


@dataclass(frozen=True, kw_only=True, eq=False)
class Capacity:
    """The best policy's throughput under a p99 bound, and every policy's figure.

    throughput_per_s is 0 and result None when no policy meets the bound at any load.
    candidates : one row per policy (``ServeResult.to_dict()`` at its largest feasible rate,
    or zeros if infeasible).
    """

    p99_bound_s: float
    throughput_per_s: float
    policy: BatchPolicy | None
    result: ServeResult | None
    candidates: pd.DataFrame = field(repr=False)


def max_throughput_under(graph_builder: GraphBuilder, target: Accelerator | System,
                         p99_bound_s: float, *, policies: Sequence[BatchPolicy] | None = None,
                         n: int = 2000, seed: int = 0, rel_tol: float = 0.01,
                         overlap: bool = True, analytic: bool = False) -> Capacity:
    """Largest throughput whose p99 latency stays within ``p99_bound_s``.

    Parameters
    ----------
    policies : batching policies to try; default ``max_batch`` in ``DEFAULT_MAX_BATCHES``
        with ``max_wait_s = p99_bound_s / 4``.
    n, seed : requests per trial and the seed of their Poisson arrivals.
    rel_tol : relative width of the rate interval at which bisection stops.
    """
    import pandas as pd

    if not p99_bound_s > 0:
        raise ValueError(f"p99_bound_s must be > 0, got {p99_bound_s!r}")
    if policies is None:
        policies = [BatchPolicy(max_batch=b, max_wait_s=p99_bound_s / 4)
                    for b in DEFAULT_MAX_BATCHES]
    service = ServiceTimes(graph_builder, target, overlap=overlap, analytic=analytic)
    found = [_best_rate(service, p, p99_bound_s, n=n, seed=seed, rel_tol=rel_tol)
             for p in policies]
    rows = [r.to_dict() if r else {"max_batch": p.max_batch, "max_wait_s": p.max_wait_s,
                                   "throughput_per_s": 0.0}
            for p, r in zip(policies, found, strict=True)]
    feasible = [(r.throughput_per_s, k) for k, r in enumerate(found) if r is not None]
    if not feasible:
        return Capacity(p99_bound_s=p99_bound_s, throughput_per_s=0.0, policy=None,
                        result=None, candidates=pd.DataFrame(rows))
    best = found[max(feasible)[1]]
    assert best is not None
    return Capacity(p99_bound_s=p99_bound_s, throughput_per_s=best.throughput_per_s,
                    policy=best.policy, result=best, candidates=pd.DataFrame(rows))


def _best_rate(service: ServiceTimes, policy: BatchPolicy, bound_s: float, *, n: int,
               seed: int, rel_tol: float) -> ServeResult | None:
    """Serve result at the largest feasible offered rate, or None.

    Feasible means p99 within the bound at a rate the server can sustain (at most its peak
    rate with full batches). p99 is not monotone in the rate (at low rates requests wait for
    a batch to fill), so the search steps down from the peak until a rate is feasible and
    then bisects between it and the infeasible rate above. Each trial serves at least 50
    full batches so that queueing near the peak shows in the tail. If no rate down to a
    thousandth of the peak is feasible (the batching wait alone breaks the bound) it is None.
    """
    n = max(n, 50 * policy.max_batch)

    def trial(rate: float) -> ServeResult:
        arrivals = PoissonArrivals(rate_per_s=rate, n=n, seed=seed)
        return serve_with(service, arrivals=arrivals, policy=policy)

    if service(1).latency_s > bound_s:
        return None
    cap = policy.max_batch
    peak = cap / service(cap).latency_s  # the server's peak rate with full batches
    lo, hi, best = peak, peak, None
    while lo > 1e-3 * peak:
        lo *= 0.8
        best = trial(lo)
        if best.latency_p99_s <= bound_s:
            break
        hi = lo
    else:
        return None
    while hi - lo > rel_tol * hi:
        mid = 0.5 * (lo + hi)
        result = trial(mid)
        if result.latency_p99_s <= bound_s:
            lo, best = mid, result
        else:
            hi = mid
    return best
