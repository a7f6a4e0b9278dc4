"""Tests for hwsim.explore.pareto: front filtering, hypervolume and knee points."""

import itertools

import numpy as np
import pandas as pd
import pytest

from hwsim.explore import (
    HypervolumeEstimateWarning,
    hypervolume,
    hypervolume_monte_carlo,
    knee_point,
    pareto_front,
    pareto_mask,
)


def brute_force_mask(values, senses):
    """O(n^2) reference: a row is on the front when no other row dominates it."""
    costs = np.where(np.array(senses) == "min", 1.0, -1.0) * np.asarray(values, dtype=float)
    keep = []
    for p in costs:
        if np.isnan(p).any():
            keep.append(False)
            continue
        dominated = any(np.all(q <= p) and np.any(q < p) for q in costs if not np.isnan(q).any())
        keep.append(not dominated)
    return np.array(keep, dtype=bool)


def brute_force_volume(points, ref):
    """Hypervolume of integer points by counting dominated unit cells below ``ref``."""
    cells = itertools.product(*(range(int(lo), int(r)) for lo, r in zip(points.min(0), ref,
                                                                        strict=True)))
    return sum(bool(np.any(np.all(points <= np.array(c), axis=1))) for c in cells)


SENSES = {
    1: [["min"], ["max"]],
    2: [["min", "min"], ["min", "max"], ["max", "max"]],
    3: [["min", "min", "min"], ["max", "min", "max"]],
    4: [["min", "max", "min", "max"]],
}


@pytest.mark.parametrize("k", [1, 2, 3, 4])
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("kind", ["continuous", "integer", "nan", "inf"])
def test_mask_matches_brute_force(k, seed, kind):
    """The vectorised filter equals the O(n^2) definition, with ties, duplicates, NaN and
    infinities."""
    rng = np.random.default_rng(seed)
    n = 120
    if kind == "continuous":
        values = rng.normal(size=(n, k))
    else:
        values = rng.integers(0, 4, size=(n, k)).astype(float)
    if kind == "nan":
        values[rng.random((n, k)) < 0.05] = np.nan
    if kind == "inf":
        hit = rng.random((n, k)) < 0.1
        values[hit] = rng.choice([np.inf, -np.inf], size=hit.sum())
    for senses in SENSES[k]:
        np.testing.assert_array_equal(pareto_mask(values, senses), brute_force_mask(values, senses))


def test_mask_on_a_concave_front_keeps_everything():
    """Points on an anti-diagonal are mutually non-dominated."""
    x = np.linspace(0, 1, 50)
    assert pareto_mask(np.column_stack([x, 1 - x]), ["min", "min"]).all()
    assert pareto_mask(np.column_stack([x, 1 - x, x]), ["min", "min", "max"]).sum() == 50


def test_duplicates_are_both_kept():
    """Two identical non-dominated points are both on the front."""
    values = np.array([[1.0, 2.0], [1.0, 2.0], [2.0, 3.0]])
    np.testing.assert_array_equal(pareto_mask(values, ["min", "min"]), [True, True, False])
    values3 = np.array([[1.0, 2.0, 0.0], [1.0, 2.0, 0.0], [1.0, 2.0, 1.0]])
    np.testing.assert_array_equal(pareto_mask(values3, ["min"] * 3), [True, True, False])


def test_nan_rows_are_never_on_the_front():
    """A NaN in any objective removes the row, even if it would otherwise dominate."""
    values = np.array([[0.0, np.nan], [1.0, 1.0], [np.nan, np.nan]])
    np.testing.assert_array_equal(pareto_mask(values, ["min", "min"]), [False, True, False])
    assert not pareto_mask(np.full((3, 3), np.nan), ["min"] * 3).any()


def test_empty_input_gives_empty_mask():
    """No rows, no front."""
    assert pareto_mask(np.empty((0, 2)), ["min", "min"]).shape == (0,)


def test_infinite_values_are_compared():
    """Infinite objectives are ordinary (worst or best) values, not missing ones."""
    values = np.array([[np.inf, 0.0], [1.0, 1.0], [2.0, np.inf]])
    np.testing.assert_array_equal(pareto_mask(values, ["min", "min"]), [True, True, False])


def test_best_point_with_an_infinite_objective_stays_on_the_front():
    """The point best in x is non-dominated even when its y is infinite, in 2-D as in 3-D."""
    values = np.array([[1.0, np.inf], [2.0, 5.0], [1.5, np.inf]])
    np.testing.assert_array_equal(pareto_mask(values, ["min", "min"]), [True, True, False])
    np.testing.assert_array_equal(pareto_mask(np.column_stack([values, np.zeros(3)]),
                                              ["min"] * 3), [True, True, False])


def test_knee_ignores_rows_with_infinite_objectives():
    """A row with an infinite objective cannot be normalised, so the knee skips it."""
    df = pd.DataFrame({"a": [0.0, 0.2, 1.0, -np.inf], "b": [1.0, 0.2, 0.0, 5.0]})
    assert knee_point(df, minimize=["a", "b"]) == 1


@pytest.mark.parametrize(
    ("senses", "message"), [(["min"], "one of"), (["min", "best"], "one of")]
)
def test_bad_senses_are_rejected(senses, message):
    """Senses must be 'min' or 'max', one per column."""
    with pytest.raises(ValueError, match=message):
        pareto_mask(np.zeros((3, 2)), senses)


