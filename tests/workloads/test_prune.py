"""Tests for workloads.compression.prune."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from workloads.compression import (
    prune_channels,
    prune_global,
    prune_magnitude,
    prune_n_m,
    prune_taylor,
    shrink_inputs,
)
from workloads.compression.prune import _n_m_kernel


def _rng():
    """A fixed-seed generator, so every test sees the same data."""
    return np.random.default_rng(99)


tied_arrays = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=7),
    elements=st.integers(-4, 4).map(float),
)


@settings(max_examples=80, deadline=None)
@given(w=tied_arrays, sparsity=st.floats(0.0, 0.999))
def test_magnitude_prunes_exact_count_of_smallest(w, sparsity):
    """Exactly round(sparsity * n) weights go, none larger than any kept weight."""
    r = prune_magnitude(w, sparsity=sparsity)
    assert np.count_nonzero(~r.mask) == round(sparsity * w.size)
    if r.mask.any() and (~r.mask).any():
        assert np.abs(w[~r.mask]).max() <= np.abs(w[r.mask]).min()
    np.testing.assert_array_equal(r.values, np.where(r.mask, w, 0.0))


def test_magnitude_ties_keep_earlier_weights():
    """Among equal magnitudes the earlier weights are kept."""
    r = prune_magnitude(np.array([2.0, 1, -1, 1, 3, -1]), sparsity=0.5)
    np.testing.assert_array_equal(r.mask, [True, True, False, False, True, False])


def test_density_is_measured_on_values():
    """Density counts the nonzeros left, zeros already in the input included."""
    w = np.array([[0.0, 0.0, 1.0, 2.0], [3.0, 4.0, 5.0, 6.0]])
    r = prune_magnitude(w, sparsity=0.25)
    assert r.density == pytest.approx(6 / 8)
    assert prune_magnitude(w, sparsity=0.5).density == pytest.approx(4 / 8)
    assert r.pattern == "unstructured"
    assert r.sparsity == pytest.approx(2 / 8)


def test_global_pruning_shares_one_threshold():
    """Global pruning removes the exact total with one threshold over all tensors."""
    rng = _rng()
    weights = {"small": rng.standard_normal((30, 20)) * 0.1, "large": rng.standard_normal(1000)}
    results = prune_global(weights, sparsity=0.6)
    pruned = np.concatenate([np.abs(weights[k][~r.mask]) for k, r in results.items()])
    kept = np.concatenate([np.abs(weights[k][r.mask]) for k, r in results.items()])
    assert pruned.size == round(0.6 * 1600)
    assert pruned.max() <= kept.min()
    assert results["small"].density < 0.2 < 0.6 < results["large"].density
    assert results["small"].mask.shape == (30, 20)


def test_global_pruning_equals_magnitude_pruning_of_concatenation():
    """With ties, global pruning is magnitude pruning of the tensors laid end to end."""
    weights = {"a": np.array([1.0, 2.0, 1.0]), "b": np.array([[1.0, 0.5], [2.0, 1.0]])}
    results = prune_global(weights, sparsity=0.5)
    flat = prune_magnitude(np.array([1.0, 2.0, 1.0, 1.0, 0.5, 2.0, 1.0]), sparsity=0.5)
    np.testing.assert_array_equal(
        np.concatenate([results["a"].mask, results["b"].mask.ravel()]), flat.mask)


def test_taylor_uses_gradient_times_weight():
    """Taylor pruning keeps the largest |w * g|, which differs from the largest |w|."""
    w = np.array([1.0, 2.0, 3.0, 4.0])
    grad = np.array([10.0, 1.0, 1.0, 0.1])
    taylor = prune_taylor(w, grad, sparsity=0.5)
    np.testing.assert_array_equal(taylor.mask, [True, False, True, False])
    assert not np.array_equal(taylor.mask, prune_magnitude(w, sparsity=0.5).mask)


def test_taylor_with_uniform_gradient_is_magnitude():
    """A constant gradient makes Taylor importance rank like magnitude."""
    w = _rng().standard_normal((8, 8))
    np.testing.assert_array_equal(prune_taylor(w, np.full_like(w, -0.3), sparsity=0.4).mask,
                                  prune_magnitude(w, sparsity=0.4).mask)


def _groups(mask, m, axis):
    """Counts of kept entries per group of m along axis (last group may be short)."""
    moved = np.moveaxis(mask, axis, -1)
    length = moved.shape[-1]
    pad = -length % m
    padded = np.concatenate([moved, np.zeros(moved.shape[:-1] + (pad,), bool)], axis=-1)
    return padded.reshape(moved.shape[:-1] + (-1, m)).sum(axis=-1)


@pytest.mark.parametrize(("n", "m"), [(2, 4), (1, 4), (1, 2), (3, 8), (4, 16)])
@pytest.mark.parametrize(("shape", "axis"), [((16, 64, 3, 3), 1), ((24, 48), -1), ((5, 30), 1)])
def test_n_m_pattern_holds(n, m, shape, axis):
    """Every group keeps exactly n (short last group: min(n, length)) of m, the largest."""
    w = _rng().standard_normal(shape)
    r = prune_n_m(w, n=n, m=m, axis=axis)
    counts = _groups(r.mask, m, axis)
    length = shape[axis]
    expected = np.full(counts.shape[-1], n)
    if length % m:
        expected[-1] = min(n, length % m)
    np.testing.assert_array_equal(counts, np.broadcast_to(expected, counts.shape))
    assert _groups(r.values != 0, m, axis).max() <= n
    assert r.pattern == f"{n}:{m}"


def test_n_m_keeps_largest_in_each_group():
    """2:4 keeps the two largest magnitudes of each group of four."""
    w = np.array([[0.1, -5.0, 3.0, 0.2, 1.0, 1.0, 1.0, -0.5]])
    r = prune_n_m(w, n=2, m=4, axis=1)
    np.testing.assert_array_equal(r.values, [[0.0, -5.0, 3.0, 0.0, 1.0, 1.0, 0.0, 0.0]])
    assert r.density == pytest.approx(0.5)


def test_n_m_with_zeros_has_at_most_n():
    """Zeros in the input leave groups with at most n nonzeros."""
    w = np.array([[0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 2.0, 3.0]])
    r = prune_n_m(w, n=2, m=4)
    assert _groups(r.values != 0, 4, 1).tolist() == [[1, 2]]


def _n_m_reference(w3, n, m):
    """N:M mask by a stable sort of each group, written with plain numpy."""
    out = np.zeros(w3.shape, dtype=bool)
    for p, q in np.ndindex(w3.shape[0], w3.shape[2]):
        for start in range(0, w3.shape[1], m):
            group = np.abs(w3[p, start : start + m, q])
            order = np.argsort(-group, kind="stable")[:n]
            out[p, start + order, q] = True
    return out


def test_n_m_kernel_matches_references():
    """The N:M kernel equals its Python form and a sort-based reference, ties included."""
    w3 = np.round(_rng().standard_normal((3, 11, 4)))
    for n, m in ((2, 4), (1, 3), (3, 5)):
        fast, slow = np.empty(w3.shape, bool), np.empty(w3.shape, bool)
        _n_m_kernel(w3, n, m, fast)
        _n_m_kernel.py_func(w3, n, m, slow)
        np.testing.assert_array_equal(fast, _n_m_reference(w3, n, m))
        np.testing.assert_array_equal(slow, fast)


def test_channel_pruning_keeps_highest_norm_channels():
    """Channel pruning keeps the highest-L1 filters, sorted, and shrinks the tensor."""
    rng = _rng()
    w = rng.standard_normal((10, 3, 3, 3)) * np.arange(1, 11)[:, None, None, None]
    r = prune_channels(w, sparsity=0.3)
    np.testing.assert_array_equal(r.kept, np.arange(3, 10))
    np.testing.assert_array_equal(r.values, w[3:])
    assert r.density == pytest.approx(0.7)
    np.testing.assert_allclose(r.norms, np.abs(w).sum(axis=(1, 2, 3)))


def test_channel_pruning_l1_and_l2_rank_differently():
    """A spread channel wins on L1, a peaked one on L2."""
    w = np.array([[1.0, 1.0, 1.0, 1.0], [2.5, 0.0, 0.0, 0.0]])
    assert prune_channels(w, keep_ratio=0.5, norm="l1").kept.tolist() == [0]
    assert prune_channels(w, keep_ratio=0.5, norm="l2").kept.tolist() == [1]


def test_channel_pruning_on_other_axis_and_ratio_forms():
    """keep_ratio and sparsity agree, any axis works, and one channel is always kept."""
    w = _rng().standard_normal((4, 5, 6))
    by_keep = prune_channels(w, keep_ratio=0.5, axis=-1)
    by_sparsity = prune_channels(w, sparsity=0.5, axis=2)
    np.testing.assert_array_equal(by_keep.kept, by_sparsity.kept)
    np.testing.assert_array_equal(by_keep.values, w[:, :, by_keep.kept])
    assert by_keep.values.shape == (4, 5, 3)
    assert by_keep.axis == 2
    assert prune_channels(w, keep_ratio=0.01, axis=0).kept.size == 1


def test_shrink_inputs_preserves_the_network_function():
    """Removing all-zero filters and the matching inputs of the next layer changes nothing."""
    rng = _rng()
    w1, w2, x = rng.standard_normal((8, 5)), rng.standard_normal((3, 8)), rng.standard_normal(5)
    w1[[1, 4, 6]] = 0.0
    pruned = prune_channels(w1, sparsity=3 / 8, axis=0, norm="l2")
    w2_small = shrink_inputs(w2, pruned.kept, axis=1)
    np.testing.assert_array_equal(pruned.kept, [0, 2, 3, 5, 7])
    assert w2_small.shape == (3, 5)
    np.testing.assert_allclose(w2_small @ np.maximum(pruned.values @ x, 0),
                               w2 @ np.maximum(w1 @ x, 0))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda w: prune_magnitude(w, sparsity=1), r"sparsity must be a number in \[0, 1\), got 1"),
        (lambda w: prune_magnitude(w, sparsity=-0.1), r"sparsity must be a number in \[0, 1\)"),
        (lambda w: prune_magnitude(w, sparsity=True), "sparsity must be a number"),
        (lambda w: prune_n_m(w, n=4, m=4), r"n must be smaller than m \(n < m\), got n=4, m=4"),
        (lambda w: prune_n_m(w, n=0, m=4), "n must be an integer >= 1, got 0"),
        (lambda w: prune_n_m(w, n=2, m=4, axis=2), "axis must be an integer in -2..1 for a 2-D"),
        (lambda w: prune_channels(w, keep_ratio=0.0), r"keep_ratio must be a number in \(0, 1\]"),
        (lambda w: prune_channels(w), "give exactly one of keep_ratio and sparsity"),
        (lambda w: prune_channels(w, sparsity=0.5, norm="l3"), "norm must be one of"),
        (lambda w: prune_taylor(w, w[0], sparsity=0.5), "grad must have the shape of w"),
        (lambda w: prune_global({}, sparsity=0.5), "weights must hold at least one tensor"),
        (lambda w: shrink_inputs(w, np.array([2, 1])), "kept must be increasing integer"),
        (lambda w: shrink_inputs(w, np.array([0, 4])), r"indices in 0..3 \(axis 1 of w_next\)"),
        (lambda w: prune_magnitude(w * np.nan, sparsity=0.5), "w must contain only finite"),
    ],
)
def test_invalid_parameters_are_rejected(call, message):
    """Bad parameters raise ValueError naming the field, the value and what is allowed."""
    with pytest.raises(ValueError, match=message):
        call(np.ones((4, 4)))


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int64])
def test_most_negative_integer_is_the_largest_magnitude(dtype):
    """|-128| is 128 for int8 codes: magnitude, global and N:M pruning keep it."""
    lowest = np.iinfo(dtype).min
    w = np.array([[lowest, 1, 2, 3]], dtype=dtype)
    assert prune_magnitude(w, sparsity=0.5).mask.tolist() == [[True, False, False, True]]
    assert prune_global({"w": w}, sparsity=0.5)["w"].mask.tolist() == [[True, False, False, True]]
    assert prune_n_m(w, n=2, m=4).mask.tolist() == [[True, False, False, True]]


def test_taylor_scores_do_not_overflow_integer_inputs():
    """Taylor importance of int8 weights and gradients is computed without wrapping around."""
    w = np.array([16, 2], dtype=np.int8)
    grad = np.array([16, 1], dtype=np.int8)  # 16 * 16 wraps to 0 in int8
    assert prune_taylor(w, grad, sparsity=0.5).mask.tolist() == [True, False]


def test_n_m_accepts_float16():
    """N:M pruning of float16 weights gives the mask of their float32 values."""
    w = _rng().standard_normal((8, 16)).astype(np.float16)
    got = prune_n_m(w, n=2, m=4)
    assert got.values.dtype == np.float16
    assert np.array_equal(got.mask, prune_n_m(w.astype(np.float32), n=2, m=4).mask)
