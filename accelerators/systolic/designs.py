"""Design points of a systolic sweep as arrays: ``SystolicDesigns``.

n design points vary the array shape, dataflow, SRAM sizes, DRAM bandwidth and clock
(``DESIGN_FIELDS``) over a base config that fixes everything else (formats, sparsity, node,
lanes, mode). Validated once here, then passed to the kernels as contiguous arrays.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from accelerators.systolic._scalesim import DATAFLOWS, dataflow_code
from accelerators.systolic.config import SystolicConfig

__all__ = ["DESIGN_FIELDS", "SystolicDesigns"]

DESIGN_FIELDS = ("rows", "cols", "dataflow", "ifmap_sram_bytes", "filter_sram_bytes",
                 "ofmap_sram_bytes", "dram_bw_bytes_per_s", "freq_hz")
"""Config fields a sweep may vary per design point."""
_INT_FIELDS = ("rows", "cols", "ifmap_sram_bytes", "filter_sram_bytes", "ofmap_sram_bytes")


@dataclass(frozen=True, eq=False)
class SystolicDesigns:
    """n design points: arrays of shape (n,) over ``base``'s other fields.

    ``dataflow`` holds codes (0 = os, 1 = ws, 2 = is); integer fields are int64, the
    bandwidth and clock float64. Build with ``from_arrays``, ``from_configs`` or
    ``from_records``.
    """

    base: SystolicConfig
    rows: np.ndarray
    cols: np.ndarray
    dataflow: np.ndarray
    ifmap_sram_bytes: np.ndarray
    filter_sram_bytes: np.ndarray
    ofmap_sram_bytes: np.ndarray
    dram_bw_bytes_per_s: np.ndarray
    freq_hz: np.ndarray

    @classmethod
    def from_arrays(cls, base: SystolicConfig, **arrays: Any) -> SystolicDesigns:
        """Points from arrays (or scalars) of ``DESIGN_FIELDS``; missing fields come from base.

        Raises ``ValueError`` naming the field for unknown names, shapes that do not
        broadcast, non-integer or non-positive sizes, or unknown dataflows.
        """
        unknown = sorted(set(arrays) - set(DESIGN_FIELDS))
        if unknown:
            raise ValueError(f"unknown design field(s) {unknown}; allowed: {DESIGN_FIELDS}")
        values = {name: arrays.get(name, _base_value(base, name)) for name in DESIGN_FIELDS}
        values["dataflow"] = _dataflow_codes(values["dataflow"])
        try:
            # Copies: broadcast views are read-only and Numba warns about them.
            shaped = [np.array(a) for a in
                      np.broadcast_arrays(*(np.asarray(values[n]) for n in DESIGN_FIELDS))]
        except ValueError:
            shapes = {n: np.shape(values[n]) for n in DESIGN_FIELDS}
            raise ValueError(f"design arrays must broadcast together, got shapes {shapes}") \
                from None
        checked = {n: _checked(n, a.ravel()) for n, a in zip(DESIGN_FIELDS, shaped, strict=True)}
        if base.nm_sparsity and np.any(checked["dataflow"] != DATAFLOWS.index("ws")):
            raise ValueError("nm_sparsity is supported only with dataflow 'ws'; the base "
                             f"config has nm_sparsity {base.nm_sparsity} and points use others")
        return cls(base=base, **checked)

    @classmethod
    def from_configs(cls, configs: Sequence[SystolicConfig]) -> SystolicDesigns:
        """Points from configs that differ only in ``DESIGN_FIELDS`` (and ``name``)."""
        if not configs:
            raise ValueError("configs must hold at least one SystolicConfig, got none")
        base = configs[0]
        fixed = [f.name for f in dataclasses.fields(base)
                 if f.name not in DESIGN_FIELDS and f.name != "name"]
        for i, c in enumerate(configs):
            diff = [n for n in fixed if getattr(c, n) != getattr(base, n)]
            if diff:
                raise ValueError(f"configs[{i}] differs from configs[0] in {diff}; only "
                                 f"{DESIGN_FIELDS} may vary")
        cols = {n: [_base_value(c, n) for c in configs] for n in DESIGN_FIELDS}
        return cls.from_arrays(base, **cols)

    @classmethod
    def from_records(cls, base: SystolicConfig,
                     records: Sequence[Mapping[str, Any]]) -> SystolicDesigns:
        """Points from dicts of ``DESIGN_FIELDS`` values (as a DSE batch delivers them)."""
        names = sorted({key for r in records for key in r})
        cols = {n: [r.get(n, _base_value(base, n)) for r in records] for n in names}
        return cls.from_arrays(base, **cols)

    def __len__(self) -> int:
        return int(self.rows.shape[0])

    def config(self, index: int) -> SystolicConfig:
        """Design point ``index`` as a full ``SystolicConfig``."""
        values = {n: getattr(self, n)[index].item() for n in DESIGN_FIELDS}
        values["dataflow"] = DATAFLOWS[values["dataflow"]]
        return dataclasses.replace(self.base, **values)

    @property
    def sram_bytes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The three SRAM capacities per point."""
        return self.ifmap_sram_bytes, self.filter_sram_bytes, self.ofmap_sram_bytes

    @property
    def bw_bytes_per_cycle(self) -> np.ndarray:
        """DRAM bytes per clock cycle per point."""
        return self.dram_bw_bytes_per_s / self.freq_hz


def _base_value(base: SystolicConfig, name: str) -> Any:
    value = getattr(base, name)
    return value.value if name == "dataflow" else value


def _dataflow_codes(values: Any) -> np.ndarray:
    arr = np.asarray(values, dtype=object)
    return np.vectorize(dataflow_code, otypes=[np.int64])(arr) if arr.size else arr


def _checked(name: str, values: np.ndarray) -> np.ndarray:
    """Validate one design field and return it as int64 or float64."""
    if name in _INT_FIELDS:
        ok = values.dtype.kind in "iu" and bool(np.all(values >= 1))
        if not ok:
            raise ValueError(f"{name} must be integers >= 1, got {values[:8]!r}")
        return np.ascontiguousarray(values, dtype=np.int64)
    if name == "dataflow":
        return np.ascontiguousarray(values, dtype=np.int64)
    floats = np.asarray(values, dtype=np.float64)
    if not np.all(floats > 0):
        raise ValueError(f"{name} must be numbers > 0, got {values[:8]!r}")
    return np.ascontiguousarray(floats)
