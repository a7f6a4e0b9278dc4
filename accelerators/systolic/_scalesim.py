"""Compute-side counts of one layer on a systolic array, as SCALE-Sim 3.0.0 reports them.

The layer is a convolution in SCALE-Sim's topology terms (input height and width, filter
height and width, channels, filters, one stride for both axes); a GEMM ``M x K @ K x N`` is
the convolution SCALE-Sim builds from an ``M, N, K`` row (``ScaleSimLayer.from_gemm``).
For each design point (array rows ``R``, columns ``C``, dataflow) the model gives SCALE-Sim's
mapping ``(Sr, Sc, T)``, fold counts, stall-free cycles, MACs, mapping efficiency, compute
utilisation and SRAM request counts, all as exact integers (the two rates as integer ratios).
``docs/scalesim_conventions.md`` derives every formula from SCALE-Sim's source.

What it ignores: SCALE-Sim's memory simulation (stalls from SRAM size and DRAM bandwidth;
in its bandwidth-estimation mode, the mode of its example configuration, there are none),
sparsity, custom layouts and batching.

``_scalesim_kernel`` evaluates the closed forms for a vector of design points in one call;
``scalesim_layer_reference`` walks the folds one by one the way SCALE-Sim builds its demand
matrices, and is the plain reference the kernel is tested against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

DATAFLOWS = ("os", "ws", "is")
"""Dataflow names; a dataflow's integer code is its index (0 = os, 1 = ws, 2 = is)."""

COUNT_FIELDS = (
    "sr", "sc", "t", "row_folds", "col_folds", "compute_cycles", "macs", "mapped_pe_sum",
    "fold_util_cycles", "ifmap_sram_reads", "filter_sram_reads", "ofmap_sram_writes",
)
"""Integer outputs per design point, in the column order of the kernel's ``out`` array."""


