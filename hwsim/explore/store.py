"""Result tables on disk: stable point ids and atomically written CSV / Parquet stores.

A store holds one row per finished design point: ``point_id``, the parameters, the
metrics, ``status`` and ``error``. Every write leaves a complete, readable output even if
the process is killed mid-write:

- CSV (``*.csv``): each append rewrites the whole table to a temporary file in the same
  directory and moves it over the output with ``os.replace`` (atomic on POSIX and
  Windows). Simple and portable, but a sweep of N points in B batches writes O(N * B)
  rows in total; prefer Parquet for very large sweeps.
- Parquet (``*.parquet``, needs ``pip install 'hwsim[parquet]'``): a directory of part
  files, one per append, each written to a temporary name and moved into place. Appends
  cost O(batch); readers load every ``part-*.parquet`` file.

A store has a single writer; two sweeps must not share an output.
"""

from __future__ import annotations

import glob
import hashlib
import json
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

RESERVED_COLUMNS = ("point_id", "status", "error")
_PART_GLOB = "part-*.parquet"


def point_id(design: Mapping[str, Any]) -> str:
    """Stable 16-hex-digit id of a design, from its parameter names and values.

    The id does not depend on key order or on NumPy vs Python scalar types, and an
    integral float equals the integer (``16.0`` and ``16`` are the same point).
    """
    items = sorted((str(k), _canonical(v)) for k, v in design.items())
    text = json.dumps(items, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def point_ids(designs: pd.DataFrame) -> list[str]:
    """The :func:`point_id` of each row of ``designs``."""
    return [point_id(d) for d in records(designs)]


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of ``frame`` as dicts of Python scalars, keyed by column name."""
    return cast(list[dict[str, Any]], frame.to_dict("records"))


def _canonical(value: Any) -> list[Any]:
    if isinstance(value, bool | np.bool_):
        return ["b", bool(value)]
    if isinstance(value, int | np.integer):
        return ["n", int(value)]
    if isinstance(value, float | np.floating):
        value = float(value)
        if value.is_integer() and abs(value) < 2**53:
            return ["n", int(value)]
        return ["f", repr(value) if math.isfinite(value) else str(value)]
    if isinstance(value, str):
        return ["s", value]
    return ["r", repr(value)]


class ResultStore:
    """Results kept in memory; the file-backed stores add a write after each append."""

    def __init__(self) -> None:
        self._frames: list[pd.DataFrame] = []

    def load(self) -> pd.DataFrame:
        """All rows stored so far, one per point id (the latest row of a point)."""
        if not self._frames:
            return pd.DataFrame(columns=list(RESERVED_COLUMNS))
        frame = pd.concat(self._frames, ignore_index=True)
        self._frames = [frame]
        return frame.drop_duplicates("point_id", keep="last").reset_index(drop=True)

    def append(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Add finished rows."""
        if rows:
            frame = pd.DataFrame(list(rows))
            self._frames.append(frame)
            self._persist(frame)

    def _persist(self, frame: pd.DataFrame) -> None:
        """Hook: write ``frame`` (the rows just appended) to disk."""


class CsvStore(ResultStore):
    """Results in one CSV file, rewritten atomically after every append.

    Parameters
    ----------
    path : str or Path
        The CSV file; its directory must exist. Existing rows are loaded on creation and
        leftover temporary copies from an interrupted write are removed.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        self.path = Path(path)
        for stale in self.path.parent.glob(f".{glob.escape(self.path.name)}.*.tmp"):
            stale.unlink()
        if self.path.exists():
            self._frames.append(_read_csv(self.path))

    def _persist(self, frame: pd.DataFrame) -> None:
        table = self.load()
        _write_atomic(self.path, lambda tmp: table.to_csv(tmp, index=False))


class ParquetStore(ResultStore):
    """Results in a directory of Parquet part files, one written atomically per append.

    Parameters
    ----------
    path : str or Path
        The directory, created if missing. Existing parts are loaded on creation and
        leftover temporary files from an interrupted write are removed.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        _require_pyarrow()
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        for stale in self.path.glob(".*.tmp"):
            stale.unlink()
        parts = sorted(self.path.glob(_PART_GLOB))
        self._frames.extend(_read_parquet(p) for p in parts)
        self._next_part = 1 + max((int(p.stem.split("-")[1]) for p in parts), default=0)

    def _persist(self, frame: pd.DataFrame) -> None:
        target = self.path / f"part-{self._next_part:06d}.parquet"
        _write_atomic(target, lambda tmp: frame.to_parquet(tmp, index=False))
        self._next_part += 1


def open_store(out: Any) -> ResultStore:
    """A store for ``out``: None (memory), a ``.csv`` path, a ``.parquet`` path, or a store."""
    if out is None:
        return ResultStore()
    if isinstance(out, ResultStore):
        return out
    suffix = Path(out).suffix.lower()
    if suffix == ".csv":
        return CsvStore(out)
    if suffix == ".parquet":
        return ParquetStore(out)
    raise ValueError(
        f"out must be None, a path ending in .csv or .parquet, or a store, got {out!r}"
    )


def _write_atomic(target: Path, write: Any) -> None:
    """Call ``write(tmp_path)`` on a temporary file beside ``target``, then move it over."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_csv(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype={"point_id": str, "status": str, "error": str},
                        keep_default_na=False, na_values=[""])
    return _checked(frame, path)


def _read_parquet(path: Path) -> pd.DataFrame:
    return _checked(pd.read_parquet(path), path)


def _checked(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    missing = [c for c in RESERVED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path} is not a sweep result: columns {missing} are missing")
    frame["error"] = frame["error"].fillna("")
    return frame


def _require_pyarrow() -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise ImportError("Parquet output needs pyarrow: pip install 'hwsim[parquet]'") from exc
