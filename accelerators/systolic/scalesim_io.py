"""Readers for SCALE-Sim inputs: topology CSVs into a ``Graph``, ``.cfg`` files into a config.

Topologies come in SCALE-Sim's two forms, each row ending with a comma and an optional
``N:M`` sparsity column:

* convolution: ``Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width,
  Channels, Num Filter, Strides,`` -- one stride for both axes, sizes already padded (SCALE-Sim
  pads nothing) and outputs by its rule ``ceil((H - R) / S) + 1``. Each row becomes its own
  input op and a conv2d with the smallest symmetric padding that gives that output (zero
  for stride 1); layers whose name contains ``DP`` are depthwise: one group per channel,
  each with ``Num Filter`` filters, as SCALE-Sim splits them.
* GEMM: ``Layer, M, N, K,`` -- an ``M x K`` input times a ``K x N`` weight (a matmul op).

Configurations are SCALE-Sim's INI files: ``[general] run_name`` names the design and
``[architecture_presets]`` gives ``ArrayHeight``, ``ArrayWidth``, ``IfmapSramSzkB``,
``FilterSramSzkB``, ``OfmapSramSzkB`` (KiB, as SCALE-Sim multiplies by 1024), ``Dataflow``
and ``Bandwidth`` (words per cycle; a list gives its minimum; read even in SCALE-Sim's
``CALC`` mode, which ignores it, since the realistic mode needs a bandwidth). Words are one
byte, SCALE-Sim's word size. ``[sparsity] SparsitySupport: true`` enables the N:M patterns
``n:BlockSize`` for ``n <= BlockSize / 2`` (SCALE-Sim v3's limit; BlockSize defaults to 4).
Offsets, request buffers, layouts and Ramulator settings are read past: they change nothing
this model counts.

Malformed input raises ``ValueError`` naming the line and the field.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from accelerators.systolic.config import Dataflow, SystolicConfig
from hwsim.graph import Graph, Op, OpKind, Precision, Sparsity
from hwsim.units import KIB

__all__ = ["CONV_COLUMNS", "GEMM_COLUMNS", "read_scalesim_cfg", "read_topology_csv"]

CONV_COLUMNS = ("Layer name", "IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width",
                "Channels", "Num Filter", "Strides")
GEMM_COLUMNS = ("Layer", "M", "N", "K")
_INT8 = Precision.integer(weight_bits=8, act_bits=8)


def _text_of(source: str | os.PathLike[str]) -> tuple[str, str]:
    """(text, name): a path's contents, or ``source`` itself when it holds a newline."""
    if isinstance(source, str) and "\n" in source:
        return source, "topology"
    path = Path(source)
    return path.read_text(), path.stem


def _cells(line: str) -> list[str]:
    cells = [c.strip() for c in line.split(",")]
    while cells and not cells[-1]:
        cells.pop()
    return cells


def _int_field(cells: list[str], i: int, columns: tuple[str, ...], lineno: int) -> int:
    text = cells[i]
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"line {lineno}: {columns[i]} must be an integer >= 1, got {text!r}")
    return int(text)


def _sparsity(text: str, lineno: int) -> Sparsity:
    n_text, sep, m_text = text.partition(":")
    if not (sep and n_text.strip().isdigit() and m_text.strip().isdigit()):
        raise ValueError(f"line {lineno}: Sparsity must be 'N:M', got {text!r}")
    n, m = int(n_text), int(m_text)
    if not 1 <= n <= m:
        raise ValueError(f"line {lineno}: Sparsity must have 1 <= N <= M, got {text!r}")
    return Sparsity() if n == m else Sparsity.n_m(n, m)


def _padding(size: int, kernel: int, stride: int, lineno: int, column: str) -> int:
    """Smallest symmetric padding whose floor-rule output equals SCALE-Sim's ceil rule."""
    if kernel > size:
        raise ValueError(f"line {lineno}: {column} {kernel} exceeds the input size {size}")
    out = math.ceil((size - kernel) / stride) + 1
    return math.ceil(((out - 1) * stride - (size - kernel)) / 2)