def _check_int(name: str, value: object, low: int = 1) -> int:
    """Return ``value`` as an int, or raise a ValueError naming the field and its bound."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def dataflow_code(dataflow: str | int | np.integer) -> int:
    """Integer code of a dataflow given by name (``"os"``, ``"ws"``, ``"is"``) or code."""
    if isinstance(dataflow, str) and dataflow.lower() in DATAFLOWS:
        return DATAFLOWS.index(dataflow.lower())
    if isinstance(dataflow, int | np.integer) and 0 <= dataflow < len(DATAFLOWS):
        return int(dataflow)
    raise ValueError(f"dataflow must be one of {DATAFLOWS} or a code 0..2, got {dataflow!r}")


@dataclass(frozen=True, kw_only=True)
class ScaleSimLayer:
    """One convolution layer as a SCALE-Sim topology row (unpadded sizes, elements)."""

    ifmap_h: int
    ifmap_w: int
    filt_h: int
    filt_w: int
    channels: int
    num_filters: int
    stride: int = 1

    def __post_init__(self) -> None:
        for name in ("ifmap_h", "ifmap_w", "filt_h", "filt_w", "channels", "num_filters",
                     "stride"):
            object.__setattr__(self, name, _check_int(name, getattr(self, name)))
        if self.filt_h > self.ifmap_h:
            raise ValueError(f"filt_h must be <= ifmap_h={self.ifmap_h}, got {self.filt_h}")
        if self.filt_w > self.ifmap_w:
            raise ValueError(f"filt_w must be <= ifmap_w={self.ifmap_w}, got {self.filt_w}")

    @classmethod
    def from_gemm(cls, m: int, n: int, k: int) -> ScaleSimLayer:
        """The layer SCALE-Sim builds from a GEMM row ``M, N, K`` (``M x K`` times ``K x N``)."""
        k = _check_int("k", k)
        return cls(ifmap_h=_check_int("m", m), ifmap_w=k, filt_h=1, filt_w=k, channels=1,
                   num_filters=_check_int("n", n), stride=1)

    @property
    def ofmap_h(self) -> int:
        """Output rows, ``ceil((H - R + S) / S)``: no padding, a partial last window counts."""
        return (self.ifmap_h - self.filt_h + self.stride - 1) // self.stride + 1

    @property
    def ofmap_w(self) -> int:
        """Output columns, ``ceil((W - R_w + S) / S)``, by the same rule as ``ofmap_h``."""
        return (self.ifmap_w - self.filt_w + self.stride - 1) // self.stride + 1

    @property
    def window(self) -> int:
        """Elements of one convolution window, ``filt_h * filt_w * channels``."""
        return self.filt_h * self.filt_w * self.channels

    @property
    def ofmap_px(self) -> int:
        """Output pixels per filter, ``ofmap_h * ofmap_w``."""
        return self.ofmap_h * self.ofmap_w

    @property
    def macs(self) -> int:
        """Multiply-accumulates of the layer."""
        return self.ofmap_px * self.num_filters * self.window


@dataclass(frozen=True, kw_only=True)
class ScaleSimCounts:
    """SCALE-Sim's compute-side figures for one layer on one array (counts, cycles, elements).

    ``compute_cycles`` is SCALE-Sim's "Total Cycles" with no stalls: demand lines minus one.
    ``mapped_pe_sum`` is the PEs holding work summed over folds (its mapping-efficiency
    numerator); ``fold_util_cycles`` is the per-fold cycle count its utilisation divides by.
    SRAM counts are requests (words) from the array: ifmap and filter reads, ofmap writes.
    """

    rows: int
    cols: int
    dataflow: str
    sr: int
    sc: int
    t: int
    row_folds: int
    col_folds: int
    compute_cycles: int
    macs: int
    mapped_pe_sum: int
    fold_util_cycles: int
    ifmap_sram_reads: int
    filter_sram_reads: int
    ofmap_sram_writes: int

    @property
    def folds(self) -> int:
        """Folds (array loads) of the layer, ``row_folds * col_folds``."""
        return self.row_folds * self.col_folds

    @property
    def mapping_efficiency(self) -> float:
        """Mean over folds of the fraction of PEs holding work (0..1)."""
        return self.mapped_pe_sum / (self.rows * self.cols * self.folds)

    @property
    def compute_utilization(self) -> float:
        """Mean over folds of MACs done over PEs times fold cycles (0..1)."""
        return self.macs / (self.rows * self.cols * self.folds * self.fold_util_cycles)

    @property
    def overall_utilization(self) -> float:
        """MACs over PEs times ``compute_cycles`` (SCALE-Sim's "Overall Util" with no stalls).

        Can exceed 1 only on a 1x1 array under OS, where the trailing ``-1`` of the cycle count
        is not covered by pipeline fill; undefined (``inf``) when ``compute_cycles`` is 0.
        """
        if self.compute_cycles == 0:
            return math.inf
        return self.macs / (self.rows * self.cols * self.compute_cycles)


@njit(cache=True)
def _mapping(dataflow, ofmap_px, window, num_filters):
    """SCALE-Sim's ``(Sr, Sc, T)`` of a dataflow code."""
    if dataflow == 0:
        return ofmap_px, num_filters, window
    if dataflow == 1:
        return window, num_filters, ofmap_px
    return window, ofmap_px, num_filters


@njit(cache=True)
def _fold_cycles(dataflow, rows, cols, t):
    """Demand lines per fold and the per-fold cycles of the utilisation, for a dataflow."""
    if dataflow == 0:
        lines = t + rows + cols - 2
        return lines, lines
    return 2 * rows + cols + t - 2, 2 * rows + 2 * cols + t - 3


@njit(cache=True)
def _sram_requests(dataflow, sr, sc, t, row_folds, col_folds, rows, cols):
    """Ifmap reads, filter reads and ofmap writes requested by the array, for a dataflow."""
    if dataflow == 0:
        folds = row_folds * col_folds
        return col_folds * t * sr, row_folds * t * sc, sr * sc + folds * (rows + cols)
    if dataflow == 1:
        return col_folds * t * sr, sr * sc, row_folds * t * sc
    return sr * sc, col_folds * t * sr, row_folds * t * sc


@njit(cache=True)
def _scalesim_kernel(ofmap_px, window, num_filters, rows, cols, dataflows, out):
    """Fill ``out[i, :]`` (columns as ``COUNT_FIELDS``) for design point ``i``.

    ofmap_px, window, num_filters: the layer (int). rows, cols, dataflows: int64 arrays of
    shape (n,). out: int64 array of shape (n, len(COUNT_FIELDS)).
    """
    macs = ofmap_px * num_filters * window
    for i in range(rows.shape[0]):
        r, c, df = rows[i], cols[i], dataflows[i]
        sr, sc, t = _mapping(df, ofmap_px, window, num_filters)
        row_folds = (sr + r - 1) // r
        col_folds = (sc + c - 1) // c
        lines, util_cycles = _fold_cycles(df, r, c, t)
        ifmap, filt, ofmap = _sram_requests(df, sr, sc, t, row_folds, col_folds, r, c)
        out[i, 0], out[i, 1], out[i, 2] = sr, sc, t
        out[i, 3], out[i, 4] = row_folds, col_folds
        out[i, 5] = row_folds * col_folds * lines - 1
        out[i, 6], out[i, 7], out[i, 8] = macs, sr * sc, util_cycles
        out[i, 9], out[i, 10], out[i, 11] = ifmap, filt, ofmap


@dataclass(frozen=True, kw_only=True)
class ScaleSimSweep:
    """Counts of one layer over a vector of design points.

    ``values`` has shape (n, len(COUNT_FIELDS)), int64; ``rows``, ``cols`` and ``dataflows``
    (codes) have shape (n,).
    """

    layer: ScaleSimLayer
    rows: np.ndarray
    cols: np.ndarray
    dataflows: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return int(self.rows.shape[0])

    def column(self, name: str) -> np.ndarray:
        """One count over all design points, shape (n,)."""
        if name not in COUNT_FIELDS:
            raise ValueError(f"name must be one of {COUNT_FIELDS}, got {name!r}")
        return self.values[:, COUNT_FIELDS.index(name)]

    def point(self, index: int) -> ScaleSimCounts:
        """The counts of design point ``index``."""
        counts = {name: int(v) for name, v in zip(COUNT_FIELDS, self.values[index], strict=True)}
        return ScaleSimCounts(rows=int(self.rows[index]), cols=int(self.cols[index]),
                              dataflow=DATAFLOWS[int(self.dataflows[index])], **counts)

    @property
    def mapping_efficiency(self) -> np.ndarray:
        """Mapping efficiency per design point (0..1), shape (n,)."""
        pes = self.rows * self.cols * self.column("row_folds") * self.column("col_folds")
        return self.column("mapped_pe_sum") / pes

    @property
    def compute_utilization(self) -> np.ndarray:
        """Compute utilisation per design point (0..1), shape (n,)."""
        pes = self.rows * self.cols * self.column("row_folds") * self.column("col_folds")
        return self.column("macs") / (pes * self.column("fold_util_cycles"))


def _dataflow_codes(dataflows) -> np.ndarray:
    """Dataflow codes (int64, same shape) of an array of dataflow names or codes."""
    if isinstance(dataflows, str | int | np.integer):
        return np.asarray(dataflow_code(dataflows), dtype=np.int64)
    values = np.asarray(dataflows)
    if values.dtype.kind in "iu":
        bad = values[(values < 0) | (values >= len(DATAFLOWS))]
        if bad.size:
            dataflow_code(int(bad.flat[0]))
        return values.astype(np.int64)
    names, inverse = np.unique(values, return_inverse=True)
    codes = np.array([dataflow_code(name) for name in names.tolist()], dtype=np.int64)
    return codes[inverse].reshape(values.shape)


def _design_points(rows, cols, dataflows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Broadcast and validate rows, columns and dataflows into three int64 vectors."""
    codes = _dataflow_codes(dataflows)
    r, c, d = np.broadcast_arrays(np.asarray(rows), np.asarray(cols), codes)
    for name, values in (("rows", r), ("cols", c)):
        if values.dtype.kind not in "iu" or (values.size and values.min() < 1):
            raise ValueError(f"{name} must be integers >= 1, got {values.ravel()[:8]!r}")
    r, c, d = (np.ascontiguousarray(a.ravel(), dtype=np.int64) for a in (r, c, d))
    return r, c, d


def scalesim_sweep(layer: ScaleSimLayer, rows, cols, dataflows) -> ScaleSimSweep:
    """Counts of ``layer`` at every design point, in one kernel call.

    rows, cols: array sizes (ints or integer arrays); dataflows: names or codes. The three
    broadcast together and are flattened to n design points.
    """
    r, c, d = _design_points(rows, cols, dataflows)
    out = np.empty((r.shape[0], len(COUNT_FIELDS)), dtype=np.int64)
    _scalesim_kernel(layer.ofmap_px, layer.window, layer.num_filters, r, c, d, out)
    return ScaleSimSweep(layer=layer, rows=r, cols=c, dataflows=d, values=out)


def scalesim_layer(ifmap_h: int, ifmap_w: int, filt_h: int, filt_w: int, channels: int,
                   num_filters: int, stride: int, rows: int, cols: int,
                   dataflow: str | int) -> ScaleSimCounts:
    """SCALE-Sim's compute-side counts of one convolution layer on one ``rows x cols`` array."""
    layer = ScaleSimLayer(ifmap_h=ifmap_h, ifmap_w=ifmap_w, filt_h=filt_h, filt_w=filt_w,
                          channels=channels, num_filters=num_filters, stride=stride)
    rows, cols = _check_int("rows", rows), _check_int("cols", cols)
    return scalesim_sweep(layer, rows, cols, dataflow_code(dataflow)).point(0)


def _fold_lines_reference(dataflow: str, rows: int, cols: int, t: int) -> tuple[int, int]:
    """Height of one fold's ofmap demand matrix and the fold cycles of the utilisation.

    OS: T-1 null lines, then R output lines, skewed over C columns (+C-1).
    WS, IS: the ofmap demand waits 2R-1 lines, takes T lines, skewed over C columns (+C-1);
    the utilisation counts the stationary operand's matrix instead (R loading lines,
    R+C+T-2 streaming lines, skewed over C columns: +C-1).
    """
    if dataflow == "os":
        lines = (t - 1) + rows + (cols - 1)
        return lines, lines
    lines = (2 * rows - 1) + t + (cols - 1)
    return lines, rows + (rows + cols + t - 2) + (cols - 1)


def scalesim_layer_reference(layer: ScaleSimLayer, rows: int, cols: int,
                             dataflow: str | int) -> ScaleSimCounts:
    """Plain-Python reference: walk the folds as SCALE-Sim builds its demand matrices."""
    dataflow = DATAFLOWS[dataflow_code(dataflow)]
    s = layer.stride  # SCALE-Sim's output-size rule, float division and ceil as it writes it
    px = (math.ceil((layer.ifmap_h - layer.filt_h + s) / s)
          * math.ceil((layer.ifmap_w - layer.filt_w + s) / s))
    win, nf = layer.filt_h * layer.filt_w * layer.channels, layer.num_filters
    sr, sc, t = {"os": (px, nf, win), "ws": (win, nf, px), "is": (win, px, nf)}[dataflow]
    row_folds, col_folds = math.ceil(sr / rows), math.ceil(sc / cols)
    lines, util_cycles = _fold_lines_reference(dataflow, rows, cols, t)
    mapped = ifmap = filt = ofmap = 0
    for fc in range(col_folds):
        for fr in range(row_folds):
            used_r, used_c = min(rows, sr - fr * rows), min(cols, sc - fc * cols)
            mapped += used_r * used_c
            if dataflow == "os":  # OS also adds R + C per fold to its ofmap writes
                ifmap, filt, ofmap = (ifmap + t * used_r, filt + t * used_c,
                                      ofmap + used_r * used_c + rows + cols)
            elif dataflow == "ws":
                ifmap, filt, ofmap = ifmap + t * used_r, filt + used_r * used_c, ofmap + t * used_c
            else:
                ifmap, filt, ofmap = ifmap + used_r * used_c, filt + t * used_r, ofmap + t * used_c
    return ScaleSimCounts(
        rows=rows, cols=cols, dataflow=dataflow, sr=sr, sc=sc, t=t, row_folds=row_folds,
        col_folds=col_folds, compute_cycles=row_folds * col_folds * lines - 1,
        macs=px * nf * win, mapped_pe_sum=mapped, fold_util_cycles=util_cycles,
        ifmap_sram_reads=ifmap, filter_sram_reads=filt, ofmap_sram_writes=ofmap)
