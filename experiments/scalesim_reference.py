"""Produce SCALE-Sim 3.0.0 reference figures for the systolic-array model.

Run with an interpreter that has ``scalesim`` installed (kept outside this project, for
instance in its own virtual environment)::

    python experiments/scalesim_reference.py fixture   # tests/fixtures/scalesim_reference.csv
    python experiments/scalesim_reference.py check     # chunked vs unmodified, full layer runs
    python experiments/scalesim_reference.py timing    # wall times; scalesim_full_runs.csv

The script is standalone: it imports numpy, pandas and scalesim, nothing from this project.

Layers come from SCALE-Sim's own shipped topologies (``topologies/conv_nets/Resnet50.csv``
and ``topologies/sparsity/Resnet18.csv``, convolution rows only). Those files give the
*unpadded* input size of every layer, and SCALE-Sim's output-size rule
``ceil((H - R + S) / S)`` pads nothing and counts a partial last window (110x110 for the
224x224 7x7/2 stem, 54x54 for a 3x3 on 56x56). The same convention is used here.

Compute-side figures are read from SCALE-Sim's own classes (``topologies``,
``operand_matrix``, ``systolic_compute_os/ws/is``). The output- and input-stationary classes
append every fold to their demand matrices with ``np.concatenate`` on the growing matrix,
which is quadratic in the number of folds (by estimate, hours for ResNet-50 on 8x8);
``_chunked`` subclasses keep the same per-fold pieces in a list and join them once. No value
changes: ``check`` compares both on small layers element by element.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scalesim.compute.operand_matrix import operand_matrix
from scalesim.compute.systolic_compute_is import systolic_compute_is
from scalesim.compute.systolic_compute_os import systolic_compute_os
from scalesim.compute.systolic_compute_ws import systolic_compute_ws
from scalesim.layout_utils import layouts
from scalesim.scale_config import scale_config
from scalesim.scale_sim import scalesim
from scalesim.single_layer_sim import single_layer_sim
from scalesim.topology_utils import topologies

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "scalesim_reference.csv"
FULL_RUNS = ROOT / "tests" / "fixtures" / "scalesim_full_runs.csv"

# name, ifmap_h, ifmap_w, filt_h, filt_w, channels, num_filters, stride
RESNET18 = [
    ("Conv1", 224, 224, 7, 7, 3, 64, 2),
    ("Conv2_1a", 56, 56, 3, 3, 64, 64, 1),
    ("Conv2_1b", 56, 56, 3, 3, 64, 64, 1),
    ("Conv2_2a", 56, 56, 3, 3, 64, 64, 1),
    ("Conv2_2b", 56, 56, 3, 3, 64, 64, 1),
    ("Conv3_1a", 56, 56, 3, 3, 64, 128, 2),
    ("Conv3_1b", 28, 28, 3, 3, 128, 128, 1),
    ("Conv3_s", 56, 56, 1, 1, 64, 128, 2),
    ("Conv3_2a", 28, 28, 3, 3, 128, 128, 1),
    ("Conv3_2b", 28, 28, 3, 3, 128, 128, 1),
    ("Conv4_1a", 28, 28, 3, 3, 128, 256, 2),
    ("Conv4_1b", 14, 14, 3, 3, 256, 256, 1),
    ("Conv4_s", 28, 28, 1, 1, 128, 256, 2),
    ("Conv4_2a", 14, 14, 3, 3, 256, 256, 1),
    ("Conv4_2b", 14, 14, 3, 3, 256, 256, 1),
    ("Conv5_1a", 14, 14, 3, 3, 256, 512, 2),
    ("Conv5_1b", 7, 7, 3, 3, 512, 512, 1),
    ("Conv5_s", 14, 14, 1, 1, 256, 512, 2),
    ("Conv5_2a", 7, 7, 3, 3, 512, 512, 1),
    ("Conv5_2b", 7, 7, 3, 3, 512, 512, 1),
]


def _resnet50() -> list[tuple[str, int, int, int, int, int, int, int]]:
    """Return the 53 convolution rows of SCALE-Sim's shipped Resnet50.csv, in order."""
    rows = [("Conv1", 224, 224, 7, 7, 3, 64, 2)]
    stages = [("2", 56, 64, ["a", "b", "c"]), ("3", 28, 128, ["a", "b", "c", "d"]),
              ("4", 14, 256, ["a", "b", "c", "d", "e", "f"]), ("5", 7, 512, ["a", "b", "c"])]
    in_ch, in_hw = 64, 56
    for stage, hw, width, blocks in stages:
        for block in blocks:
            kind = "CB" if block == "a" else "IB"
            stride = 2 if (block == "a" and stage != "2") else 1
            first_hw = in_hw if block == "a" else hw
            name = f"{kind}{stage}{block}"
            rows.append((f"{name}_1", first_hw, first_hw, 1, 1, in_ch, width, stride))
            rows.append((f"{name}_2", hw, hw, 3, 3, width, width, 1))
            rows.append((f"{name}_3", hw, hw, 1, 1, width, 4 * width, 1))
            if block == "a":
                rows.append((f"CB{stage}s", first_hw, first_hw, 1, 1, in_ch, 4 * width, stride))
            in_ch = 4 * width
        in_hw = hw
    return rows


