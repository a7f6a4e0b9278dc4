"""Tests of the discrete-event simulator: channels, op overlap, placement and reports."""

import math

import pytest
import simpy
from conftest_sim import RooflineAcc, branches, fc_gelu_chain
from hypothesis import given, settings
from hypothesis import strategies as st

from hwsim.accelerator import PER_OP_COLUMNS, OpCost, analytic_report
from hwsim.graph import OpKind
from hwsim.sim import (
    FairShareChannel,
    HostStandIn,
    LinkSpec,
    System,
    decompose,
    simulate,
    simulate_pipelined,
    split_stages,
)
from hwsim.sim.plan import plan_ops
from workloads import zoo


def _run_transfers(bw: float, starts: list[tuple[float, float, bool]]) -> list[float]:
    """End times of transfers ``(start_s, nbytes, background)`` on one channel."""
    env = simpy.Environment()
    channel = FairShareChannel(env, bw_bytes_per_s=bw, name="dram")
    ends = [math.nan] * len(starts)

    def go(i, start_s, nbytes, background):
        yield env.timeout(start_s)
        yield channel.transfer(nbytes, background=background)
        ends[i] = env.now

    for i, (start_s, nbytes, background) in enumerate(starts):
        env.process(go(i, start_s, nbytes, background))
    env.run()
    return ends


def test_isolated_transfer_takes_bytes_over_bandwidth():
    """One transfer alone takes exactly N / bw."""
    assert _run_transfers(3e9, [(0.0, 12345.0, False)]) == [12345.0 / 3e9]


def test_two_equal_transfers_started_together_share_bandwidth():
    """Two transfers of N bytes started together both end at 2N / bw."""
    ends = _run_transfers(1e9, [(0.0, 1e6, False), (0.0, 1e6, False)])
    assert ends == [pytest.approx(2e-3, rel=1e-12)] * 2


def test_staggered_transfers_follow_bandwidth_division():
    """A at 0 and B at N/(2 bw), both N bytes: A ends at 1.5 N/bw, B at 2 N/bw."""
    n, bw = 1e6, 1e9
    ends = _run_transfers(bw, [(0.0, n, False), (n / (2 * bw), n, False)])
    assert ends[0] == pytest.approx(1.5 * n / bw, rel=1e-12)
    assert ends[1] == pytest.approx(2.0 * n / bw, rel=1e-12)


def test_three_way_sharing_by_hand():
    """Sizes 1, 2, 3 MB together: ends at 3, 5 and 6 ms on a 1 GB/s channel."""
    ends = _run_transfers(1e9, [(0.0, 1e6, False), (0.0, 2e6, False), (0.0, 3e6, False)])
    assert ends == [pytest.approx(t, rel=1e-12) for t in (3e-3, 5e-3, 6e-3)]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(min_value=1.0, max_value=1e6), min_size=1, max_size=8))
def test_transfers_started_together_end_as_processor_sharing_predicts(sizes):
    """The k-th smallest of n transfers ends at (sum of smaller + (n - k) * its size) / bw."""
    bw = 1e9
    ends = _run_transfers(bw, [(0.0, n, False) for n in sizes])
    ordered = sorted(sizes)
    for size, end in zip(sizes, ends, strict=True):
        k = ordered.index(size)
        expected = (sum(ordered[:k]) + (len(sizes) - k) * size) / bw
        assert end == pytest.approx(expected, rel=1e-9)


def test_background_transfer_yields_to_demand():
    """A background transfer pauses while a demand transfer is in flight."""
    n, bw = 1e6, 1e9
    ends = _run_transfers(bw, [(0.0, n, True), (0.5 * n / bw, n, False)])
    assert ends[1] == pytest.approx(1.5 * n / bw, rel=1e-12)
    assert ends[0] == pytest.approx(2.0 * n / bw, rel=1e-12)


def test_promoted_transfer_shares_as_demand():
    """Promoting a paused background transfer makes it share bandwidth with demand."""
    env = simpy.Environment()
    channel = FairShareChannel(env, bw_bytes_per_s=1.0, name="dram")
    back = channel.transfer(4.0, background=True)
    ends = {}

    def go():
        yield env.timeout(1.0)
        demand = channel.transfer(3.0)
        yield env.timeout(1.0)
        channel.promote(back)
        yield demand
        ends["demand"] = env.now
        yield back
        ends["back"] = env.now

    env.process(go())
    env.run()
    assert ends == {"demand": pytest.approx(6.0), "back": pytest.approx(7.0)}


