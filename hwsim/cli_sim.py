"""CLI commands that run workloads on accelerators: ``simulate``, ``serve``, ``speedup``,
``calibrate``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pandas as pd

from hwsim import registry
from hwsim.accelerator import Report, analytic_report
from hwsim.cli_dse import (
    figure_path,
    finite_number,
    int_at_least,
    output_path,
    positive_ints,
    positive_numbers,
    read_text,
)
from hwsim.fileio import atomic_write_text, save_figure
from hwsim.graph import Graph


def load_accelerator(spec: str, overrides: dict[str, Any] | None = None) -> Any:
    """An accelerator from ``FAMILY[:PRESET]``; PRESET may be a YAML file (e.g. host.yaml)."""
    family, _, preset = spec.partition(":")
    if preset.endswith((".yaml", ".yml")):
        registry.preset_loader(family)
        try:
            return registry.load_preset_file(family, read_text(preset, "preset"), overrides)
        except ValueError as exc:
            raise ValueError(f"preset {preset!r}: {exc}") from exc
    return registry.make_accelerator(family, preset or None, overrides)


def _graph(args: argparse.Namespace) -> Graph:
    from hwsim.cli import load_plan

    if getattr(args, "topology", None):
        from accelerators.systolic import read_topology_csv

        if args.model or args.model_set:
            raise ValueError("--topology is the workload; drop MODEL and --model-set")

        # the newline keeps one-line text from being read as a path
        graph = read_topology_csv(read_text(args.topology, "topology") + "\n",
                                  name=Path(args.topology).stem)
    else:
        if not args.model:
            raise ValueError("name a MODEL or give --topology FILE")
        graph = registry.build_model(args.model, registry.parse_assignments(args.model_set,
                                                                            "--model-set"))
    plan = load_plan(args.plan)
    return plan.apply(graph) if plan else graph


def _accelerator(args: argparse.Namespace) -> Any:
    overrides = registry.parse_assignments(args.set)
    if getattr(args, "mode", None):
        overrides["mode"] = args.mode
    if getattr(args, "scalesim_config", None):
        from accelerators.systolic import read_scalesim_cfg

        if args.preset or args.accelerator != "systolic":
            raise ValueError("--scalesim-config describes the whole (systolic) accelerator; "
                             "drop --preset and --accelerator")

        base = read_scalesim_cfg(read_text(args.scalesim_config, "SCALE-Sim config") + "\n")
        return registry.replace_fields(base, overrides)
    spec = args.accelerator + (f":{args.preset}" if args.preset else "")
    return load_accelerator(spec, overrides)


def print_report(r: Report) -> None:
    """Print a report's totals, one per line, with units."""
    e = r.energy
    print(f"{r.workload} on {r.accelerator}")
    print(f"  latency     {r.latency_s * 1e3:12.4f} ms")
    print(f"  throughput  {r.throughput_per_s:12.2f} inferences/s (batch {r.batch})")
    print(f"  energy      {r.energy_j * 1e3:12.4f} mJ  (compute {e.compute_j * 1e3:.4f}, "
          f"sram {e.sram_j * 1e3:.4f}, dram {e.dram_j * 1e3:.4f}, other {e.other_j * 1e3:.4f}, "
          f"static {e.static_j * 1e3:.4f})")
    print(f"  avg power   {r.avg_power_w:12.3f} W")
    print(f"  area        {r.area_mm2:12.2f} mm2")