RESNET50 = _resnet50()

# name, M, N, K (SCALE-Sim's GEMM topology order)
GEMMS = [
    ("fc_resnet50", 1, 1000, 2048),
    ("gemm_64", 64, 64, 64),
    ("gemm_100x200x300", 100, 200, 300),
    ("gemm_512", 512, 512, 512),
    ("vit_qkv", 197, 2304, 768),
    ("bert_ffn1", 128, 3072, 768),
    ("gemm_7x13x29", 7, 13, 29),
    ("gemm_1", 1, 1, 1),
]

SMALL_CONVS = [
    ("s_conv3x3", 12, 10, 3, 3, 5, 7, 1),
    ("s_conv3x3_s2", 20, 20, 3, 3, 4, 9, 2),
    ("s_conv1x1", 9, 9, 1, 1, 16, 10, 1),
    ("s_rect_s3", 15, 11, 5, 2, 3, 6, 3),
    ("s_full_window", 5, 5, 5, 5, 2, 3, 1),
]
SMALL_GEMMS = [("s_gemm_7x13x29", 7, 13, 29), ("s_gemm_33x17x5", 33, 17, 5), ("s_gemm_1", 1, 1, 1)]

MAIN_ARRAYS = [(8, 8), (32, 32), (128, 128), (16, 64)]
SMALL_ARRAYS = [(1, 1), (1, 8), (8, 1), (3, 3), (7, 5), (5, 7), (4, 6), (64, 64)]
DATAFLOWS = ("os", "ws", "is")

# SCALE-Sim 3 example configuration (configs/scale.cfg); array size and dataflow are set per run.
EXAMPLE_CFG = """[general]
run_name = {run_name}

[architecture_presets]
ArrayHeight:    {rows}
ArrayWidth:     {cols}
IfmapSramSzkB:   64
FilterSramSzkB:  64
OfmapSramSzkB:   64
IfmapOffset:    0
FilterOffset:   10000000
OfmapOffset:    20000000
Bandwidth : 10
Dataflow : {dataflow}
MemoryBanks:   1
ReadRequestBuffer: 32
WriteRequestBuffer: 32

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 100
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 100
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth: CALC
UseRamulatorTrace: False
"""

_DEMANDS = ("ifmap_demand_matrix", "filter_demand_matrix", "ofmap_demand_matrix")


