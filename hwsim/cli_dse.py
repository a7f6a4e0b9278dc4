"""CLI commands of design-space exploration: ``sweep``, ``pareto`` and ``plot``."""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from hwsim.fileio import atomic_write_text, save_figure


class DseError(ValueError):
    """A user error in a DSE command (reported as one line)."""


def read_text(path: str, what: str) -> str:
    """The text of a user-named file, or a one-line error naming it."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise DseError(f"cannot read {what} {path!r}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise DseError(f"cannot read {what} {path!r}: not UTF-8 text ({exc.reason})") from exc


def _number_list(text: str, *, integer: bool = False) -> list[float]:
    """Comma-separated finite numbers > 0 (integers if ``integer``)."""
    kind = "integers >= 1" if integer else "finite numbers > 0"
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    ok = values and all(math.isfinite(v) and v > 0 and (v.is_integer() or not integer)
                        for v in values)
    if not ok:
        raise argparse.ArgumentTypeError(f"must be comma-separated {kind}, got {text!r}")
    return [int(v) for v in values] if integer else values


def positive_numbers(text: str) -> list[float]:
    """Argument type: comma-separated finite numbers > 0."""
    return _number_list(text)


def positive_ints(text: str) -> list[int]:
    """Argument type: comma-separated integers >= 1."""
    return [int(v) for v in _number_list(text, integer=True)]


def int_at_least(low: int) -> Callable[[str], int]:
    """Argument type: an integer >= ``low``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}")
        return value
    return parse


def finite_number(*, positive: bool) -> Callable[[str], float]:
    """Argument type: a finite number > 0 (``positive``) or >= 0."""
    allowed = "a finite number > 0" if positive else "a finite number >= 0"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and (value > 0 if positive else value >= 0)):
            raise argparse.ArgumentTypeError(f"must be {allowed}, got {text!r}")
        return value
    return parse


