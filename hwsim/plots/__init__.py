"""Plots of hwsim results: each function takes data (and an optional Axes) and returns the
Figure, built without pyplot so any backend (Agg included) works.

``hwsim.plots.dse``: design-space plots (Pareto fronts, parallel coordinates, speedups,
energy breakdowns, rooflines). ``hwsim.plots.timeline``: Gantt charts of simulated timelines.
"""

from hwsim.plots.timeline import gantt

__all__ = ["gantt"]
