"""Tests of serving: dynamic batching, arrivals, load sweeps and capacity under a bound."""

import numpy as np
import pytest
from conftest_sim import RooflineAcc

from hwsim.accelerator import analytic_report
from hwsim.graph import OpKind
from hwsim.sim import (
    BatchPolicy,
    HostStandIn,
    PoissonArrivals,
    ServiceTimes,
    System,
    load_sweep,
    max_throughput_under,
    serve,
    simulate,
)
from workloads import zoo

ACC = RooflineAcc(bw_bytes_per_s=3e10)


def _mlp(batch: int):
    return zoo.mlp(batch=batch, in_features=256, hidden=512, depth=2)


def _capacity_per_s(max_batch: int = 1) -> float:
    return max_batch / simulate(_mlp(max_batch), ACC).latency_s


def test_one_request_at_a_time_equals_single_inference_latency():
    """Requests far apart with max_batch=1 each take exactly one inference's latency."""
    single = simulate(_mlp(1), ACC).latency_s
    arrivals = np.arange(20) * 1000 * single
    result = serve(_mlp, ACC, arrivals=arrivals, policy=BatchPolicy(max_batch=1))
    assert np.all(result.latencies_s == pytest.approx(single, rel=1e-12))
    assert result.latency_p99_s == pytest.approx(single, rel=1e-12)
    assert result.mean_batch == 1.0


def test_low_poisson_rate_single_batches_match_single_latency():
    """At a very low Poisson rate the median latency is the single-inference latency."""
    single = simulate(_mlp(1), ACC).latency_s
    arrivals = PoissonArrivals(rate_per_s=1e-3 / single, n=200, seed=3)
    result = serve(_mlp, ACC, arrivals=arrivals, policy=BatchPolicy(max_batch=4))
    assert result.latency_p50_s == pytest.approx(single, rel=1e-12)


def test_lone_request_waits_max_wait_before_dispatch():
    """A request alone in a non-full batch waits max_wait_s, then runs."""
    single = simulate(_mlp(1), ACC).latency_s
    result = serve(_mlp, ACC, arrivals=[0.0],
                   policy=BatchPolicy(max_batch=4, max_wait_s=1e-3))
    assert result.latencies_s[0] == pytest.approx(1e-3 + single, rel=1e-12)


def test_batch_dispatches_when_full_before_the_wait_ends():
    """Four requests arriving together with max_batch=4 go at once as one batch."""
    result = serve(_mlp, ACC, arrivals=[0.0, 0.0, 0.0, 0.0],
                   policy=BatchPolicy(max_batch=4, max_wait_s=1.0))
    assert list(result.batch_sizes) == [4]
    assert result.latencies_s == pytest.approx([simulate(_mlp(4), ACC).latency_s] * 4)


def test_queue_by_hand():
    """Three requests at 0, 0 and 0.5*s with max_batch=2: batches of 2 then 1, by hand."""
    s1, s2 = simulate(_mlp(1), ACC).latency_s, simulate(_mlp(2), ACC).latency_s
    arrivals = [0.0, 0.0, 0.5 * s2]
    result = serve(_mlp, ACC, arrivals=arrivals, policy=BatchPolicy(max_batch=2))
    assert list(result.batch_sizes) == [2, 1]
    assert result.latencies_s == pytest.approx([s2, s2, s2 + s1 - 0.5 * s2], rel=1e-12)


def test_percentiles_grow_with_offered_load():
    """p50, p95 and p99 do not decrease as the offered load rises (max_batch=1)."""
    rates = [f * _capacity_per_s() for f in (0.2, 0.5, 0.8, 0.95)]
    table = load_sweep(_mlp, ACC, rates, policy=BatchPolicy(max_batch=1), n=3000, seed=1)
    assert len(table) == len(rates)
    for col in ("latency_p50_s", "latency_p95_s", "latency_p99_s"):
        assert table[col].is_monotonic_increasing
    assert table["latency_p99_s"].iloc[-1] > 3 * table["latency_p99_s"].iloc[0]
    assert table["utilization_mxu"].is_monotonic_increasing


def test_batching_keeps_up_where_single_requests_saturate():
    """Above single-request capacity, batching serves the load that max_batch=1 cannot."""
    rate = 3 * _capacity_per_s()
    arrivals = PoissonArrivals(rate_per_s=rate, n=3000, seed=2)
    single = serve(_mlp, ACC, arrivals=arrivals, policy=BatchPolicy(max_batch=1))
    batched = serve(_mlp, ACC, arrivals=arrivals, policy=BatchPolicy(max_batch=16))
    assert single.throughput_per_s == pytest.approx(_capacity_per_s(), rel=0.02)
    assert batched.throughput_per_s == pytest.approx(rate, rel=0.1)
    assert batched.latency_p99_s < single.latency_p99_s
    assert batched.batch_sizes.max() <= 16
    assert batched.batch_sizes.sum() == 3000


def test_same_seed_same_result():
    """The same seed gives the same latencies; another seed gives others."""
    policy = BatchPolicy(max_batch=8, max_wait_s=1e-4)
    rate = 2 * _capacity_per_s()
    a = serve(_mlp, ACC, arrivals=PoissonArrivals(rate_per_s=rate, n=500, seed=7), policy=policy)
    b = serve(_mlp, ACC, arrivals=PoissonArrivals(rate_per_s=rate, n=500, seed=7), policy=policy)
    c = serve(_mlp, ACC, arrivals=PoissonArrivals(rate_per_s=rate, n=500, seed=8), policy=policy)
    assert np.array_equal(a.latencies_s, b.latencies_s)
    assert not np.array_equal(a.latencies_s, c.latencies_s)


