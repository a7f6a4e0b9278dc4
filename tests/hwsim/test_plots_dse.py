"""Design-space plots return labelled figures built from DataFrames."""

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from hwsim.fileio import save_figure
from hwsim.plots import dse


@pytest.fixture
def table():
    rng = np.random.default_rng(0)
    n = 60
    return pd.DataFrame({
        "config": [f"c{i}" for i in range(n)],
        "latency_s": rng.uniform(1e-3, 1e-1, n),
        "energy_j": rng.uniform(1e-3, 1.0, n),
        "area_mm2": rng.uniform(1, 100, n),
        "energy_compute_j": rng.uniform(0, 1, n),
        "energy_dram_j": rng.uniform(0, 1, n),
        "speedup": rng.uniform(0.5, 20, n),
    })


def test_pareto_plot_highlights_front(table):
    """The Pareto plot marks exactly the non-dominated points and labels axes with units."""
    fig = dse.pareto_plot(table, "latency_s", "energy_j", color="area_mm2")
    ax = fig.axes[0]
    front_pts = ax.collections[1].get_offsets()
    brute = [i for i, (x, y) in enumerate(zip(table.latency_s, table.energy_j, strict=True))
             if not any((table.latency_s <= x) & (table.energy_j <= y)
                        & ((table.latency_s < x) | (table.energy_j < y)))]
    assert len(front_pts) == len(brute)
    assert ax.get_xlabel() == "latency (s)"
    assert ax.get_ylabel() == "energy (J)"


def test_other_plots_return_figures(table, tmp_path):
    """Parallel coordinates, speedup bars, energy breakdown and roofline give Figures."""
    per_op = pd.DataFrame({"macs": [1e9, 1e6], "latency_s": [1e-3, 1e-4],
                           "dram_read_bytes": [1e6, 1e6], "dram_write_bytes": [1e5, 1e5]})
    figs = [
        dse.parallel_coordinates(table, ["latency_s", "energy_j", "area_mm2"],
                                 highlight=np.arange(60) < 5),
        dse.speedup_bars(table.head(5)),
        dse.energy_breakdown(table.head(5)),
        dse.roofline(per_op, peak_flops_per_s=1e14, bw_bytes_per_s=1e12),
    ]
    for fig in figs:
        assert isinstance(fig, Figure)
    save_figure(figs[0], tmp_path / "p.png")
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


def test_missing_column_is_a_clear_error(table):
    """Asking for a column the table lacks names it."""
    with pytest.raises(ValueError, match=r"columns \['accuracy'\] not in the table"):
        dse.pareto_plot(table, "latency_s", "accuracy")


def test_non_positive_axis_stays_linear(table):
    """An axis with a value <= 0 (e.g. SQNR in dB) is not forced onto a log scale."""
    data = table.assign(sqnr_db=np.linspace(-5.0, 30.0, len(table)))
    ax = dse.pareto_plot(data, "latency_s", "sqnr_db", senses=("min", "max")).axes[0]
    assert ax.get_xscale() == "log"
    assert ax.get_yscale() == "linear"


def test_text_in_a_plotted_column_is_named(table):
    """A column holding text cannot be plotted and the error names it and the value."""
    data = table.assign(energy_j=table["energy_j"].astype(object))
    data.loc[3, "energy_j"] = "n/a"
    with pytest.raises(ValueError, match="column 'energy_j' must hold numbers .* got 'n/a'"):
        dse.pareto_plot(data, "latency_s", "energy_j")
    with pytest.raises(ValueError, match="column 'config' must hold numbers"):
        dse.parallel_coordinates(table, ["latency_s", "config"])
    with pytest.raises(ValueError, match="no row has numbers in both"):
        dse.pareto_plot(table.assign(energy_j=np.nan), "latency_s", "energy_j")
