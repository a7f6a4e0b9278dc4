"""The ``hwsim`` command line.

Every command validates its input at the boundary; any error prints one line
(``hwsim: error: ...``) and exits with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from hwsim import cli_dse, cli_sim, registry
from hwsim.cli_dse import int_at_least, output_folder, output_path
from hwsim.fileio import atomic_write_text

Command = Callable[[argparse.Namespace], int]


class CliError(Exception):
    """A user error reported as one line."""


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors go through the one-line error path."""

    def error(self, message: str) -> None:  # type: ignore[override]
        command = self.prog.partition(" ")[2]
        raise CliError(f"{command}: {message}" if command else message)


def _cmd_list(args: argparse.Namespace) -> int:
    if args.what == "models":
        for name in registry.models():
            params = ", ".join(f"{k}={v}" for k, v in registry.model_params(name).items())
            print(f"{name:14s} {params}")
    else:
        for family, presets in registry.available_accelerators().items():
            print(f"{family:10s} presets: {', '.join(presets) or '(none)'}")
    return 0


def _cmd_graph(args: argparse.Namespace) -> int:
    graph = registry.build_model(args.model, registry.parse_assignments(args.set))
    table = graph.summary()
    if args.csv:
        atomic_write_text(args.csv, table.to_csv(index=False))
    if not args.quiet:
        cols = ["op", "kind", "out_shape", "macs", "params", "input_bytes", "weight_bytes",
                "output_bytes", "precision"]
        print(table[cols].to_string(index=False))
    totals = graph.totals()
    print(
        f"{graph.name}: {totals['ops']} ops, {totals['macs'] / 1e9:.3f} GMACs, "
        f"{totals['params'] / 1e6:.3f} M params, {totals['weight_bytes'] / 1e6:.2f} MB weights"
    )
    return 0


def load_plan(path: str | None) -> Any:
    """The compression plan in the YAML file ``path`` (None without a path)."""
    from hwsim.validation import load_yaml
    from workloads.compression.plan import CompressionPlan

    if not path:
        return None
    data = load_yaml(cli_dse.read_text(path, "plan"), f"plan {path!r}") or {}
    if not isinstance(data, dict):
        raise CliError(f"plan {path!r} must be a YAML mapping with defaults, layers, drop or "
                       f"channel_prune; got {type(data).__name__}")
    return CompressionPlan.from_dict(data)


def _cmd_compress(args: argparse.Namespace) -> int:
    from workloads.compression.plan import compare_graphs

    graph = registry.build_model(args.model, registry.parse_assignments(args.set))
    plan = load_plan(args.plan)
    compressed = plan.apply(graph)
    table = compare_graphs(graph, compressed)
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.4g}"))
    if args.csv:
        atomic_write_text(args.csv, compressed.summary().to_csv(index=False))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from hwsim.cli_sim import print_report
    from hwsim.demo import run_demo

    print("1/2 ResNet-50 int8 on TPU v1 (discrete-event simulation)")
    result = run_demo(args.out, workers=args.workers)
    print_report(result["report"])
    table, front = result["table"], result["front"]
    print(f"2/2 co-design sweep: digits CNN on systolic arrays, {len(table)} designs, "
          f"{int(table['feasible'].sum())} with accuracy >= 0.9")
    cols = ["rows", "cols", "dataflow", "weight_bits", "weight_sparsity", "latency_s",
            "energy_j", "area_mm2", "accuracy"]
    print(f"Pareto front, energy vs measured accuracy ({len(front)} designs):")
    print(front.sort_values("energy_j")[cols].to_string(
        index=False, float_format=lambda v: f"{v:.4g}"))
    knee = result["knee"]
    print(f"knee: {knee['rows']}x{knee['cols']} {knee['dataflow']}, {knee['weight_bits']}-bit "
          f"weights, sparsity {knee['weight_sparsity']}: accuracy {knee['accuracy']:.3f}, "
          f"energy {knee['energy_j'] * 1e6:.3f} uJ")
    print(f"wrote {args.out}/sweep.csv, {args.out}/pareto.png, {args.out}/resnet50_trace.json")
    return 0


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="zoo model name (see `hwsim list models`)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="model parameter, e.g. --set batch=8 --set seq_len=512")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    parser = _Parser(prog="hwsim", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("list", help="list known models or accelerators")
    p.add_argument("what", choices=["models", "accelerators"])
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("graph", help="print a model's op graph as a table")
    _add_model_args(p)
    p.add_argument("--csv", metavar="FILE", type=output_path, help="write one row per op to FILE")
    p.add_argument("--quiet", action="store_true", help="print only the totals")
    p.set_defaults(func=_cmd_graph)

    p = sub.add_parser("compress", help="apply a compression plan and show what changed")
    _add_model_args(p)
    p.add_argument("--plan", required=True, metavar="PLAN.yaml", help="compression plan (YAML)")
    p.add_argument("--csv", metavar="FILE", type=output_path,
                   help="write the compressed graph's per-op table")
    p.set_defaults(func=_cmd_compress)

    cli_sim.add_commands(sub)
    cli_dse.add_commands(sub)

    p = sub.add_parser("demo", help="the main job on built-in defaults")
    p.add_argument("--out", default="out", type=output_folder,
                   help="folder for result files (default: out)")
    p.add_argument("--workers", type=int_at_least(1), default=None,
                   help="local processes (default: cores)")
    p.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hwsim`` console command."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return int(args.func(args))
    except SystemExit as exc:  # --help and argparse exits
        return int(exc.code or 0)
    except BrokenPipeError:  # the reader (e.g. `| head`) left: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (CliError, ValueError, KeyError, ImportError, OSError) as exc:
        print(f"hwsim: error: {_one_line(_message(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hwsim: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, not a user error: still one line (HWSIM_DEBUG=1 raises)
        import yaml

        if isinstance(exc, yaml.YAMLError):  # YAML read by a model or preset loader
            from hwsim.validation import yaml_error_text

            print(f"hwsim: error: the YAML input {yaml_error_text(exc)}", file=sys.stderr)
            return 2
        if os.environ.get("HWSIM_DEBUG"):
            raise
        print(f"hwsim: internal error: {type(exc).__name__}: {_one_line(str(exc))}",
              file=sys.stderr)
        return 1


def _message(exc: BaseException) -> str:
    """What a user error says: a file error names the file, not a temporary beside it."""
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename!r}" if exc.filename else exc.strerror
    return str(exc) or repr(exc)


def _one_line(text: str) -> str:
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


if __name__ == "__main__":
    sys.exit(main())