def test_energy_and_utilization_add_up():
    """Energy is static power over the run plus each batch's dynamic energy; utils in [0, 1]."""
    arrivals = PoissonArrivals(rate_per_s=_capacity_per_s(), n=400, seed=0)
    result = serve(_mlp, ACC, arrivals=arrivals, policy=BatchPolicy(max_batch=4))
    dynamic = 0.0
    for size, count in zip(*np.unique(result.batch_sizes, return_counts=True), strict=True):
        report = simulate(_mlp(int(size)), ACC)
        dynamic += count * (report.energy_j - report.energy.static_j)
    assert result.energy_j == pytest.approx(dynamic + ACC.static_power_w * result.duration_s)
    assert all(0.0 <= u <= 1.0 for u in result.engine_utilization.values())


def test_ten_thousand_requests_are_served():
    """Ten thousand Poisson requests are all served, in batches no larger than the cap."""
    arrivals = PoissonArrivals(rate_per_s=2 * _capacity_per_s(), n=10_000, seed=0)
    result = serve(_mlp, ACC, arrivals=arrivals, policy=BatchPolicy(max_batch=32,
                                                                    max_wait_s=1e-4))
    assert result.n_requests == 10_000
    assert result.batch_sizes.sum() == 10_000
    assert len(result.latencies_s) == 10_000
    assert np.all(result.latencies_s > 0)


def test_analytic_costing_matches_serial_simulation():
    """Analytic batch costs equal simulated ones without overlap on one engine."""
    simulated = ServiceTimes(_mlp, ACC, overlap=False)
    analytic = ServiceTimes(_mlp, ACC, analytic=True)
    for b in (1, 3, 8):
        assert analytic(b).latency_s == pytest.approx(simulated(b).latency_s, rel=1e-12)
        assert analytic(b).latency_s == pytest.approx(analytic_report(_mlp(b), ACC).latency_s,
                                                      rel=1e-12)
    with pytest.raises(ValueError, match="analytic=True needs an Accelerator"):
        ServiceTimes(_mlp, System.with_host(ACC, HostStandIn()), analytic=True)


def test_service_times_build_each_batch_size_once():
    """The graph builder is called once per distinct batch size."""
    calls = []

    def builder(batch):
        calls.append(batch)
        return _mlp(batch)

    arrivals = PoissonArrivals(rate_per_s=4 * _capacity_per_s(), n=300, seed=0)
    result = serve(builder, ACC, arrivals=arrivals, policy=BatchPolicy(max_batch=8))
    assert sorted(calls) == sorted(set(int(b) for b in result.batch_sizes))


def test_serving_on_a_system_counts_the_link():
    """Serving on a host + accelerator system reports the link's utilization."""
    acc = RooflineAcc(bw_bytes_per_s=3e10, unsupported=frozenset({OpKind.ELEMENTWISE}))
    system = System.with_host(acc, HostStandIn())
    result = serve(_mlp, system, arrivals=PoissonArrivals(rate_per_s=1e3, n=50, seed=0),
                   policy=BatchPolicy(max_batch=4))
    assert result.engine_utilization["link:host-roofline"] > 0.0
    assert result.latency_p50_s >= simulate(_mlp(1), system).latency_s * (1 - 1e-12)


def test_max_throughput_meets_the_bound():
    """The best policy's p99 meets the bound, and batching beats one request at a time."""
    bound_s = 20 * simulate(_mlp(1), ACC).latency_s
    capacity = max_throughput_under(_mlp, ACC, bound_s, n=1000)
    assert capacity.result is not None
    assert capacity.result.latency_p99_s <= bound_s
    rows = capacity.candidates.set_index("max_batch")
    assert capacity.throughput_per_s == rows["throughput_per_s"].max()
    assert capacity.throughput_per_s > 2 * rows.loc[1, "throughput_per_s"]


def test_max_throughput_is_zero_when_the_bound_is_unreachable():
    """A bound below the single-inference latency admits no policy."""
    bound_s = 0.5 * simulate(_mlp(1), ACC).latency_s
    capacity = max_throughput_under(_mlp, ACC, bound_s, n=200)
    assert capacity.throughput_per_s == 0.0
    assert capacity.policy is None


def test_capacity_gives_up_when_waiting_for_a_batch_breaks_the_bound():
    """When full batches are too slow and partial ones wait too long, no rate is feasible:
    the search stops at a thousandth of the peak instead of reporting a vanishing rate."""
    single = simulate(_mlp(1), ACC).latency_s
    policy = BatchPolicy(max_batch=8, max_wait_s=100 * single)
    capacity = max_throughput_under(_mlp, ACC, 1.05 * single, policies=[policy], n=200)
    assert capacity.throughput_per_s == 0.0
    assert capacity.policy is None


def test_policy_arrivals_and_bounds_validate():
    """Bad batch caps, waits, rates, traces and bounds are rejected by name."""
    with pytest.raises(ValueError, match="max_batch must be an integer >= 1, got 0"):
        BatchPolicy(max_batch=0)
    with pytest.raises(ValueError, match="max_wait_s must be finite"):
        BatchPolicy(max_wait_s=float("inf"))
    with pytest.raises(ValueError, match="rate_per_s must be finite and > 0, got 0.0"):
        PoissonArrivals(rate_per_s=0.0, n=10)
    with pytest.raises(ValueError, match="rate_per_s must be finite and > 0, got inf"):
        PoissonArrivals(rate_per_s=float("inf"), n=10)
    with pytest.raises(ValueError, match="non-decreasing"):
        serve(_mlp, ACC, arrivals=[1.0, 0.0], policy=BatchPolicy())
    with pytest.raises(ValueError, match="p99_bound_s must be > 0"):
        max_throughput_under(_mlp, ACC, 0.0)
