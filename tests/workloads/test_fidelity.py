"""The fidelity proxy: seeded, monotone in precision and sparsity, never called accuracy."""

import numpy as np
import pytest

from workloads import zoo
from workloads.compression.fidelity import combine_sqnr_db, fidelity_proxy
from workloads.compression.plan import CompressionPlan


def _proxy(plan_dict, model=zoo.resnet18, seed=0):
    return fidelity_proxy(CompressionPlan.from_dict(plan_dict).apply(model()), seed=seed)


def test_fewer_bits_lower_fidelity():
    """Proxy SQNR falls as weight and activation bits shrink (about 6 dB per bit)."""
    s16 = _proxy({"defaults": {"weight_bits": 16, "act_bits": 16}}).sqnr_db
    s8 = _proxy({"defaults": {"weight_bits": 8, "act_bits": 8}}).sqnr_db
    s4 = _proxy({"defaults": {"weight_bits": 4, "act_bits": 8}}).sqnr_db
    assert s16 > s8 > s4
    assert s16 - s8 == pytest.approx(8 * 6.02, abs=8)


def test_sparsity_lowers_fidelity_and_fp32_is_near_perfect():
    """Pruning lowers the proxy; fp32 against the float64 reference is above 100 dB."""
    base = _proxy({"defaults": {"weight_bits": 8, "act_bits": 8}}).sqnr_db
    pruned = _proxy({"defaults": {"weight_bits": 8, "act_bits": 8, "weight_sparsity": 0.5,
                                  "pattern": "unstructured"}}).sqnr_db
    assert pruned < base
    assert _proxy({}).sqnr_db > 100


def test_same_seed_same_result():
    """The proxy is deterministic for a seed and changes with it."""
    plan = {"defaults": {"weight_bits": 6, "act_bits": 6}}
    a, b = _proxy(plan, seed=1), _proxy(plan, seed=1)
    assert a.sqnr_db == b.sqnr_db
    assert _proxy(plan, seed=2).sqnr_db != a.sqnr_db
    assert list(a.per_layer.columns) == ["op", "sqnr_db"]


def test_combine_adds_noise_powers():
    """Two layers at 20 dB combine to 20 - 10 log10(2) dB."""
    assert combine_sqnr_db(np.array([20.0, 20.0])) == pytest.approx(20 - 10 * np.log10(2))
    assert combine_sqnr_db(np.array([])) == float("inf")


def test_nominal_channel_sparsity_costs_fidelity():
    """A channel pattern with sparsity zeroes output channels, so the proxy falls like pruning."""
    channel = _proxy({"defaults": {"weight_sparsity": 0.5, "pattern": "channel"}}).sqnr_db
    unstructured = _proxy({"defaults": {"weight_sparsity": 0.5}}).sqnr_db
    assert channel < 10
    assert channel < unstructured
    assert _proxy({"defaults": {"weight_sparsity": 0.25, "pattern": "channel"}}).sqnr_db > channel