def cmd_simulate(args: argparse.Namespace) -> int:
    """Run one inference (or batch) and print the report; optional files."""
    graph = _graph(args)
    acc = _accelerator(args)
    if args.analytic and args.host:
        raise ValueError("--host needs the discrete-event simulator; drop --analytic")
    if args.analytic:
        report = analytic_report(graph, acc)
    else:
        from hwsim.sim import System, simulate

        target = System.with_host(acc, load_accelerator(args.host)) if args.host else acc
        report = simulate(graph, target, overlap=not args.no_overlap)
    print_report(report)
    if args.per_op:
        cols = ["op", "kind", "latency_s", "cycles", "compute_cycles", "stall_cycles", "macs",
                "utilization", "dram_read_bytes", "dram_write_bytes", "energy_j"]
        with pd.option_context("display.max_rows", None, "display.width", 200):
            print(report.per_op[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if args.csv:
        atomic_write_text(args.csv, report.per_op.to_csv(index=False))
    if args.trace:
        from hwsim.sim import to_chrome_trace

        atomic_write_text(args.trace, json.dumps(to_chrome_trace(report)))
    if args.gantt:
        from hwsim.plots import gantt

        save_figure(gantt(report), args.gantt)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve a Poisson request stream with dynamic batching at several offered loads."""
    from hwsim.cli import load_plan
    from hwsim.sim import BatchPolicy, load_sweep, max_throughput_under

    params = registry.parse_assignments(args.model_set, "--model-set")
    plan = load_plan(args.plan)
    if plan:
        plan.validate(registry.build_model(args.model, params))

    def build(batch: int) -> Graph:
        graph = registry.build_model(args.model, {**params, "batch": batch})
        return plan.apply(graph) if plan else graph

    acc = _accelerator(args)
    wait_s = args.max_wait_ms / 1e3
    if not args.rates and args.p99_ms is None:
        raise ValueError("give --rates R1,R2,... and/or --p99-ms BOUND")
    batches = args.max_batch
    if args.rates:
        policy = BatchPolicy(max_batch=batches[0], max_wait_s=wait_s)
        table = load_sweep(build, acc, args.rates, policy=policy,
                           n=args.requests, seed=args.seed, analytic=args.analytic)
        cols = [c for c in ("offered_rate_per_s", "throughput_per_s", "latency_p50_s",
                            "latency_p95_s", "latency_p99_s", "mean_batch") if c in table]
        print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        if args.csv:
            atomic_write_text(args.csv, table.to_csv(index=False))
    if args.p99_ms is not None:
        policies = [BatchPolicy(max_batch=b, max_wait_s=wait_s) for b in batches]
        cap = max_throughput_under(build, acc, args.p99_ms / 1e3, policies=policies,
                                   n=args.requests, seed=args.seed, analytic=args.analytic)
        batch = cap.policy.max_batch if cap.policy else "-"
        print(f"max throughput with p99 <= {args.p99_ms} ms: {cap.throughput_per_s:.1f}/s "
              f"(max_batch {batch})")
    return 0


def cmd_speedup(args: argparse.Namespace) -> int:
    """Latency, throughput and energy of accelerators against a baseline, dense and compressed."""
    from hwsim.cli import load_plan

    params = registry.parse_assignments(args.model_set, "--model-set")
    dense = registry.build_model(args.model, params)
    variants = {"dense": dense}
    plan = load_plan(args.plan)
    if plan:
        variants["compressed"] = plan.apply(dense)
    targets = list(dict.fromkeys([args.baseline, *args.against]))
    rows = []
    for variant, graph in variants.items():
        base = analytic_report(graph, load_accelerator(args.baseline))
        for spec in targets:
            r = base if spec == args.baseline else analytic_report(graph, load_accelerator(spec))
            rows.append({"variant": variant, "accelerator": spec, "latency_s": r.latency_s,
                         "throughput_per_s": r.throughput_per_s, "energy_j": r.energy_j,
                         "speedup": base.latency_s / r.latency_s,
                         "energy_ratio": base.energy_j / r.energy_j})
    table = pd.DataFrame(rows)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if args.csv:
        atomic_write_text(args.csv, table.to_csv(index=False))
    if args.plot:
        from hwsim.plots.dse import speedup_bars

        save_figure(speedup_bars(table, label="accelerator", value="speedup", group="variant"),
                    args.plot)
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Measure this machine and write a CPU preset that --preset FILE accepts."""
    from accelerators.calibrate import calibrate_host, save_preset

    cfg = calibrate_host(quick=args.quick)
    atomic_write_text(args.out, save_preset(cfg))
    print(f"calibrated host -> {args.out}")
    return 0


def _add_target(p: argparse.ArgumentParser) -> None:
    p.add_argument("--accelerator", default="systolic", help="family: systolic, cpu, gpu")
    p.add_argument("--preset", help="preset name (`hwsim list accelerators`) or a YAML file")
    p.add_argument("--set", action="append", metavar="FIELD=VALUE",
                   help="override an accelerator config field, e.g. --set rows=128")
    p.add_argument("--model-set", action="append", metavar="KEY=VALUE",
                   help="model parameter, e.g. --model-set batch=8")


def add_commands(sub: Any) -> None:
    """Register ``simulate``, ``serve``, ``speedup`` and ``calibrate``."""
    p = sub.add_parser("simulate", help="run a model on an accelerator and report")
    p.add_argument("model", nargs="?", help="zoo model (or use --topology)")
    _add_target(p)
    p.add_argument("--plan", metavar="PLAN.yaml", help="compression plan to apply first")
    p.add_argument("--topology", metavar="CSV", help="SCALE-Sim topology file as the workload")
    p.add_argument("--scalesim-config", metavar="CFG", help="SCALE-Sim .cfg as the accelerator")
    p.add_argument("--mode", choices=["realistic", "scalesim"], help="systolic fidelity mode")
    p.add_argument("--analytic", action="store_true", help="sum of op costs, no DES")
    p.add_argument("--host", metavar="FAMILY[:PRESET]",
                   help="a host (e.g. cpu:host.yaml) joined by PCIe; ops the accelerator "
                        "does not support run there")
    p.add_argument("--no-overlap", action="store_true", help="DES without prefetch overlap")
    p.add_argument("--per-op", action="store_true", help="print the per-op table")
    p.add_argument("--csv", metavar="FILE", type=output_path, help="write the per-op table")
    p.add_argument("--trace", metavar="JSON", type=output_path,
                   help="write a Chrome trace (Perfetto)")
    p.add_argument("--gantt", metavar="PNG", type=figure_path,
                   help="write a Gantt chart of the timeline")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("serve", help="serve a request stream: load/latency table")
    p.add_argument("model")
    _add_target(p)
    p.add_argument("--plan", metavar="PLAN.yaml", help="compression plan to apply first")
    p.add_argument("--rates", type=positive_numbers,
                   help="offered loads, requests/s, comma-separated")
    p.add_argument("--p99-ms", type=finite_number(positive=True),
                   help="find the largest throughput within this p99")
    p.add_argument("--max-batch", type=positive_ints, default=[8],
                   help="max batch size(s), comma-separated (default: 8)")
    p.add_argument("--max-wait-ms", type=finite_number(positive=False), default=2.0,
                   help="batching window")
    p.add_argument("--requests", type=int_at_least(1), default=2000,
                   help="requests per load point")
    p.add_argument("--seed", type=int_at_least(0), default=0)
    p.add_argument("--analytic", action="store_true", help="cost batches without the DES")
    p.add_argument("--csv", metavar="FILE", type=output_path, help="write the load table")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("speedup", help="speedup table of accelerators against a baseline")
    p.add_argument("model")
    p.add_argument("--baseline", required=True, help="FAMILY[:PRESET], e.g. cpu:host.yaml")
    p.add_argument("--against", nargs="+", required=True, help="FAMILY[:PRESET] ...")
    p.add_argument("--plan", metavar="PLAN.yaml", help="also compare the compressed model")
    p.add_argument("--model-set", action="append", metavar="KEY=VALUE")
    p.add_argument("--csv", metavar="FILE", type=output_path)
    p.add_argument("--plot", metavar="PNG", type=figure_path, help="write a speedup bar chart")
    p.set_defaults(func=cmd_speedup)

    p = sub.add_parser("calibrate", help="measure this machine into a preset")
    p.add_argument("target", choices=["cpu"])
    p.add_argument("--out", required=True, metavar="YAML", type=output_path)
    p.add_argument("--quick", action="store_true", help="shorter micro-benchmarks")
    p.set_defaults(func=cmd_calibrate)