def test_channel_rejects_nonpositive_bandwidth():
    """A channel needs positive bandwidth."""
    with pytest.raises(ValueError, match="bw_bytes_per_s must be > 0, got 0"):
        FairShareChannel(simpy.Environment(), bw_bytes_per_s=0, name="dram")


def test_no_overlap_one_engine_equals_analytic_report():
    """Without overlap on one engine the simulation reproduces the sum of op latencies."""
    graph, acc = zoo.resnet50(batch=1), RooflineAcc(bw_bytes_per_s=1e11, overhead_s=1e-6)
    report = simulate(graph, acc, overlap=False)
    reference = analytic_report(graph, acc)
    assert math.isclose(report.latency_s, reference.latency_s, rel_tol=1e-12)
    assert math.isclose(report.energy_j, reference.energy_j, rel_tol=1e-12)
    assert list(report.per_op.columns) == PER_OP_COLUMNS
    for got, want in zip(report.per_op["latency_s"], reference.per_op["latency_s"],
                         strict=True):
        assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-18)


@pytest.mark.parametrize("bw", [3e9, 3e10, 3e11])
@pytest.mark.parametrize("build", [zoo.resnet18, fc_gelu_chain])
def test_overlap_between_serial_sum_and_roofline_bound(bw, build):
    """Overlap is never slower than the serial sum nor faster than max(compute, memory)."""
    graph = build()
    acc = RooflineAcc(bw_bytes_per_s=bw, vector_flops_per_s=1e9)
    serial = simulate(graph, acc, overlap=False).latency_s
    overlapped = simulate(graph, acc, overlap=True).latency_s
    plans = plan_ops(graph, System.single(acc))
    compute_s = sum(p.timing.compute_s for p in plans)
    memory_s = sum(p.timing.total_bytes for p in plans) / bw
    assert overlapped <= serial * (1 + 1e-12)
    assert overlapped >= max(compute_s, memory_s) * (1 - 1e-12)


def test_prefetch_hides_weight_fetch_behind_compute():
    """Weights of each linear layer arrive during the previous GELU's compute."""
    graph = fc_gelu_chain()
    acc = RooflineAcc(bw_bytes_per_s=1e10, vector_flops_per_s=3e8)
    serial = simulate(graph, acc, overlap=False)
    overlapped = simulate(graph, acc, overlap=True)
    assert overlapped.latency_s < 0.7 * serial.latency_s
    assert "prefetch" in set(overlapped.timeline["category"])


def test_single_buffered_device_does_not_prefetch():
    """A device that is not double buffered gains nothing from overlap=True."""
    graph = fc_gelu_chain()
    acc = RooflineAcc(bw_bytes_per_s=1e10, vector_flops_per_s=1e9, double_buffered=False)
    overlapped = simulate(graph, acc, overlap=True)
    assert math.isclose(overlapped.latency_s, analytic_report(graph, acc).latency_s,
                        rel_tol=1e-12)


def test_independent_branches_overlap_on_two_units():
    """Two independent chains run side by side when the engine has two units."""
    graph = branches(width=2, depth=3)
    one = simulate(graph, RooflineAcc(macs_per_s=1e9, bw_bytes_per_s=1e13, units=1))
    two = simulate(graph, RooflineAcc(macs_per_s=1e9, bw_bytes_per_s=1e13, units=2))
    assert two.latency_s < 0.6 * one.latency_s
    compute = two.timeline[two.timeline["category"] == "compute"]
    assert {"mxu[0]", "mxu[1]"} <= set(compute["resource"])
    b0 = two.per_op.set_index("op").loc["b0.fc0"]
    b1 = two.per_op.set_index("op").loc["b1.fc0"]
    assert b0["start_s"] < b1["end_s"]
    assert b1["start_s"] < b0["end_s"]


def test_concurrent_branches_contend_for_the_channel():
    """Memory-bound branches on two units share DRAM, so two units barely help."""
    graph = branches(width=2, depth=3)
    one = simulate(graph, RooflineAcc(macs_per_s=1e15, bw_bytes_per_s=1e9, units=1))
    two = simulate(graph, RooflineAcc(macs_per_s=1e15, bw_bytes_per_s=1e9, units=2))
    assert two.latency_s == pytest.approx(one.latency_s, rel=1e-6)