def test_pareto_front_selects_rows():
    """pareto_front returns the non-dominated rows with their index and other columns."""
    df = pd.DataFrame({"latency_s": [1.0, 2.0, 3.0, 2.0], "accuracy": [0.5, 0.9, 0.95, 0.8],
                       "name": ["a", "b", "c", "d"]}, index=[10, 11, 12, 13])
    front = pareto_front(df, minimize=["latency_s"], maximize=["accuracy"])
    assert list(front.index) == [10, 11, 12]
    assert list(front.columns) == list(df.columns)


def test_pareto_front_errors_name_the_columns():
    """Missing objective columns and an empty objective list raise ValueError."""
    df = pd.DataFrame({"a": [1.0]})
    with pytest.raises(ValueError, match=r"\['energy_j'\]"):
        pareto_front(df, minimize=["a", "energy_j"])
    with pytest.raises(ValueError, match="at least one objective"):
        pareto_front(df)


def test_hypervolume_2d_staircase():
    """A staircase of three points has the area of its union of boxes."""
    points = np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0], [3.0, 3.0]])
    assert hypervolume(points, ["min", "min"], [4.0, 4.0]) == pytest.approx(6.0)


def test_hypervolume_honours_max_senses():
    """Maximised objectives measure volume above the reference."""
    points = np.array([[1.0, 2.0], [2.0, 3.0]])
    assert hypervolume(points, ["min", "max"], [4.0, 0.0]) == pytest.approx(3 * 2 + 2 * 3 - 2 * 2)


def test_hypervolume_3d_known_boxes():
    """Two overlapping boxes in 3-D give the inclusion-exclusion volume."""
    points = np.array([[0.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    assert hypervolume(points, ["min"] * 3, [2.0, 2.0, 2.0]) == pytest.approx(4 + 2 - 1)


def test_hypervolume_ignores_points_outside_the_reference_box():
    """Points that do not strictly dominate the reference add nothing."""
    points = np.array([[1.0, 1.0], [5.0, 0.0], [0.0, 2.0], [np.nan, 0.0]])
    assert hypervolume(points, ["min", "min"], [2.0, 2.0]) == pytest.approx(1.0)
    assert hypervolume(points[1:2], ["min", "min"], [2.0, 2.0]) == 0.0


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("seed", range(5))
def test_hypervolume_matches_cell_counting(k, seed):
    """Exact hypervolume equals the number of dominated unit cells for integer points."""
    points = np.random.default_rng(seed).integers(0, 7, size=(25, k)).astype(float)
    ref = np.full(k, 7.0)
    senses = ["min"] * k
    assert hypervolume(points, senses, ref) == pytest.approx(brute_force_volume(points, ref))


def test_hypervolume_4d_is_a_flagged_seeded_estimate():
    """Four objectives give a seeded Monte-Carlo estimate, a warning, and a small error."""
    points = np.random.default_rng(0).integers(0, 4, size=(15, 4)).astype(float)
    ref = np.full(4, 4.0)
    exact = brute_force_volume(points, ref)
    with pytest.warns(HypervolumeEstimateWarning, match="Monte-Carlo"):
        first = hypervolume(points, ["min"] * 4, ref, seed=3)
    estimate, std_error = hypervolume_monte_carlo(points, ["min"] * 4, ref, seed=3)
    assert estimate == first
    assert abs(estimate - exact) < 5 * std_error


def test_monte_carlo_agrees_with_exact_in_3d():
    """The estimator is unbiased where an exact answer exists."""
    points = np.random.default_rng(1).random((30, 3))
    exact = hypervolume(points, ["min"] * 3, [1.0, 1.0, 1.0])
    estimate, std_error = hypervolume_monte_carlo(points, ["min"] * 3, [1.0, 1.0, 1.0])
    assert abs(estimate - exact) < 5 * std_error


def test_hypervolume_rejects_bad_reference():
    """The reference point needs one finite number per objective."""
    with pytest.raises(ValueError, match="ref_point must hold 2 finite numbers"):
        hypervolume(np.zeros((2, 2)), ["min", "min"], [1.0])


def test_knee_of_sqrt_front():
    """On f2 = 1 - sqrt(f1) the knee (farthest from the chord) is at f1 = 1/4."""
    f1 = np.linspace(0.0, 1.0, 101)
    df = pd.DataFrame({"f1": f1, "f2": 1.0 - np.sqrt(f1)})
    dominated = pd.DataFrame({"f1": [0.3, 0.5], "f2": [0.9, 0.9]}, index=[200, 201])
    df = pd.concat([df, dominated])
    assert df.loc[knee_point(df, minimize=["f1", "f2"]), "f1"] == pytest.approx(0.25)


def test_knee_respects_max_sense_and_scaling():
    """The knee is found after normalisation, whichever sense each objective has."""
    df = pd.DataFrame({"latency_s": [0.0, 1e-3, 10e-3], "accuracy": [-1000.0, -100.0, 0.0]},
                      index=["fast", "knee", "accurate"])
    assert knee_point(df, minimize=["latency_s"], maximize=["accuracy"]) == "knee"


def test_knee_in_three_objectives():
    """With three objectives the knee is farthest below the plane through the extremes."""
    df = pd.DataFrame([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.2, 0.2, 0.3],
                       [0.3, 0.3, 0.3]], columns=["a", "b", "c"])
    assert knee_point(df, minimize=["a", "b", "c"]) == 3


def test_knee_of_single_point_front():
    """A front of one point is its own knee."""
    df = pd.DataFrame({"a": [1.0, 2.0], "b": [1.0, 2.0]})
    assert knee_point(df, minimize=["a", "b"]) == 0


def test_knee_needs_a_valid_row():
    """Without any NaN-free row there is no knee."""
    with pytest.raises(ValueError, match="at least one row"):
        knee_point(pd.DataFrame({"a": [np.nan], "b": [1.0]}), minimize=["a", "b"])
