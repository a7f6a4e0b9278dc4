"""Tests for hwsim.explore.search: ask/tell searches and explore."""

import sys

import numpy as np
import pandas as pd
import pytest

from hwsim.explore import (
    Choice,
    FloatRange,
    IntRange,
    NSGA2Search,
    ProcessExecutor,
    RandomSearch,
    Space,
    explore,
    hypervolume,
)

ZDT1_SPACE = Space([FloatRange(f"x{i}", 0.0, 1.0) for i in range(5)])
ZDT1_OBJECTIVES = {"f1": "min", "f2": "min"}


def zdt1(design):
    """ZDT1 with five variables: a convex front f2 = 1 - sqrt(f1) where x1..x4 = 0."""
    x = np.array([design[f"x{i}"] for i in range(5)])
    g = 1.0 + 9.0 * x[1:].mean()
    return {"f1": float(x[0]), "f2": float(g * (1.0 - np.sqrt(x[0] / g)))}


def flaky(design):
    """Fails for large a, and returns NaN latency for a == 0."""
    if design["a"] > 7:
        raise ValueError("too large")
    return {"latency_s": np.nan if design["a"] == 0 else 1.0 / design["a"], "area_mm2": design["a"]}


def mixed_space():
    return Space([Choice("d", ["ws", "os"]), IntRange("a", 1, 64, log=True),
                  IntRange("b", 0, 20, step=5), FloatRange("c", 1e-3, 1.0, log=True)],
                 ["a * (b + 1) <= 400"])


def zdt1_volume(table):
    return hypervolume(table[["f1", "f2"]].to_numpy(), ["min", "min"], [1.1, 11.0])


def test_random_search_is_seeded():
    """Two random searches with one seed ask the same points, in batches or at once."""
    one = RandomSearch(mixed_space(), seed=4)
    two = RandomSearch(mixed_space(), seed=4)
    assert [s.design for s in one.ask(10)] == [s.design for s in two.ask(10)]
    assert [s.key for s in one.ask(3)] == [10, 11, 12]


def test_nsga2_asks_feasible_points_of_the_right_types():
    """NSGA-II proposals respect bounds, steps, choices and constraints."""
    search = NSGA2Search(mixed_space(), ["min", "max"], seed=0, population=8)
    for _ in range(3):
        asked = search.ask(8)
        for suggestion in asked:
            d = suggestion.design
            assert d["d"] in ("ws", "os")
            assert 1 <= d["a"] <= 64
            assert d["b"] in (0, 5, 10, 15, 20)
            assert 1e-3 <= d["c"] <= 1.0
            assert d["a"] * (d["b"] + 1) <= 400
            search.tell(suggestion.key, [d["a"] * d["c"], float(d["b"])])


def test_nsga2_accepts_failed_results():
    """Telling None or a NaN marks the trial failed without breaking the search."""
    search = NSGA2Search(mixed_space(), ["min"], seed=0, population=4)
    first, second = search.ask(2)
    search.tell(first.key, None)
    search.tell(second.key, [float("nan")])
    assert len(search.ask(4)) == 4


def test_explore_random_returns_budget_rows():
    """explore evaluates exactly the budget and lists trials in ask order."""
    table = explore(zdt1, ZDT1_SPACE, "random", budget=37, seed=1, objectives=ZDT1_OBJECTIVES)
    assert len(table) == 37
    assert list(table["trial"]) == list(range(37))
    assert list(table.columns) == ["trial", "point_id", *ZDT1_SPACE.names, "f1", "f2", "status",
                                   "error"]


def test_explore_records_failures_and_keeps_going():
    """Errors and NaN objectives are recorded while the search spends its whole budget."""
    space = Space([IntRange("a", 0, 9)])
    for search in ("random", "nsga2"):
        table = explore(flaky, space, search, budget=40, seed=0,
                        objectives={"latency_s": "min", "area_mm2": "max"})
        assert len(table) == 40
        assert set(table.loc[table["a"] > 7, "status"]) <= {"error"}
        assert (table.loc[table["a"] > 7, "error"] == "ValueError: too large").all()
        assert (table.loc[table["a"] <= 7, "status"] == "ok").all()