class _DemandSlot:
    """A demand-matrix attribute that, while its matrix is built, collects the per-fold pieces."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        if obj._building == self.name:
            # concatenate((empty, fold)) then hands exactly the new fold to __set__
            return obj._pieces[0][:0]
        return obj.__dict__[self.name]

    def __set__(self, obj, value) -> None:
        if obj.__dict__.get("_building") == self.name:
            obj._pieces.append(value)
        else:
            obj.__dict__[self.name] = value


def _chunked(base: type) -> type:
    """Subclass a SCALE-Sim compute class so that its demand matrices build in linear time."""

    def collect(self, name: str, build) -> None:
        self._pieces, self._building = [], name
        try:
            build()
        finally:
            self._building = None
        self.__dict__[name] = np.concatenate(self._pieces, axis=0)
        self._pieces = []

    def make(name: str, method: str):
        def create(self) -> None:
            collect(self, name, getattr(base, method).__get__(self))
        return create

    namespace = {name: _DemandSlot() for name in _DEMANDS}
    namespace["_building"] = None
    for name, method in zip(_DEMANDS, ("create_ifmap_demand_mat", "create_filter_demand_mat",
                                      "create_ofmap_demand_mat"), strict=True):
        namespace[method] = make(name, method)
    return type(f"Chunked_{base.__name__}", (base,), namespace)


COMPUTE = {"os": _chunked(systolic_compute_os), "ws": systolic_compute_ws,
           "is": _chunked(systolic_compute_is)}
ORIGINAL = {"os": systolic_compute_os, "ws": systolic_compute_ws, "is": systolic_compute_is}


def _config(rows: int, cols: int, dataflow: str, folder: str) -> scale_config:
    """Parse the example configuration through SCALE-Sim's own reader."""
    path = os.path.join(folder, f"cfg_{rows}x{cols}_{dataflow}.cfg")
    with open(path, "w") as handle:
        handle.write(EXAMPLE_CFG.format(run_name=f"run_{rows}x{cols}_{dataflow}", rows=rows,
                                        cols=cols, dataflow=dataflow))
    config = scale_config()
    config.read_conf_file(path)
    return config


def _write_topology(layers: list[tuple], gemm: bool, folder: str, name: str) -> str:
    """Write layers as a SCALE-Sim topology CSV (conv rows or M,N,K rows) and return its path."""
    path = os.path.join(folder, f"{name}.csv")
    header = "Layer, M, N, K," if gemm else (
        "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
        "Num Filter, Strides,")
    lines = [header] + [",".join(str(v) for v in layer) + "," for layer in layers]
    Path(path).write_text("\n".join(lines) + "\n")
    return path


def _load_topology(layers: list[tuple], gemm: bool, folder: str, name: str) -> topologies:
    """Load a topology through SCALE-Sim's own parser and compute its hyper-parameters."""
    topo = topologies()
    topo.load_arrays(topofile=_write_topology(layers, gemm, folder, name), mnk_inputs=gemm)
    topo.topo_calc_hyperparams()
    return topo


def _layout_file(folder: str) -> str:
    """Write a header-only layout file (custom layouts are off in the example config)."""
    path = os.path.join(folder, "layout.csv")
    Path(path).write_text("Layer name,\n")
    return path


def _compute_system(topo: topologies, layer_id: int, config: scale_config, classes: dict):
    """Build the operand matrices and run a compute system's demand-matrix generation."""
    opmat = operand_matrix()
    opmat.set_params(config_obj=config, topoutil_obj=topo, layoututil_obj=layouts(),
                     layer_id=layer_id)
    _, ifmap = opmat.get_ifmap_matrix()
    _, filt = opmat.get_filter_matrix()
    _, ofmap = opmat.get_ofmap_matrix()
    compute = classes[config.get_dataflow()]()
    compute.set_params(config_obj=config, ifmap_op_mat=ifmap, filter_op_mat=filt,
                       ofmap_op_mat=ofmap)
    compute.create_demand_matrices()
    return compute


def _integer_rates(compute) -> tuple[int, int]:
    """Recover the integer numerators behind SCALE-Sim's per-fold float rates.

    Per fold, mapping efficiency is ``used / (R*C)`` and compute utilisation is
    ``used * T / (R*C*fold_cycles)``; the used-PE count and the fold cycle count are integers.
    """
    pes = compute.arr_row * compute.arr_col
    used = [round(e * pes) for e in compute.mapping_efficiency_per_fold]
    fold_cycles = {round(u * compute.T / (c * pes)) for u, c in
                   zip(used, compute.compute_utility_per_fold, strict=True)}
    if len(fold_cycles) != 1:
        raise RuntimeError(f"fold cycle counts differ between folds: {sorted(fold_cycles)}")
    return sum(used), fold_cycles.pop()