def test_report_energy_utilization_and_timeline():
    """Energy is dynamic plus static power times latency; utilizations lie in [0, 1]."""
    graph, acc = zoo.resnet18(), RooflineAcc(engines=2, bw_bytes_per_s=1e11)
    report = simulate(graph, acc)
    dynamic = sum(acc.op_cost(op).energy_j for op in graph.ops)
    assert report.energy.static_j == pytest.approx(acc.static_power_w * report.latency_s)
    assert report.energy_j == pytest.approx(dynamic + report.energy.static_j)
    assert set(report.engine_utilization) == {"mxu", "vector", "dram"}
    assert all(0.0 <= u <= 1.0 + 1e-12 for u in report.engine_utilization.values())
    assert list(report.timeline.columns) == ["name", "resource", "start_s", "end_s",
                                             "category"]
    assert report.per_op["end_s"].max() == report.latency_s


def test_simulation_is_deterministic():
    """Two runs of the same graph give identical timelines."""
    graph, acc = zoo.resnet18(), RooflineAcc(engines=2, units=2)
    assert simulate(graph, acc).timeline.equals(simulate(graph, acc).timeline)


def test_unsupported_ops_fall_back_to_host_over_the_link():
    """Ops the accelerator does not support run on the host; activations cross the link."""
    graph = fc_gelu_chain(depth=3)
    acc = RooflineAcc(unsupported=frozenset({OpKind.ELEMENTWISE}))
    link = LinkSpec(a="host", b="roofline", bw_bytes_per_s=1e9, latency_s=1e-6,
                    energy_j_per_byte=1e-11)
    system = System.with_host(acc, HostStandIn(), link)
    report = simulate(graph, system)
    engines = report.per_op.set_index("op")["engine"]
    assert engines["gelu0"] == "host.cpu"
    assert engines["fc0"] == "roofline.mxu"
    links = report.timeline[report.timeline["category"] == "link"]
    crossings = {(src, op.name) for op in graph.ops for src in op.inputs
                 if (engines[src] == "host.cpu") != (engines[op.name] == "host.cpu")}
    assert len(links) == len(crossings)
    shipped = sum(graph[src].output_bytes for src, _ in crossings)
    assert min(links["end_s"] - links["start_s"]) >= 1e-6
    assert report.energy.other_j == pytest.approx(shipped * 1e-11)
    assert "link:host-roofline" in report.engine_utilization


def test_missing_link_is_a_clear_error():
    """Devices that exchange activations without a link are rejected by name."""
    acc = RooflineAcc(unsupported=frozenset({OpKind.ELEMENTWISE}))
    system = System(devices=System.with_host(acc, HostStandIn()).devices)
    with pytest.raises(ValueError, match="no link between"):
        simulate(fc_gelu_chain(depth=1), system)


def test_host_named_like_the_card_gets_its_own_device_name():
    """A card and a host whose configs share a name still make a two-device system."""
    system = System.with_host(HostStandIn(), HostStandIn())
    assert [d.name for d in system.devices] == ["host", "host-host"]
    assert system.host == "host-host"
    assert simulate(fc_gelu_chain(depth=1), system).latency_s > 0


def test_system_validates_devices_and_links():
    """Duplicate devices, unknown hosts and links to unknown devices are rejected."""
    devices = System.with_host(RooflineAcc(), HostStandIn()).devices
    with pytest.raises(ValueError, match="unique names"):
        System(devices=(devices[0], devices[0]))
    with pytest.raises(ValueError, match="System.host"):
        System(devices=devices, host="gpu")
    with pytest.raises(ValueError, match="names no device"):
        System(devices=devices, links=(LinkSpec(a="host", b="gpu", bw_bytes_per_s=1.0),))


def test_decompose_splits_latency_into_compute_memory_and_tail():
    """compute_s + stall = latency; weights are prefetchable; the rest is demand traffic."""
    graph = fc_gelu_chain(depth=1)
    acc = RooflineAcc(bw_bytes_per_s=1e9, overhead_s=2e-6)
    op = graph["fc0"]
    cost = acc.op_cost(op)
    t = decompose(op, cost, freq_hz=acc.freq_hz, dram_bw_bytes_per_s=acc.bw_bytes_per_s)
    assert t.compute_s + cost.stall_cycles / acc.freq_hz == pytest.approx(cost.latency_s)
    assert t.prefetch_bytes == op.weight_bytes
    assert t.prefetch_bytes + t.demand_bytes == pytest.approx(cost.dram_bytes)
    assert max(t.compute_s, t.memory_s) + t.tail_s == pytest.approx(cost.latency_s)


def test_decompose_caps_traffic_of_a_cost_faster_than_its_bandwidth():
    """A cost claiming less time than its bytes need keeps its latency in isolation."""
    op = fc_gelu_chain(depth=1)["fc0"]
    cost = OpCost(latency_s=1e-6, dram_read_bytes=1e4)
    t = decompose(op, cost, freq_hz=1e9, dram_bw_bytes_per_s=1e9)
    assert t.memory_s == pytest.approx(1e-6)
    assert t.total_bytes == pytest.approx(1e3)