def output_path(text: str, *, folder: bool = False) -> str:
    """Argument type: a file (or ``folder``) path that can be written; missing folders
    above it are created when it is written."""
    path = Path(text)
    want = "a folder" if folder else "a file path"
    if not text:
        raise argparse.ArgumentTypeError(f"must be {want}, got ''")
    if path.exists() and path.is_dir() != folder:
        kind = "a folder" if path.is_dir() else "a file"
        raise argparse.ArgumentTypeError(f"must be {want}, got {text!r}, which is {kind}")
    existing = next(p for p in (path.absolute(), *path.absolute().parents) if p.exists())
    if not existing.is_dir() and existing != path.absolute():
        raise argparse.ArgumentTypeError(f"cannot write {text!r}: {str(existing)!r} is a file")
    if not os.access(existing if existing.is_dir() else existing.parent, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write {text!r}: permission denied")
    return text


def output_folder(text: str) -> str:
    """Argument type: a folder to write into."""
    return output_path(text, folder=True)


def figure_path(text: str) -> str:
    """Argument type: an image path whose suffix matplotlib can write (none means PNG)."""
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    suffix = Path(text).suffix.lstrip(".").lower()
    if suffix and suffix not in formats:
        raise argparse.ArgumentTypeError(
            f"image format {suffix!r} of {text!r} is not supported; use one of "
            f"{', '.join(sorted(formats))}")
    return output_path(text)


def results_path(text: str) -> str:
    """Argument type: a sweep output, ``*.csv`` (a file) or ``*.parquet`` (a folder)."""
    suffix = Path(text).suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise argparse.ArgumentTypeError(
            f"must end in .csv (a file) or .parquet (a folder of parts), got {text!r}")
    return output_path(text, folder=suffix == ".parquet")


def read_results(path: str) -> pd.DataFrame:
    """A results table from CSV or Parquet (a file or a folder of parts), with rows."""
    p = Path(path)
    if not p.exists():
        raise DseError(f"results {path!r} do not exist")
    if p.suffix.lower() not in (".csv", ".parquet"):
        raise DseError(f"results {path!r} must be .csv or .parquet")
    if p.is_dir() and not any(p.glob("*.parquet")):
        raise DseError(f"results {path!r} is a folder without .parquet parts")
    try:
        table = pd.read_csv(p) if p.suffix.lower() == ".csv" else pd.read_parquet(p)
    except (OSError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DseError(f"cannot read results {path!r}: {first}") from exc
    if table.empty:
        raise DseError(f"results {path!r} hold no rows")
    return table


class ProgressBar:
    """A one-line progress bar on stderr: points done, rate, ETA."""

    def __init__(self, stream: Any = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.last = 0.0

    def __call__(self, done: int, total: int, rate: float, eta: float) -> None:
        now = time.monotonic()
        if done < total and now - self.last < 0.2:
            return
        self.last = now
        filled = int(self.width * done / max(total, 1))
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r[{bar}] {done}/{total} {rate:8.1f} pts/s ETA {eta:6.1f} s")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


def _executor(args: argparse.Namespace) -> Any:
    from hwsim.explore import DaskExecutor, ProcessExecutor, SerialExecutor

    if args.scheduler:
        workers = args.workers if args.scheduler == "local" else None
        try:
            return DaskExecutor(args.scheduler, workers=workers)
        except (OSError, ValueError) as exc:
            raise DseError(f"--scheduler {args.scheduler!r}: {exc}") from exc
    if args.workers == 1:
        return SerialExecutor()
    return ProcessExecutor(workers=args.workers)


def cmd_sweep(args: argparse.Namespace) -> int:
    """Run a sweep (or search) from a YAML config, writing results incrementally."""
    from hwsim.explore.store import records
    from hwsim.sweepconfig import SweepConfig

    cfg = SweepConfig.from_yaml(read_text(args.config, "sweep config"))
    store = _open_output(args.out, cfg)
    with _executor(args) as ex:
        table = cfg.run(executor=ex, out=store, progress=ProgressBar())
    if cfg.search:
        store.append(records(table))
    _summarise(table, args.out)
    _print_front(table, dict(cfg.objectives))
    return 0


def _open_output(out: str, cfg: Any) -> Any:
    """The result store at ``out``; it may resume only a sweep of the same problem."""
    from hwsim.explore.store import open_store

    Path(out).parent.mkdir(parents=True, exist_ok=True)
    store = open_store(out)
    stored = store.load()
    if cfg.search and len(stored):
        raise DseError(f"--out {out!r} already holds results and a search does not resume; "
                       "use a new --out")
    ids = stored["problem_id"].dropna() if "problem_id" in stored else ()
    if any(i != cfg.problem.problem_id for i in ids):
        raise DseError(f"--out {out!r} holds results of another problem (its workload, "
                       "accelerator, preset, plan, quality, limits or seed differ); use a new "
                       "--out")
    return store


def _summarise(table: pd.DataFrame, out: str) -> None:
    """Print the counts by status; raise if no point evaluated ok."""
    if table.empty:
        raise DseError("the sample holds no design points: the space's constraints reject "
                       "every point")
    status = table["status"]
    ok = table[status == "ok"]
    feasible = int(ok["feasible"].astype(bool).sum()) if "feasible" in ok else len(ok)
    print(f"{len(table)} points, {len(ok)} ok, {int((status == 'error').sum())} error, "
          f"{int((status == 'infeasible').sum())} infeasible, {feasible} feasible -> {out}")
    failed = table[status != "ok"]
    if len(failed):
        first = failed.iloc[0]
        print(f"first failure (point {first['point_id']}): {first['error']}")
    if ok.empty:
        raise DseError(f"no design point evaluated ok; first failure: {failed.iloc[0]['error']}")


def _objectives(minimize: list[str] | None, maximize: list[str] | None) -> dict[str, str]:
    both = sorted(set(minimize or []) & set(maximize or []))
    if both:
        raise DseError(f"objective {both[0]!r} is both minimised and maximised")
    obj = {m: "min" for m in minimize or []}
    obj.update({m: "max" for m in maximize or []})
    if len(obj) < 2:
        raise DseError("name at least two objectives with --minimize / --maximize")
    return obj


def numeric_columns(table: pd.DataFrame, columns: list[str], what: str) -> pd.DataFrame:
    """``table`` with ``columns`` as floats; a missing column or a non-number is an error."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DseError(f"{what} {missing[0]!r} is not a column; columns: "
                       f"{', '.join(map(str, table.columns))}")
    table = table.copy()
    for c in columns:
        values = pd.to_numeric(table[c], errors="coerce")
        bad = table[c].notna() & values.isna()
        if bad.any():
            raise DseError(f"{what} {c!r} must hold numbers, got {table[c][bad].iloc[0]!r}")
        table[c] = values.astype(float)
    return table


def _ok_rows(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["status"] == "ok"] if "status" in table else table


def _front(table: pd.DataFrame, objectives: dict[str, str]) -> pd.DataFrame:
    from hwsim.explore import pareto_front

    ok = numeric_columns(_ok_rows(table), list(objectives), "objective")
    if "feasible" in ok:
        ok = ok[ok["feasible"].astype(bool)]
    return pareto_front(ok, minimize=[k for k, v in objectives.items() if v == "min"],
                        maximize=[k for k, v in objectives.items() if v == "max"])


_NOT_PARAMS = {"point_id", "status", "error", "workload", "accelerator", "batch", "latency_s",
               "throughput_per_s", "energy_j", "avg_power_w", "area_mm2", "edp_js", "accuracy",
               "fidelity_sqnr_db", "feasible", "trial", "problem_id"}


def _print_front(table: pd.DataFrame, objectives: dict[str, str]) -> pd.DataFrame:
    front = _front(table, objectives).sort_values(next(iter(objectives)))
    if front.empty:
        print("Pareto front: no design is feasible and finite in every objective")
        return front
    params = [c for c in table.columns if c not in _NOT_PARAMS and c not in objectives
              and not c.startswith("energy_")]
    cols = [c for c in params if c in front][:8] + list(objectives)
    print(f"Pareto front ({len(front)} designs):")
    print(front[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return front


def cmd_pareto(args: argparse.Namespace) -> int:
    """Print (and optionally plot and save) the Pareto front of a results table."""
    from hwsim.plots.dse import pareto_plot

    table = read_results(args.results)
    if args.csv and Path(args.csv).resolve() == Path(args.results).resolve():
        raise DseError(f"--csv {args.csv!r} would overwrite the results it reads; name "
                       "another file")
    objectives = _objectives(args.minimize, args.maximize)
    front = _print_front(table, objectives)
    if args.csv:
        atomic_write_text(args.csv, front.to_csv(index=False))
    if args.plot:
        names = list(objectives)
        color = names[2] if len(names) > 2 else None
        ok = numeric_columns(_ok_rows(table), names, "objective")
        fig = pareto_plot(ok, names[0], names[1], color=color,
                          senses=(objectives[names[0]], objectives[names[1]]))
        save_figure(fig, args.plot)
        print(f"plot -> {args.plot}")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    """Draw one of the DSE plots from a results table."""
    from hwsim.plots import dse

    table = _ok_rows(read_results(args.results))
    if table.empty:
        raise DseError(f"results {args.results!r} hold no row with status 'ok'")
    if args.kind == "parallel":
        fig = dse.parallel_coordinates(table, args.columns)
    elif args.kind == "energy":
        fig = dse.energy_breakdown(table.head(args.top), label=args.label)
    elif len(args.columns) not in (2, 3):
        raise DseError(f"plot pareto: --columns takes X Y [COLOUR], got {len(args.columns)} "
                       f"columns: {' '.join(args.columns)}")
    else:
        fig = dse.pareto_plot(table, args.columns[0], args.columns[1],
                              color=args.columns[2] if len(args.columns) > 2 else None)
    save_figure(fig, args.out)
    print(f"plot -> {args.out}")
    return 0


def add_commands(sub: Any) -> None:
    """Register ``sweep``, ``pareto`` and ``plot`` on the CLI's sub-parsers."""
    p = sub.add_parser("sweep", help="run a design-space sweep or search from a YAML config")
    p.add_argument("config", help="sweep YAML (problem, space, sample or search, objectives)")
    p.add_argument("--out", required=True, type=results_path,
                   help="results: FILE.csv or FOLDER.parquet; a sweep rerun on it resumes")
    p.add_argument("--workers", type=int_at_least(1), default=None,
                   help="local processes (default: cores)")
    p.add_argument("--scheduler", default=None,
                   help="Dask scheduler address, or 'local' for a LocalCluster")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("pareto", help="Pareto front of a results table")
    p.add_argument("results", help="results file from `hwsim sweep`")
    p.add_argument("--minimize", nargs="+", metavar="COL")
    p.add_argument("--maximize", nargs="+", metavar="COL")
    p.add_argument("--plot", metavar="PNG", type=figure_path, help="write a Pareto plot")
    p.add_argument("--csv", metavar="FILE", type=output_path, help="write the front as CSV")
    p.set_defaults(func=cmd_pareto)

    p = sub.add_parser("plot", help="draw a plot from a results table")
    p.add_argument("kind", choices=["pareto", "parallel", "energy"])
    p.add_argument("results", help="results file from `hwsim sweep`")
    p.add_argument("--columns", nargs="+", default=["latency_s", "energy_j", "area_mm2"],
                   help="pareto: X Y [COLOUR]; parallel: the axes")
    p.add_argument("--label", default="point_id", help="bar label column (energy plot)")
    p.add_argument("--top", type=int_at_least(1), default=10,
                   help="rows shown in the energy plot")
    p.add_argument("--out", required=True, metavar="PNG", type=figure_path)
    p.set_defaults(func=cmd_plot)
