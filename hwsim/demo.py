"""The main job on built-in defaults: one real simulation and a small co-design sweep.

1. ResNet-50, int8, on the TPU v1 preset through the discrete-event simulator.
2. The digits CNN (trained here, accuracy measured on held-out data) on the systolic family:
   array rows x cols x dataflow x weight bits x weight sparsity, one row per design, then the
   Pareto front of energy against measured accuracy, written as CSV and PNG.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

DEMO_SWEEP: dict[str, Any] = {
    "problem": {
        "workload": "digits_cnn",
        "accelerator": "systolic",
        "preset": "edge-tpu",
        "plan": {"defaults": {"act_bits": 8, "format": "int"}},
        "quality": "accuracy",
        "limits": {"accuracy": 0.9},
    },
    "space": {
        "parameters": {
            "rows": {"values": [8, 16, 32, 64]},
            "cols": {"values": [8, 16, 32, 64]},
            "dataflow": {"values": ["os", "ws"]},
            "weight_bits": {"values": [2, 3, 4, 8]},
            "weight_sparsity": {"values": [0.0, 0.5, 0.7]},
        },
    },
    "sample": {"method": "grid"},
    "objectives": {"energy_j": "min", "accuracy": "max", "latency_s": "min"},
}


def run_demo(out: str | Path, *, workers: int | None = None) -> dict[str, Any]:
    """Run both steps, write ``sweep.csv``, ``pareto.png`` and ``resnet50_trace.json`` under
    ``out`` and return the simulation report, the results table and the front."""
    import json

    from hwsim import registry
    from hwsim.cli_dse import ProgressBar
    from hwsim.explore import ProcessExecutor, SerialExecutor, knee_point, pareto_front
    from hwsim.fileio import atomic_write_text, save_figure
    from hwsim.plots.dse import pareto_plot
    from hwsim.sim import simulate, to_chrome_trace
    from hwsim.sweepconfig import SweepConfig
    from workloads.compression.plan import CompressionPlan

    folder = Path(out)
    graph = CompressionPlan.from_dict({"defaults": {"weight_bits": 8, "act_bits": 8}}).apply(
        registry.build_model("resnet50"))
    report = simulate(graph, registry.make_accelerator("systolic", "tpu-v1"))
    atomic_write_text(folder / "resnet50_trace.json", json.dumps(to_chrome_trace(report)))
    cfg = SweepConfig.from_dict(DEMO_SWEEP)
    executor = SerialExecutor() if workers == 1 else ProcessExecutor(workers=workers)
    with executor as ex:
        table = cfg.run(executor=ex, out=str(folder / "sweep.csv"), progress=ProgressBar())
    ok = table[(table["status"] == "ok") & table["feasible"].astype(bool)]
    front = pareto_front(ok, minimize=["energy_j"], maximize=["accuracy"])
    knee = ok.loc[[knee_point(ok, minimize=["energy_j"], maximize=["accuracy"])]].iloc[0]
    fig = pareto_plot(table[table["status"] == "ok"], "energy_j", "accuracy",
                      color="latency_s", senses=("min", "max"))
    fig.axes[0].set_yscale("linear")
    save_figure(fig, folder / "pareto.png")
    return {"report": report, "table": table, "front": front, "knee": knee}
