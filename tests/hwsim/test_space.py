"""Tests for hwsim.explore.space and hwsim.explore.spec: parameters, samplers, YAML."""

import re

import numpy as np
import pandas as pd
import pytest

from hwsim.explore import Choice, FloatRange, IntRange, Space
from hwsim.explore._expr import Expression

YAML = """
parameters:
  rows: {values: [16, 32, 64, 128]}
  cols: {low: 16, high: 256, log: true, type: int}
  weight_bits: {values: [4, 8]}
constraints: ["rows * cols <= 16384"]
"""


def mixed_space(constraints=()):
    return Space(
        [
            Choice("dataflow", ["ws", "os", "is"]),
            IntRange("rows", 4, 64, step=4),
            IntRange("cols", 1, 1024, log=True),
            FloatRange("clock_hz", 1e8, 2e9, log=True),
            FloatRange("util", 0.0, 1.0),
        ],
        constraints,
    )


def test_int_range_grid_includes_both_ends():
    """A linear integer grid spans low to high on the step lattice."""
    grid = IntRange("n", 4, 64, step=4).grid(5)
    assert grid[0] == 4
    assert grid[-1] == 64
    assert np.all(grid % 4 == 0)
    assert len(grid) == 5


def test_int_range_grid_caps_at_value_count():
    """A grid never repeats values when the range has fewer values than points."""
    np.testing.assert_array_equal(IntRange("n", 1, 3).grid(10), [1, 2, 3])


def test_log_grids_are_geometric():
    """Log grids are evenly spaced in log(value)."""
    np.testing.assert_allclose(FloatRange("f", 1.0, 1000.0, log=True).grid(4), [1, 10, 100, 1000])
    np.testing.assert_array_equal(IntRange("n", 1, 1000, log=True).grid(4), [1, 10, 100, 1000])


def test_choice_grid_holds_every_value():
    """A choice contributes all of its values to a grid."""
    assert list(Choice("d", ["a", "b", "c"]).grid(2)) == ["a", "b", "c"]


def test_grid_is_full_factorial():
    """Without constraints the grid is the product of the per-parameter grids."""
    space = Space([Choice("a", [1, 2, 3]), FloatRange("b", 0.0, 1.0)])
    grid = space.grid(4)
    assert len(grid) == 12
    assert len(grid.drop_duplicates()) == 12


@pytest.mark.parametrize("method", ["random", "latin_hypercube"])
def test_same_seed_same_samples(method):
    """A sampler called twice with one seed returns identical points."""
    space = mixed_space()
    first = getattr(space, method)(50, seed=7)
    again = getattr(space, method)(50, seed=7)
    other = getattr(space, method)(50, seed=8)
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(other)


def test_same_space_same_grid():
    """Grids are deterministic."""
    pd.testing.assert_frame_equal(mixed_space().grid(3), mixed_space().grid(3))


@pytest.mark.parametrize("method", ["random", "latin_hypercube"])
def test_samples_stay_in_bounds(method):
    """Samples respect every parameter's bounds, steps and value lists."""
    frame = getattr(mixed_space(), method)(500, seed=1)
    assert set(frame["dataflow"]) == {"ws", "os", "is"}
    assert frame["rows"].between(4, 64).all()
    assert (frame["rows"] % 4 == 0).all()
    assert frame["cols"].between(1, 1024).all()
    assert frame["clock_hz"].between(1e8, 2e9).all()
    assert frame["util"].between(0.0, 1.0).all()


def test_latin_hypercube_is_stratified():
    """Each parameter's unit interval holds exactly one LHS point per stratum."""
    n = 40
    space = Space([FloatRange("a", 0.0, 1.0), FloatRange("b", 0.0, 1.0), IntRange("c", 0, n - 1)])
    frame = space.latin_hypercube(n, seed=3)
    for column in ("a", "b"):
        strata = np.floor(frame[column].to_numpy() * n).astype(int)
        np.testing.assert_array_equal(np.sort(strata), np.arange(n))
    np.testing.assert_array_equal(np.sort(frame["c"].to_numpy()), np.arange(n))


def test_log_sampling_is_uniform_in_log():
    """Log-scale samples have a uniform log10, so half fall below the geometric mean."""
    frame = Space([FloatRange("f", 1.0, 1e4, log=True)]).random(4000, seed=0)
    logs = np.log10(frame["f"].to_numpy())
    assert abs(np.mean(logs < 2.0) - 0.5) < 0.03
    assert abs(np.mean(logs < 1.0) - 0.25) < 0.03


