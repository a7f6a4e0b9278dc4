"""The command line, run as a subprocess: happy paths and one-line errors."""

import subprocess
import sys

import pandas as pd
import pytest


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "hwsim.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def test_graph_prints_totals_matching_published():
    """`hwsim graph resnet50` prints a per-op table and the published totals."""
    r = run("graph", "resnet50")
    assert r.returncode == 0, r.stderr
    assert "layer4.2.conv3" in r.stdout
    assert "4.089 GMACs, 25.557 M params" in r.stdout


def test_graph_csv_has_required_columns(tmp_path):
    """--csv writes one row per op with the documented columns."""
    out = tmp_path / "g.csv"
    r = run("graph", "bert_base", "--set", "seq_len=64", "--csv", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    df = pd.read_csv(out)
    for col in ["op", "kind", "macs", "params", "input_bytes", "weight_bytes", "output_bytes"]:
        assert col in df.columns
    assert df["params"].sum() == 108_891_648


def test_list_models():
    """`hwsim list models` names every zoo model."""
    r = run("list", "models")
    assert r.returncode == 0
    for name in ["resnet18", "resnet50", "mobilenet_v2", "vgg16", "alexnet", "mlp",
                 "bert_base", "gpt2", "llama"]:
        assert name in r.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["graph", "resnet5"], "unknown model 'resnet5'"),
        (["graph", "bert_base", "--set", "foo=1"], "unknown parameter 'foo'"),
        (["graph", "bert_base", "--set", "seq_len"], "--set expects KEY=VALUE"),
        (["graph", "gpt2", "--set", "batch=0"], "batch must be an integer >= 1"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_errors_are_one_line_without_traceback(args, needle):
    """Bad input prints one clear line on stderr and exits non-zero."""
    r = run(*args)
    assert r.returncode != 0
    assert needle in r.stderr
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("cmd", [[], ["graph"], ["list"]])
def test_help_on_every_command(cmd):
    """--help works on the program and on each command."""
    r = run(*cmd, "--help")
    assert r.returncode == 0
    assert "usage:" in r.stdout


def test_compress_prints_changes(tmp_path):
    """`hwsim compress` prints before/after totals for a plan."""
    plan = tmp_path / "plan.yaml"
    plan.write_text("defaults: {weight_bits: 4, act_bits: 8}\ndrop: [layer4.1]\n")
    r = run("compress", "resnet18", "--plan", str(plan))
    assert r.returncode == 0, r.stderr
    assert "weight_bytes" in r.stdout
    assert "macs" in r.stdout


def test_compress_bad_plan_is_one_line(tmp_path):
    """A plan with out-of-range bits gets one clear line."""
    plan = tmp_path / "plan.yaml"
    plan.write_text("defaults: {weight_bits: 64}\n")
    r = run("compress", "mlp", "--plan", str(plan))
    assert r.returncode == 2
    assert "weight_bits must be an integer in 1..32, got 64" in r.stderr
    assert "Traceback" not in r.stderr