def test_nsga2_beats_random_search_on_zdt1():
    """With equal budgets and seeds, NSGA-II reaches a larger hypervolume than random."""
    volumes = {"random": [], "nsga2": []}
    for search in volumes:
        for seed in (0, 1):
            table = explore(zdt1, ZDT1_SPACE, search, budget=200, seed=seed,
                            objectives=ZDT1_OBJECTIVES)
            volumes[search].append(zdt1_volume(table))
    assert np.mean(volumes["nsga2"]) > np.mean(volumes["random"]) + 0.1


def test_explore_is_executor_independent():
    """NSGA-II explored serially and on processes asks and tells the same points."""
    kwargs = {"budget": 48, "seed": 3, "objectives": ZDT1_OBJECTIVES, "batch_size": 5}
    serial = explore(zdt1, ZDT1_SPACE, "nsga2", **kwargs)
    with ProcessExecutor(2) as executor:
        parallel = explore(zdt1, ZDT1_SPACE, "nsga2", executor=executor, **kwargs)
    pd.testing.assert_frame_equal(serial, parallel)


def test_explore_accepts_a_search_object():
    """A configured search can be passed instead of a name."""
    search = NSGA2Search(ZDT1_SPACE, ["min", "min"], seed=0, population=10)
    table = explore(zdt1, ZDT1_SPACE, search, budget=25, objectives=ZDT1_OBJECTIVES)
    assert len(table) == 25


class TellRecorder(RandomSearch):
    """A random search that remembers what it was told."""

    def __init__(self, space):
        super().__init__(space, seed=0)
        self.told = {}

    def tell(self, key, values):
        self.told[key] = values


def over_limit(design):
    """Metrics of a design whose ``feasible`` flag says if it keeps area <= 32."""
    return {"latency_s": 1.0 / design["a"], "area_mm2": float(design["a"]),
            "feasible": design["a"] <= 32}


def test_rows_breaking_a_limit_are_told_as_failed():
    """A point evaluated ok but flagged not feasible must not steer the search."""
    space = Space([IntRange("a", 1, 64)])
    search = TellRecorder(space)
    table = explore(over_limit, space, search, budget=30,
                    objectives={"latency_s": "min", "area_mm2": "min"})
    for trial, feasible in zip(table["trial"], table["feasible"], strict=True):
        assert (search.told[trial] is None) == (not feasible)
    assert not table["feasible"].all()
    assert table["feasible"].any()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"budget": 0}, "budget must be an integer >= 1"),
        ({"objectives": {}}, "objectives must map"),
        ({"objectives": {"f1": "lowest"}}, "objectives must map"),
        ({"search": "grid"}, "search must be 'random', 'nsga2'"),
    ],
)
def test_explore_argument_errors(kwargs, message):
    """Bad budgets, objectives and search names raise ValueError."""
    arguments = {"search": "random", "budget": 5, "objectives": ZDT1_OBJECTIVES} | kwargs
    with pytest.raises(ValueError, match=message):
        explore(zdt1, ZDT1_SPACE, **arguments)


def test_nsga2_argument_errors():
    """Directions must be min/max and the population at least 2."""
    with pytest.raises(ValueError, match="directions must be"):
        NSGA2Search(ZDT1_SPACE, ["up"])
    with pytest.raises(ValueError, match="population must be an integer >= 2, got 1"):
        NSGA2Search(ZDT1_SPACE, ["min"], population=1)


def test_missing_optuna_gives_install_hint(monkeypatch):
    """NSGA-II without optuna says which extra to install."""
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(ImportError, match=r"pip install 'hwsim\[search\]'"):
        NSGA2Search(ZDT1_SPACE, ["min"])