def test_log_int_sampling_favours_small_values():
    """A log integer range draws small values more often than large ones."""
    values = Space([IntRange("n", 1, 1000, log=True)]).random(4000, seed=0)["n"]
    assert np.mean(values <= 31) > 0.4


def test_choice_values_are_equally_likely():
    """Unit draws map to choice values in equal shares."""
    values = Choice("c", [1, 2, 3, 4]).from_unit(np.linspace(0, 1, 400, endpoint=False))
    np.testing.assert_array_equal(np.bincount(values)[1:], [100, 100, 100, 100])


@pytest.mark.parametrize("method", ["random", "latin_hypercube"])
def test_expression_constraints_reject_violations(method):
    """Every sampled point satisfies the expression constraints."""
    space = mixed_space(["rows * cols <= 2048", "dataflow != 'is' or util < 0.5"])
    frame = getattr(space, method)(300, seed=2)
    assert len(frame) == 300
    assert (frame["rows"] * frame["cols"] <= 2048).all()
    assert ((frame["dataflow"] != "is") | (frame["util"] < 0.5)).all()


def test_grid_constraint_matches_brute_force():
    """The constrained grid is exactly the unconstrained grid filtered by the rule."""
    free = Space.from_yaml_text(YAML.replace('constraints: ["rows * cols <= 16384"]', ""))
    full = free.grid(6)
    kept = Space.from_yaml_text(YAML).grid(6)
    expected = full[full["rows"] * full["cols"] <= 16384].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, expected)
    assert len(kept) < len(full)


def test_predicate_constraints_are_applied():
    """Callable constraints receive a design dict and filter points."""
    space = Space([IntRange("a", 0, 9), IntRange("b", 0, 9)], [lambda d: d["a"] > d["b"]])
    frame = space.random(100, seed=0)
    assert (frame["a"] > frame["b"]).all()
    assert len(space.grid(10)) == 45


def test_is_feasible_checks_one_design():
    """is_feasible applies the constraints to a single dict."""
    space = Space.from_yaml_text(YAML)
    assert space.is_feasible({"rows": 64, "cols": 256, "weight_bits": 4})
    assert not space.is_feasible({"rows": 128, "cols": 256, "weight_bits": 4})


def test_unsatisfiable_constraints_raise():
    """Sampling a space whose constraints reject everything raises ValueError."""
    space = Space([IntRange("a", 0, 9)], ["a > 100"])
    with pytest.raises(ValueError, match="constraints reject"):
        space.random(5, seed=0)


def test_zero_samples_give_empty_frame():
    """Asking for no samples returns an empty frame with the parameter columns."""
    frame = mixed_space().random(0)
    assert list(frame.columns) == mixed_space().names
    assert frame.empty


def test_expression_grammar():
    """Expressions support arithmetic, chained comparisons, membership and functions."""
    env = {"a": np.array([1, 4, 9]), "d": np.array(["ws", "os", "is"], dtype=object)}
    assert list(Expression("1 < a <= 4", frozenset(env)).evaluate(env)) == [False, True, False]
    assert list(Expression("d in ['ws', 'is']", frozenset(env)).evaluate(env)) == [
        True, False, True]
    assert list(Expression("sqrt(a) == max(a // 3, 2, 1)", frozenset(env)).evaluate(env)) == [
        False, True, True]
    assert list(Expression("not (a % 2 == 0) and -a < -2", frozenset(env)).evaluate(env)) == [
        False, False, True]


def test_integer_arithmetic_does_not_wrap_around():
    """Powers and products of integer parameters are exact beyond int64."""
    space = Space([Choice("rows", [8, 64, 70])], ["2 ** rows > 1000", "rows ** 12 > 1e21"])
    assert list(space.grid()["rows"]) == [64, 70]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a.__class__", "Attribute is not allowed"),
        ("__import__('os')", "only the functions"),
        ("lambda: a > 1", "Lambda is not allowed"),
        ("a[0] > 1", "Subscript is not allowed"),
        ("b > 1", "unknown name 'b'"),
        ("a >", "not a valid expression"),
        ("a == None", "literal None is not allowed"),
        ("", "non-empty expression"),
        ("sqrt < 3", "function 'sqrt' must be called"),
    ],
)
def test_unsafe_or_bad_expressions_are_rejected(text, message):
    """Anything outside the expression whitelist is refused when the space is built."""
    with pytest.raises(ValueError, match=message):
        Space([IntRange("a", 0, 9)], [text])


