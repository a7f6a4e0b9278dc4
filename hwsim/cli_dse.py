"""CLI commands of design-space exploration: ``sweep``, ``pareto`` and ``plot``."""

from __future__ import annotations

import argparse
import sys
import time
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


def read_results(path: str) -> pd.DataFrame:
    """A results table from CSV or Parquet (a file or a folder of parts)."""
    p = Path(path)
    if not p.exists():
        raise DseError(f"results {path!r} do not exist")
    if p.suffix == ".csv":
        return pd.read_csv(p)
    if p.suffix == ".parquet" or p.is_dir():
        return pd.read_parquet(p)
    raise DseError(f"results {path!r} must be .csv or .parquet")


def write_results(df: pd.DataFrame, path: str) -> None:
    """Write a results table atomically as CSV or Parquet (by suffix)."""
    if path.endswith(".csv"):
        atomic_write_text(path, df.to_csv(index=False))
        return
    import io

    from hwsim.fileio import atomic_write_bytes

    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    atomic_write_bytes(path, buf.getvalue())


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
        return DaskExecutor(args.scheduler)
    if args.workers == 1:
        return SerialExecutor()
    return ProcessExecutor(workers=args.workers)


def cmd_sweep(args: argparse.Namespace) -> int:
    """Run a sweep (or search) from a YAML config, writing results incrementally."""
    from hwsim.sweepconfig import SweepConfig

    cfg = SweepConfig.from_yaml(read_text(args.config, "sweep config"))
    with _executor(args) as ex:
        table = cfg.run(executor=ex, out=args.out, progress=ProgressBar())
    if cfg.search:
        write_results(table, args.out)
    ok = table[table["status"] == "ok"]
    print(f"{len(table)} points, {len(ok)} ok, "
          f"{int(ok.get('feasible', pd.Series(dtype=bool)).sum())} feasible -> {args.out}")
    _print_front(table, dict(cfg.objectives))
    return 0


def _objectives(minimize: list[str] | None, maximize: list[str] | None) -> dict[str, str]:
    obj = {m: "min" for m in minimize or []}
    obj.update({m: "max" for m in maximize or []})
    if len(obj) < 2:
        raise DseError("name at least two objectives with --minimize / --maximize")
    return obj


def _front(table: pd.DataFrame, objectives: dict[str, str]) -> pd.DataFrame:
    from hwsim.explore import pareto_front

    missing = [c for c in objectives if c not in table.columns]
    if missing:
        raise DseError(f"objective {missing[0]!r} is not a column; columns: "
                       f"{', '.join(map(str, table.columns))}")
    ok = table[table["status"] == "ok"] if "status" in table else table
    if "feasible" in ok:
        ok = ok[ok["feasible"].astype(bool)]
    return pareto_front(ok, minimize=[k for k, v in objectives.items() if v == "min"],
                        maximize=[k for k, v in objectives.items() if v == "max"])


_NOT_PARAMS = {"point_id", "status", "error", "workload", "accelerator", "batch", "latency_s",
               "throughput_per_s", "energy_j", "avg_power_w", "area_mm2", "edp_js", "accuracy",
               "fidelity_sqnr_db", "feasible"}


def _print_front(table: pd.DataFrame, objectives: dict[str, str]) -> pd.DataFrame:
    front = _front(table, objectives).sort_values(next(iter(objectives)))
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
    objectives = _objectives(args.minimize, args.maximize)
    front = _print_front(table, objectives)
    if args.csv:
        atomic_write_text(args.csv, front.to_csv(index=False))
    if args.plot:
        names = list(objectives)
        color = names[2] if len(names) > 2 else None
        ok = table[table["status"] == "ok"] if "status" in table else table
        fig = pareto_plot(ok, names[0], names[1], color=color,
                          senses=(objectives[names[0]], objectives[names[1]]))
        save_figure(fig, args.plot)
        print(f"plot -> {args.plot}")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    """Draw one of the DSE plots from a results table."""
    from hwsim.plots import dse

    table = read_results(args.results)
    if "status" in table:
        table = table[table["status"] == "ok"]
    if args.kind == "parallel":
        fig = dse.parallel_coordinates(table, args.columns)
    elif args.kind == "energy":
        fig = dse.energy_breakdown(table.head(args.top), label=args.label)
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
    p.add_argument("--out", required=True, help="results file (.parquet or .csv); resumes")
    p.add_argument("--workers", type=int, default=None, help="local processes (default: cores)")
    p.add_argument("--scheduler", default=None,
                   help="Dask scheduler address, or 'local' for a LocalCluster")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("pareto", help="Pareto front of a results table")
    p.add_argument("results", help="results file from `hwsim sweep`")
    p.add_argument("--minimize", nargs="+", metavar="COL")
    p.add_argument("--maximize", nargs="+", metavar="COL")
    p.add_argument("--plot", metavar="PNG", help="write a Pareto plot")
    p.add_argument("--csv", metavar="FILE", help="write the front as CSV")
    p.set_defaults(func=cmd_pareto)

    p = sub.add_parser("plot", help="draw a plot from a results table")
    p.add_argument("kind", choices=["pareto", "parallel", "energy"])
    p.add_argument("results", help="results file from `hwsim sweep`")
    p.add_argument("--columns", nargs="+", default=["latency_s", "energy_j", "area_mm2"])
    p.add_argument("--label", default="point_id", help="bar label column (energy plot)")
    p.add_argument("--top", type=int, default=10, help="rows shown in the energy plot")
    p.add_argument("--out", required=True, metavar="PNG")
    p.set_defaults(func=cmd_plot)