def _row(topo: topologies, layer_id: int, compute) -> dict:
    """One fixture row: inputs and SCALE-Sim's compute-side outputs for one layer and array."""
    layer = topo.topo_arrays[layer_id]
    ofmap_h, ofmap_w = topo.get_layer_ofmap_dims(layer_id)
    mapped, fold_cycles = _integer_rates(compute)
    return {
        "layer": layer[0], "ifmap_h": layer[1], "ifmap_w": layer[2], "filt_h": layer[3],
        "filt_w": layer[4], "channels": layer[5], "num_filters": layer[6], "stride": layer[7],
        "rows": compute.arr_row, "cols": compute.arr_col, "dataflow": compute.config.df,
        "ofmap_h": ofmap_h, "ofmap_w": ofmap_w, "sr": compute.Sr, "sc": compute.Sc,
        "t": compute.T, "row_folds": compute.row_fold, "col_folds": compute.col_fold,
        # the memory system reports the index of the last demand line as the cycle count
        "compute_cycles": compute.ofmap_demand_matrix.shape[0] - 1,
        "macs": topo.get_layer_num_ofmap_px(layer_id) * topo.get_layer_window_size(layer_id),
        "mapped_pe_sum": mapped, "fold_util_cycles": fold_cycles,
        "ifmap_sram_reads": int(compute.ifmap_reads),
        "filter_sram_reads": int(compute.filter_reads),
        "ofmap_sram_writes": int(compute.ofmap_writes),
        "mapping_efficiency": compute.get_avg_mapping_efficiency(),
        "compute_utilization": compute.get_avg_compute_utilization(),
    }


def _suites() -> list[tuple[str, list[tuple], bool, list[tuple[int, int]]]]:
    """The (workload, layers, is_gemm, arrays) groups of the fixture."""
    return [("resnet18", RESNET18, False, MAIN_ARRAYS), ("resnet50", RESNET50, False, MAIN_ARRAYS),
            ("gemm", GEMMS, True, MAIN_ARRAYS), ("small_conv", SMALL_CONVS, False, SMALL_ARRAYS),
            ("small_gemm", SMALL_GEMMS, True, SMALL_ARRAYS)]


def make_fixture(path: Path) -> pd.DataFrame:
    """Run SCALE-Sim's compute side on every (layer, array, dataflow) and write the CSV."""
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for workload, layers, gemm, arrays in _suites():
            topo = _load_topology(layers, gemm, folder, workload)
            for (n_rows, n_cols) in arrays:
                for dataflow in DATAFLOWS:
                    config = _config(n_rows, n_cols, dataflow, folder)
                    start = time.perf_counter()
                    for layer_id in range(topo.get_num_layers()):
                        compute = _compute_system(topo, layer_id, config, COMPUTE)
                        rows.append({"workload": workload, **_row(topo, layer_id, compute)})
                        del compute
                    print(f"{workload:10s} {n_rows:3d}x{n_cols:<3d} {dataflow} "
                          f"{time.perf_counter() - start:8.1f} s", flush=True)
    frame = pd.DataFrame(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, float_format="%.17g")
    return frame


def check_chunking() -> int:
    """Compare chunked and unmodified compute classes, and the full single-layer run."""
    mismatches = 0
    with tempfile.TemporaryDirectory() as folder:
        for workload, layers, gemm, arrays in _suites()[3:]:
            topo = _load_topology(layers, gemm, folder, workload)
            for (n_rows, n_cols) in arrays:
                for dataflow in DATAFLOWS:
                    config = _config(n_rows, n_cols, dataflow, folder)
                    for layer_id in range(topo.get_num_layers()):
                        mismatches += _check_one(topo, layer_id, config)
    print(f"chunked vs unmodified: {mismatches} mismatches")
    return mismatches


def _check_one(topo: topologies, layer_id: int, config: scale_config) -> int:
    """Count disagreements for one layer: demand matrices, counters, full-run report."""
    fast = _compute_system(topo, layer_id, config, COMPUTE)
    slow = _compute_system(topo, layer_id, config, ORIGINAL)
    bad = sum(not np.array_equal(getattr(fast, name), getattr(slow, name)) for name in _DEMANDS)
    bad += _row(topo, layer_id, fast) != _row(topo, layer_id, slow)
    sim = single_layer_sim()
    sim.set_params(layer_id=layer_id, config_obj=config, topology_obj=topo,
                   layout_obj=layouts(), verbose=False)
    sim.run()
    # the report's Total Cycles and Stall Cycles; read directly because the report divides by
    # the cycle count, which is zero for a single MAC on a 1x1 array
    total_cycles = sim.memory_system.get_total_compute_cycles()
    stalls = sim.memory_system.get_stall_cycles()
    bad += total_cycles != _row(topo, layer_id, fast)["compute_cycles"] or stalls != 0
    return int(bad)