def _conv_ops(cells: list[str], lineno: int, precision: Precision) -> list[Op]:
    name = cells[0]
    h, w, kh, kw, c, f, s = (_int_field(cells, i, CONV_COLUMNS, lineno) for i in range(1, 8))
    pad = (_padding(h, kh, s, lineno, "Filter Height"), _padding(w, kw, s, lineno, "Filter Width"))
    groups = c if "DP" in name else 1
    out_c = f * groups
    p = (h + 2 * pad[0] - kh) // s + 1
    q = (w + 2 * pad[1] - kw) // s + 1
    source = Op(name=f"{name}.input", kind=OpKind.INPUT, out_shape=(1, c, h, w),
                precision=precision)
    conv = Op(name=name, kind=OpKind.CONV2D, inputs=(source.name,), in_shapes=((1, c, h, w),),
              out_shape=(1, out_c, p, q), weight_shape=(out_c, c // groups, kh, kw),
              kernel=(kh, kw), stride=(s, s), padding=pad, groups=groups, precision=precision,
              sparsity=_sparsity(cells[8], lineno) if len(cells) > 8 else Sparsity())
    return [source, conv]


def _gemm_ops(cells: list[str], lineno: int, precision: Precision) -> list[Op]:
    name = cells[0]
    m, n, k = (_int_field(cells, i, GEMM_COLUMNS, lineno) for i in range(1, 4))
    source = Op(name=f"{name}.input", kind=OpKind.INPUT, out_shape=(m, k), precision=precision)
    gemm = Op(name=name, kind=OpKind.MATMUL, inputs=(source.name,), in_shapes=((m, k),),
              out_shape=(m, n), weight_shape=(k, n), precision=precision,
              sparsity=_sparsity(cells[4], lineno) if len(cells) > 4 else Sparsity())
    return [source, gemm]


def _row_builder(header: list[str], kind: str) -> tuple[tuple[str, ...], Callable]:
    if kind == "auto":
        kind = "gemm" if len(header) > 1 and header[1].upper() == "M" else "conv"
    if kind == "gemm":
        return GEMM_COLUMNS, _gemm_ops
    if kind == "conv":
        return CONV_COLUMNS, _conv_ops
    raise ValueError(f"kind must be 'auto', 'conv' or 'gemm', got {kind!r}")


def read_topology_csv(source: str | os.PathLike[str], *, kind: str = "auto",
                      precision: Precision = _INT8, name: str | None = None) -> Graph:
    """A SCALE-Sim topology (CSV text or a path) as a graph of independent layers.

    Parameters
    ----------
    source : CSV text (any string holding a newline) or a path to the file.
    kind : "conv", "gemm", or "auto" (GEMM when the second header column is ``M``).
    precision : precision of every op; int8 matches SCALE-Sim's one-byte words.
    name : graph name (default: the file's stem, or "topology" for text).
    """
    text, stem = _text_of(source)
    lines = text.splitlines()
    if not lines or not _cells(lines[0]):
        raise ValueError("line 1: the topology needs a header row, got an empty line")
    columns, build = _row_builder(_cells(lines[0]), kind)
    ops: list[Op] = []
    first_line: dict[str, int] = {}
    for lineno, line in enumerate(lines[1:], start=2):
        cells = _cells(line)
        if not cells:
            continue
        if len(cells) < len(columns):
            raise ValueError(f"line {lineno}: expected {len(columns)} fields "
                             f"({', '.join(columns)}), got {len(cells)}")
        if not cells[0]:
            raise ValueError(f"line {lineno}: {columns[0]} must not be empty")
        if cells[0] in first_line:
            raise ValueError(f"line {lineno}: {columns[0]} {cells[0]!r} repeats line "
                             f"{first_line[cells[0]]}")
        first_line[cells[0]] = lineno
        ops += build(cells, lineno, precision)
    if not ops:
        raise ValueError(f"line {len(lines) + 1}: the topology has no layer rows")
    return Graph(tuple(ops), name=name or stem)


_REQUIRED = ("ArrayHeight", "ArrayWidth", "IfmapSramSzkB", "FilterSramSzkB", "OfmapSramSzkB",
             "Dataflow")
_Entry = tuple[str, int]  # (value, line number)


def _section_header(line: str, lineno: int) -> str:
    if not line.endswith("]") or len(line) < 3:
        raise ValueError(f"line {lineno}: a section header must look like [name], got {line!r}")
    return line[1:-1].strip().lower()


def _parse_ini(text: str) -> tuple[dict[str, dict[str, _Entry]], dict[str, int]]:
    """Sections of ``key: value`` (or ``key = value``) lines, keys lower-cased, with lines."""
    sections: dict[str, dict[str, _Entry]] = {}
    starts: dict[str, int] = {}
    current = None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            current = _section_header(line, lineno)
            sections.setdefault(current, {})
            starts.setdefault(current, lineno)
            continue
        cut = min((i for i in (line.find(":"), line.find("=")) if i > 0), default=-1)
        if cut < 0:
            raise ValueError(f"line {lineno}: expected 'key: value', got {line!r}")
        if current is None:
            raise ValueError(f"line {lineno}: {line[:cut].strip()} appears before any section")
        sections[current][line[:cut].strip().lower()] = (line[cut + 1:].strip(), lineno)
    return sections, starts


def _cfg_int(entry: _Entry, field: str) -> int:
    value, lineno = entry
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"line {lineno}: {field} must be an integer >= 1, got {value!r}")
    return int(value)


