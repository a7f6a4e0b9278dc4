"""Systolic-array accelerators, with a compute model that reproduces SCALE-Sim 3.0.0 counts.

``SystolicConfig`` is the design and the accelerator (``op_cost``, ``area_mm2``,
``static_power_w``, ``resources``); ``PRESETS`` names the shipped designs; ``SystolicDesigns``,
``sweep_costs`` and ``evaluate_designs`` cost thousands of design points in one kernel call;
``read_topology_csv`` and ``read_scalesim_cfg`` read SCALE-Sim's input files.
"""

from accelerators.systolic.config import Dataflow, Mode, SystolicConfig
from accelerators.systolic.designs import DESIGN_FIELDS, SystolicDesigns
from accelerators.systolic.presets import (
    EDGE_TPU_LIKE,
    PRESETS,
    SCALESIM_32X32,
    SCALESIM_GOOGLE,
    TPU_V1,
)
from accelerators.systolic.scalesim_io import read_scalesim_cfg, read_topology_csv
from accelerators.systolic.sweep import evaluate_designs, sweep_costs

__all__ = [
    "DESIGN_FIELDS", "EDGE_TPU_LIKE", "PRESETS", "SCALESIM_32X32", "SCALESIM_GOOGLE", "TPU_V1",
    "Dataflow", "Mode", "SystolicConfig", "SystolicDesigns", "evaluate_designs",
    "read_scalesim_cfg", "read_topology_csv", "sweep_costs",
]