def test_unknown_engine_is_a_clear_error():
    """An accelerator naming an engine it does not have is rejected by op and engine."""

    class Wrong(RooflineAcc):
        def engine_for(self, op):
            return "tensor"

    with pytest.raises(ValueError, match="engine_for returned 'tensor'"):
        simulate(fc_gelu_chain(depth=1), Wrong())


def test_host_stand_in_is_a_roofline_and_validates():
    """The host stand-in costs max(compute, memory) and rejects non-positive throughput."""
    host = HostStandIn(flops_per_s=1e9, bw_bytes_per_s=1e9)
    op = fc_gelu_chain(depth=1)["fc0"]
    cost = host.op_cost(op)
    memory_s = (op.input_bytes + op.weight_bytes + op.output_bytes) / 1e9
    assert cost.latency_s == max(op.flops / 1e9, memory_s)
    with pytest.raises(ValueError, match="HostStandIn.flops_per_s must be > 0, got 0"):
        HostStandIn(flops_per_s=0)


def test_pipelining_throughput_exceeds_one_over_latency():
    """With four stages a new inference starts before the previous one finishes."""
    result = simulate_pipelined(zoo.resnet18(), RooflineAcc(bw_bytes_per_s=1e12), 8, stages=4)
    assert len(result.stages) == 4
    assert result.throughput_per_s > 1.5 / result.latency_s
    assert 0.0 < result.engine_utilization["stage0"] <= 1.0


def test_one_stage_pipeline_is_serial():
    """A one-stage pipeline runs inferences back to back at the analytic latency."""
    graph, acc = fc_gelu_chain(depth=2), RooflineAcc()
    result = simulate_pipelined(graph, acc, 3, stages=1)
    single = analytic_report(graph, acc).latency_s
    assert result.latency_s == pytest.approx(single, rel=1e-12)
    assert result.makespan_s == pytest.approx(3 * single, rel=1e-12)
    assert result.energy_j == pytest.approx(3 * analytic_report(graph, acc).energy_j)


def test_resident_weights_raise_pipeline_throughput():
    """Keeping stage weights on chip removes their per-inference DRAM traffic."""
    graph, acc = fc_gelu_chain(), RooflineAcc(bw_bytes_per_s=1e10)
    moving = simulate_pipelined(graph, acc, 6, stages=3)
    resident = simulate_pipelined(graph, acc, 6, stages=3, weights_resident=True)
    assert resident.throughput_per_s > 2 * moving.throughput_per_s


@pytest.mark.parametrize("n_stages", [1, 2, 3, 4])
def test_split_stages_is_optimal_on_small_inputs(n_stages):
    """The balanced split's bottleneck equals the brute-force optimum."""
    import itertools

    import numpy as np

    x = np.random.default_rng(n_stages).uniform(0.1, 1.0, size=7)
    starts = split_stages(list(x), n_stages)
    bounds = [*starts, len(x)]
    got = max(x[a:b].sum() for a, b in itertools.pairwise(bounds))
    best = min(max(x[a:b].sum() for a, b in itertools.pairwise([0, *cut, len(x)]))
               for cut in itertools.combinations(range(1, len(x)), n_stages - 1))
    assert len(starts) == n_stages
    assert got == pytest.approx(best, rel=1e-9)


def test_pipeline_validates_counts():
    """Zero stages or inferences are rejected by name."""
    with pytest.raises(ValueError, match="stages must be an integer >= 1, got 0"):
        simulate_pipelined(fc_gelu_chain(depth=1), RooflineAcc(), 2, stages=0)
    with pytest.raises(ValueError, match="n_inferences must be an integer >= 1"):
        simulate_pipelined(fc_gelu_chain(depth=1), RooflineAcc(), 0)


def test_host_stand_in_reads_only_gathered_embedding_rows():
    """An embedding on the host stand-in reads the rows it gathers, not the whole table."""
    from workloads import zoo

    op = zoo.bert_base(seq_len=128)["word_embeddings"]
    host = HostStandIn(flops_per_s=1e12, bw_bytes_per_s=1e9)
    cost = host.op_cost(op)
    assert cost.latency_s == pytest.approx((op.input_bytes + op.weight_read_bytes
                                            + op.output_bytes) / 1e9, rel=1e-6)
    assert op.weight_read_bytes < op.weight_bytes / 50