def _bandwidth(entry: _Entry) -> int:
    value, lineno = entry
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if not parts or not all(p.isdigit() and int(p) >= 1 for p in parts):
        raise ValueError(f"line {lineno}: Bandwidth must be integers >= 1 (words per cycle), "
                         f"got {value!r}")
    return min(int(p) for p in parts)


def _nm_patterns(sparsity: dict[str, _Entry], dataflow: str) -> tuple[tuple[int, int], ...]:
    support = sparsity.get("sparsitysupport", ("false", 0))
    if support[0].lower() != "true":
        return ()
    if dataflow != "ws":
        raise ValueError(f"line {support[1]}: SparsitySupport needs Dataflow ws, got "
                         f"{dataflow!r}")
    block = _cfg_int(sparsity["blocksize"], "BlockSize") if "blocksize" in sparsity else 4
    return tuple((n, block) for n in range(1, block // 2 + 1))


def _architecture(sections: dict[str, dict[str, _Entry]], starts: dict[str, int]) -> dict:
    arch = sections.get("architecture_presets")
    if arch is None:
        where = f"line {max(starts.values())}: " if starts else ""
        raise ValueError(f"{where}the config has no [architecture_presets] section")
    for field in _REQUIRED:
        if field.lower() not in arch:
            raise ValueError(f"line {starts['architecture_presets']}: [architecture_presets] "
                             f"has no {field}")
    dataflow, lineno = arch["dataflow"]
    if dataflow.lower() not in {d.value for d in Dataflow}:
        raise ValueError(f"line {lineno}: Dataflow must be one of 'os', 'ws', 'is', got "
                         f"{dataflow!r}")
    return arch


def read_scalesim_cfg(source: str | os.PathLike[str], *, mode: str = "scalesim",
                      freq_hz: float = 1e9, base: SystolicConfig | None = None) -> SystolicConfig:
    """A SCALE-Sim configuration (INI text or a path) as a ``SystolicConfig``.

    Parameters
    ----------
    source : configuration text (any string holding a newline) or a path to the file.
    mode : cost-model mode of the result ("scalesim" or "realistic").
    freq_hz : clock (SCALE-Sim counts cycles only); sets the DRAM bytes per second.
    base : fields the file does not set (formats, node, lanes, DRAM type); default
        ``SystolicConfig()``.
    """
    text, _ = _text_of(source)
    sections, starts = _parse_ini(text)
    arch = _architecture(sections, starts)
    base = base or SystolicConfig()
    dataflow = arch["dataflow"][0].lower()
    words = _bandwidth(arch["bandwidth"]) if "bandwidth" in arch else None
    fields: dict[str, Any] = {
        "rows": _cfg_int(arch["arrayheight"], "ArrayHeight"),
        "cols": _cfg_int(arch["arraywidth"], "ArrayWidth"),
        "ifmap_sram_bytes": _cfg_int(arch["ifmapsramszkb"], "IfmapSramSzkB") * KIB,
        "filter_sram_bytes": _cfg_int(arch["filtersramszkb"], "FilterSramSzkB") * KIB,
        "ofmap_sram_bytes": _cfg_int(arch["ofmapsramszkb"], "OfmapSramSzkB") * KIB,
        "dataflow": dataflow, "mode": mode, "freq_hz": freq_hz,
        "nm_sparsity": _nm_patterns(sections.get("sparsity", {}), dataflow),
        "dram_bw_bytes_per_s": (words * freq_hz if words is not None
                                else base.dram_bw_bytes_per_s),
    }
    run_name = sections.get("general", {}).get("run_name")
    if run_name and run_name[0]:
        fields["name"] = run_name[0]
    return dataclasses.replace(base, **fields)