def _full_run(layers: list[tuple], rows: int, cols: int, folder: str, name: str) -> float:
    """Time SCALE-Sim's normal top-level run (memory simulation included, traces off)."""
    config = os.path.join(folder, f"{name}.cfg")
    Path(config).write_text(EXAMPLE_CFG.format(run_name=name, rows=rows, cols=cols,
                                               dataflow="os"))
    topology = _write_topology(layers, False, folder, name)
    start = time.perf_counter()
    sim = scalesim(save_disk_space=True, verbose=False, config=config, topology=topology,
                   layout=_layout_file(folder), input_type_gemm=False)
    sim.run_scale(top_path=folder)
    return time.perf_counter() - start


LAYER_COLUMNS = ["layer", "ifmap_h", "ifmap_w", "filt_h", "filt_w", "channels", "num_filters",
                 "stride"]
# full-run column: (report file, report column)
REPORT_COLUMNS = {
    "total_cycles": ("COMPUTE_REPORT", "Total Cycles"),
    "stall_cycles": ("COMPUTE_REPORT", "Stall Cycles"),
    "overall_util_pct": ("COMPUTE_REPORT", "Overall Util %"),
    "mapping_efficiency_pct": ("COMPUTE_REPORT", "Mapping Efficiency %"),
    "compute_util_pct": ("COMPUTE_REPORT", "Compute Util %"),
    "ifmap_sram_reads": ("DETAILED_ACCESS_REPORT", "SRAM IFMAP Reads"),
    "filter_sram_reads": ("DETAILED_ACCESS_REPORT", "SRAM Filter Reads"),
    "ofmap_sram_writes": ("DETAILED_ACCESS_REPORT", "SRAM OFMAP Writes"),
}


def _read_reports(folder: str, name: str, layers: list[tuple], size: int) -> pd.DataFrame:
    """Read the COMPUTE and DETAILED_ACCESS reports of one full run, next to its layers."""
    reports = {kind: pd.read_csv(os.path.join(folder, name, f"{kind}.csv"),
                                 skipinitialspace=True)
               for kind in ("COMPUTE_REPORT", "DETAILED_ACCESS_REPORT")}
    frame = pd.DataFrame(layers, columns=LAYER_COLUMNS)
    frame.insert(0, "workload", name.split("_")[0])
    frame.insert(1, "layer_id", reports["COMPUTE_REPORT"]["LayerID"])
    frame = frame.assign(rows=size, cols=size, dataflow="os")
    for column, (kind, source) in REPORT_COLUMNS.items():
        frame[column] = reports[kind][source]
    return frame


def timing(resnet50_layers: int | None) -> None:
    """Time full runs: ResNet-18 on 32x32 and ResNet-50 on 128x128, OS dataflow."""
    layers50 = RESNET50 if resnet50_layers is None else RESNET50[:resnet50_layers]
    reports = []
    with tempfile.TemporaryDirectory() as folder:
        for workload, layers, size in (("resnet18", RESNET18, 32), ("resnet50", layers50, 128)):
            name = f"{workload}_{size}x{size}_os"
            wall_s = _full_run(layers, size, size, folder, name)
            macs = sum(_macs(layer) for layer in layers)
            print(f"{name}: {len(layers)} layers, {macs} MACs, wall {wall_s:.1f} s", flush=True)
            reports.append(_read_reports(folder, name, layers, size))
    pd.concat(reports).to_csv(FULL_RUNS, index=False, float_format="%.17g")
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, numpy {np.__version__}")


def _macs(layer: tuple) -> int:
    """MACs of one conv row under SCALE-Sim's output-size rule."""
    _, h, w, fh, fw, ch, nf, s = layer
    return math.ceil((h - fh + s) / s) * math.ceil((w - fw + s) / s) * fh * fw * ch * nf


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=["fixture", "check", "timing"])
    parser.add_argument("--resnet50-layers", type=int, default=None,
                        help="time only the first N ResNet-50 layers")
    args = parser.parse_args()
    if args.task == "fixture":
        frame = make_fixture(FIXTURE)
        print(f"wrote {len(frame)} rows to {FIXTURE.relative_to(ROOT)}")
    elif args.task == "check":
        return 1 if check_chunking() else 0
    else:
        timing(args.resnet50_layers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