def test_yaml_declaration_builds_typed_parameters():
    """The YAML example builds a choice, a log integer range and a constraint."""
    space = Space.from_yaml_text(YAML)
    assert space.params == (
        Choice("rows", (16, 32, 64, 128)),
        IntRange("cols", 16, 256, log=True),
        Choice("weight_bits", (4, 8)),
    )
    assert space.constraints == ("rows * cols <= 16384",)


def test_yaml_exponents_without_a_dot_are_numbers():
    """`1e8` is a float as in YAML 1.2 (plain YAML 1.1 would read the string '1e8')."""
    space = Space.from_yaml_text("parameters: {clock_hz: {low: 1e8, high: 2E+9, log: true}}")
    assert space.params == (FloatRange("clock_hz", 1e8, 2e9, log=True),)
    assert Space.from_yaml_text("parameters: {tag: {values: [1e8x, 3]}}").params[0].values == (
        "1e8x", 3)


def test_range_type_is_inferred():
    """Ranges with integer bounds are integer ranges unless type says float."""
    space = Space.from_dict({"parameters": {
        "a": {"low": 1, "high": 8, "step": 1},
        "b": {"low": 0.5, "high": 2},
        "c": {"low": 1, "high": 8, "type": "float"},
    }})
    assert [type(p) for p in space.params] == [IntRange, FloatRange, FloatRange]


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("parameters: {cols: {low: 16}}", ["'cols'", "'high'", "missing"]),
        ("parameters: {cols: {low: 16, high: 8}}", ["'cols'", "high", "got 8", ">= low (16)"]),
        ("parameters: {cols: {low: 0, high: 8, log: true}}", ["'cols'", "log", "low >= 1"]),
        ("parameters: {cols: {low: 1, high: 8, log: yes please}}", ["'cols'", "log", "true or"]),
        ("parameters: {cols: {low: 1, high: 9, step: 3}}", ["'cols'", "high", "got 9", "step"]),
        ("parameters: {cols: {lo: 1}}", ["'cols'", "unknown field 'lo'", "'values'"]),
        ("parameters: {cols: {low: 1, high: 2, type: str}}", ["'cols'", "'type'", "'str'", "int"]),
        ("parameters: {cols: {low: 0.1, high: 2.0, step: 1}}", ["'cols'", "'step'", "type 'int'"]),
        ("parameters: {f: {low: 0.0, high: 1.0, log: true}}", ["'f'", "low", "got 0.0", "> 0"]),
        ("parameters: {d: {values: []}}", ["'d'", "values", "got []", "non-empty list"]),
        ("parameters: {d: {values: [1, 1]}}", ["'d'", "values", "got [1, 1]", "distinct"]),
        ("parameters: {d: {values: [[1]]}}", ["'d'", "values", "numbers, strings"]),
        ("parameters: {d: {values: 3}}", ["'d'", "'values'", "got 3", "list"]),
        ("parameters: {2d: {values: [1]}}", ["parameter name", "'2d'", "identifier"]),
        ("parameters: {d: 5}", ["'d'", "got 5", "mapping"]),
        ("parameters: {}", ["'parameters'", "non-empty"]),
        ("params: {d: {values: [1]}}", ["unknown key 'params'", "constraints, parameters"]),
        ("parameters: {d: {values: [1]}}\nconstraints: 'd > 0'", ["'constraints'", "list"]),
        ("parameters: {d: {values: [1]}}\nconstraints: ['e > 0']", ["unknown name 'e'"]),
        ("- just\n- a list", ["mapping"]),
        ("parameters: {d: {values: [1]]}", ["not valid YAML at line 1, column 29"]),
    ],
)
def test_yaml_errors_name_parameter_field_and_value(text, fragments):
    """Malformed declarations raise ValueError naming what is wrong and what is allowed."""
    with pytest.raises(ValueError, match=re.escape(fragments[0])) as info:
        Space.from_yaml_text(text)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_duplicate_parameter_names_are_rejected():
    """Two parameters cannot share a name."""
    with pytest.raises(ValueError, match=r"repeated: \['a'\]"):
        Space([IntRange("a", 0, 1), Choice("a", [1])])


def test_bad_points_per_range_is_rejected():
    """A grid needs at least two points per range."""
    with pytest.raises(ValueError, match="points_per_range must be an integer >= 2, got 1"):
        mixed_space().grid(1)


def test_oversized_grid_is_rejected():
    """A grid larger than max_points raises instead of exhausting memory."""
    with pytest.raises(ValueError, match="more than max_points=100"):
        mixed_space().grid(10, max_points=100)
