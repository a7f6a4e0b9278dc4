"""simulate, serve, speedup, sweep, pareto and demo commands, run as subprocesses."""

import json
import subprocess
import sys

import pandas as pd
import pytest


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "hwsim.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=600)


def test_simulate_systolic_writes_per_op_csv_and_trace(tmp_path):
    """`hwsim simulate resnet18 --accelerator systolic --preset tpu-v1` reports and writes files."""
    csv, trace = tmp_path / "ops.csv", tmp_path / "t.json"
    r = run("simulate", "resnet18", "--accelerator", "systolic", "--preset", "tpu-v1",
            "--set", "rows=128", "--csv", str(csv), "--trace", str(trace))
    assert r.returncode == 0, r.stderr
    for word in ("latency", "throughput", "energy", "avg power", "area"):
        assert word in r.stdout
    ops = pd.read_csv(csv)
    for col in ("op", "cycles", "compute_cycles", "stall_cycles", "macs", "utilization",
                "sram_read_bytes", "dram_read_bytes", "dram_write_bytes", "energy_j"):
        assert col in ops.columns
    assert len(ops) == 70
    events = json.loads(trace.read_text())["traceEvents"]
    assert any(e.get("ph") == "X" for e in events)


def test_simulate_analytic_equals_no_overlap_des():
    """With one op at a time and no overlap the DES total equals the analytic sum."""
    a = run("simulate", "mlp", "--accelerator", "systolic", "--preset", "edge-tpu", "--analytic")
    d = run("simulate", "mlp", "--accelerator", "systolic", "--preset", "edge-tpu",
            "--no-overlap")
    line = [ln for ln in a.stdout.splitlines() if "latency" in ln]
    assert line == [ln for ln in d.stdout.splitlines() if "latency" in ln]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["simulate", "mlp", "--accelerator", "tpu"], "unknown accelerator 'tpu'"),
        (["simulate", "mlp", "--accelerator", "systolic", "--preset", "tpu-v9"],
         "unknown systolic preset 'tpu-v9'"),
        (["simulate", "mlp", "--accelerator", "systolic", "--set", "rows=0"], "rows"),
        (["simulate", "mlp", "--accelerator", "systolic", "--set", "rowz=4"],
         "unknown field 'rowz'"),
        (["simulate", "mlp", "--accelerator", "cpu", "--preset", "missing.yaml"],
         "cannot read preset 'missing.yaml'"),
        (["serve", "mlp", "--accelerator", "systolic", "--rates", "abc"],
         "argument --rates: must be comma-separated finite numbers > 0"),
    ],
)
def test_simulate_errors_are_one_line(args, needle):
    """Bad accelerator input prints one line naming the problem, no traceback."""
    r = run(*args)
    assert r.returncode != 0
    assert needle in r.stderr
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_serve_prints_load_table():
    """`hwsim serve` prints a latency table per offered load."""
    r = run("serve", "mlp", "--accelerator", "systolic", "--preset", "edge-tpu",
            "--rates", "1000,20000", "--requests", "300", "--max-batch", "8")
    assert r.returncode == 0, r.stderr
    header, *rates = r.stdout.splitlines()
    assert header.split()[:2] == ["offered_rate_per_s", "throughput_per_s"]
    assert "latency_p99_s" in header
    assert [float(line.split()[0]) for line in rates] == [1000.0, 20000.0]


def test_speedup_table(tmp_path):
    """`hwsim speedup` compares accelerators to a baseline for dense and compressed models."""
    plan = tmp_path / "plan.yaml"
    plan.write_text("defaults: {weight_bits: 8, act_bits: 8}\n")
    r = run("speedup", "resnet18", "--baseline", "cpu", "--against", "gpu:a100-80gb",
            "systolic:tpu-v1", "--plan", str(plan))
    assert r.returncode == 0, r.stderr
    assert "compressed" in r.stdout
    assert "systolic:tpu-v1" in r.stdout


def test_sweep_then_pareto(tmp_path):
    """`hwsim sweep` writes results; `hwsim pareto` prints and plots the front."""
    cfg = tmp_path / "sweep.yaml"
    cfg.write_text(
        "problem: {workload: mlp, accelerator: systolic, preset: edge-tpu, quality: proxy}\n"
        "space:\n  parameters:\n    rows: {values: [8, 32]}\n    cols: {values: [8, 32]}\n"
        "    weight_bits: {values: [4, 8]}\n"
        "objectives: {latency_s: min, energy_j: min, fidelity_sqnr_db: max}\n")
    out = tmp_path / "res.csv"
    r = run("sweep", str(cfg), "--out", str(out), "--workers", "1")
    assert r.returncode == 0, r.stderr
    assert len(pd.read_csv(out)) == 8
    png = tmp_path / "front.png"
    r = run("pareto", str(out), "--minimize", "latency_s", "energy_j", "--maximize",
            "fidelity_sqnr_db", "--plot", str(png))
    assert r.returncode == 0, r.stderr
    assert "Pareto front" in r.stdout
    assert png.read_bytes()[:4] == b"\x89PNG"
    r = run("pareto", str(out), "--minimize", "latency_s", "--maximize", "accuracy")
    assert r.returncode == 2
    assert "objective 'accuracy' is not a column" in r.stderr


@pytest.mark.slow
def test_demo_writes_results_and_plot(tmp_path):
    """The main job simulates ResNet-50 and writes the sweep, its Pareto plot and a trace."""
    pytest.importorskip("sklearn")
    r = run("demo", "--out", str(tmp_path), "--workers", "1")
    assert r.returncode == 0, r.stderr
    assert "Pareto front" in r.stdout
    table = pd.read_csv(tmp_path / "sweep.csv")
    assert len(table) == 384
    assert table["accuracy"].max() >= 0.95
    assert (tmp_path / "pareto.png").exists()
    assert (tmp_path / "resnet50_trace.json").exists()


def test_simulate_with_cpu_host_fallback(tmp_path):
    """Op kinds the array does not run fall back to the CPU model over PCIe."""
    csv = tmp_path / "ops.csv"
    r = run("simulate", "bert_base", "--model-set", "seq_len=32", "--accelerator", "systolic",
            "--preset", "tpu-v1", "--set", "host_kinds=embedding,softmax",
            "--host", "cpu:xeon-8380", "--csv", str(csv))
    assert r.returncode == 0, r.stderr
    ops = pd.read_csv(csv)
    host = ops[ops["engine"].str.startswith("xeon-8380")]
    assert set(host["kind"]) == {"embedding", "softmax"}
    assert len(host) == 3 + 12
    bad = run("simulate", "mlp", "--accelerator", "systolic", "--set", "host_kinds=conv3d")
    assert "host_kinds entry must be one of" in bad.stderr
