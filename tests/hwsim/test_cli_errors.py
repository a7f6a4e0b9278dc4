"""The command line's input contract: any bad input gets one line naming the field, the value
and what is allowed, a non-zero exit and no traceback."""

import subprocess
import sys

import pytest

from hwsim.cli import main

_SWEEP = ("problem: {workload: mlp, accelerator: systolic, preset: edge-tpu, quality: none}\n"
          "space: {parameters: {rows: {values: [8, 16]}}}\n")
_RESULTS = ("point_id,rows,latency_s,energy_j,status,error\n"
            "a,8,1e-3,2e-3,ok,\nb,16,fast,1e-3,ok,\n")

#: (files to create: name -> text, argv, text the one error line must hold)
CASES = [
    ({"p.yaml": "defaults: [1,\n"}, ["compress", "mlp", "--plan", "p.yaml"],
     "plan 'p.yaml' is not valid YAML at line 2, column 1"),
    ({"p.yaml": "- 1\n"}, ["compress", "mlp", "--plan", "p.yaml"],
     "plan 'p.yaml' must be a YAML mapping with defaults, layers, drop or channel_prune"),
    ({}, ["compress", "mlp", "--plan", "."], "cannot read plan '.': Is a directory"),
    ({}, ["graph", "mlp", "--csv", "."],
     "graph: argument --csv: must be a file path, got '.', which is a folder"),
    ({"f.txt": "x"}, ["graph", "mlp", "--csv", "f.txt/g.csv"], "cannot write 'f.txt/g.csv'"),
    ({"t.csv": ""}, ["simulate", "--topology", "t.csv"], "line 1: the topology needs a header"),
    ({"t.csv": ""}, ["simulate", "mlp", "--topology", "t.csv"],
     "--topology is the workload; drop MODEL and --model-set"),
    ({"s.cfg": ""}, ["simulate", "mlp", "--scalesim-config", "s.cfg", "--preset", "tpu-v1"],
     "--scalesim-config describes the whole (systolic) accelerator; drop --preset"),
    ({}, ["simulate", "mlp", "--gantt", "g.foo"],
     "argument --gantt: image format 'foo' of 'g.foo' is not supported; use one of"),
    ({"h.yaml": "cores: [1,\n"}, ["simulate", "mlp", "--host", "cpu:h.yaml"],
     "preset 'h.yaml': CPU preset is not valid YAML at line 2"),
    ({}, ["simulate", "mlp", "--host", "gpu:h.yaml"], "accelerator 'gpu' has no YAML presets"),
    ({}, ["serve", "mlp", "--rates", "100", "--max-batch", "1.5"],
     "argument --max-batch: must be comma-separated integers >= 1, got '1.5'"),
    ({}, ["serve", "mlp", "--p99-ms", "0"],
     "argument --p99-ms: must be a finite number > 0, got '0'"),
    ({}, ["serve", "mlp", "--rates", "10,inf"],
     "argument --rates: must be comma-separated finite numbers > 0, got '10,inf'"),
    ({}, ["serve", "mlp", "--rates", "10", "--seed", "-1"],
     "argument --seed: must be an integer >= 0, got '-1'"),
    ({}, ["calibrate", "cpu", "--out", "."], "argument --out: must be a file path"),
    ({"s.yaml": _SWEEP}, ["sweep", "s.yaml", "--out", "r.txt"],
     "argument --out: must end in .csv (a file) or .parquet (a folder of parts), got 'r.txt'"),
    ({"s.yaml": _SWEEP}, ["sweep", "s.yaml", "--out", "r.csv", "--workers", "0"],
     "argument --workers: must be an integer >= 1, got '0'"),
    ({"s.yaml": "problem: {workload: mlp\n"}, ["sweep", "s.yaml", "--out", "r.csv"],
     "sweep config is not valid YAML at line 2, column 1"),
    ({"s.yaml": ""}, ["sweep", "s.yaml", "--out", "r.csv"], "sweep config: 'problem' is required"),
    ({"s.yaml": _SWEEP.replace("quality: none", "quality: none, workload_params: {hue: 1}")},
     ["sweep", "s.yaml", "--out", "r.csv"], "unknown parameter 'hue' for model mlp; allowed:"),
    ({"s.yaml": _SWEEP.replace("quality: none", "quality: none, limits: {area: 9}")},
     ["sweep", "s.yaml", "--out", "r.csv"], "limits: unknown metric 'area'; allowed: latency_s"),
    ({"s.yaml": _SWEEP.replace("quality: none", "quality: none, limits: {area_mm2: big}")},
     ["sweep", "s.yaml", "--out", "r.csv"], "limits.area_mm2 must be a finite number, got 'big'"),
    ({"s.yaml": _SWEEP.replace("quality: none", "quality: none, plan: [1]")},
     ["sweep", "s.yaml", "--out", "r.csv"], "plan must be a mapping (a compression plan)"),
    ({"s.yaml": _SWEEP + "sample: {method: random, n: 1.5}\n"},
     ["sweep", "s.yaml", "--out", "r.csv"], "sample.n must be an integer >= 1, got 1.5"),
    ({"s.yaml": _SWEEP + "objectives: {latency_s: min, accuracy: max}\n"},
     ["sweep", "s.yaml", "--out", "r.csv"], "objectives: unknown metric 'accuracy'; allowed:"),
    ({"s.yaml": _SWEEP.replace("[8, 16]", "[8, abc]")}, ["sweep", "s.yaml", "--out", "r.csv"],
     "parameter 'rows': value 'abc' is not allowed: rows must be an integer >= 1"),
    ({"s.yaml": _SWEEP.replace("}}}", "}}, constraints: ['rows > 99']}")},
     ["sweep", "s.yaml", "--out", "r.csv", "--workers", "1"],
     "the sample holds no design points"),
    ({"r.csv": "point_id,latency_s,energy_j,status,error\n"},
     ["pareto", "r.csv", "--minimize", "latency_s", "energy_j"], "results 'r.csv' hold no rows"),
    ({"r.csv": _RESULTS}, ["pareto", "r.csv", "--minimize", "latency_s", "energy_j"],
     "objective 'latency_s' must hold numbers, got 'fast'"),
    ({"r.csv": _RESULTS}, ["pareto", "r.csv", "--minimize", "energy_j", "--maximize", "energy_j"],
     "objective 'energy_j' is both minimised and maximised"),
    ({"r.csv": _RESULTS}, ["plot", "pareto", "r.csv", "--columns", "energy_j", "--out", "p.png"],
     "--columns takes X Y [COLOUR], got 1 columns: energy_j"),
    ({"r.csv": _RESULTS}, ["plot", "energy", "r.csv", "--top", "0", "--out", "p.png"],
     "argument --top: must be an integer >= 1, got '0'"),
    ({"r.csv": _RESULTS}, ["plot", "parallel", "r.csv", "--columns", "rows", "latency_s",
                           "--out", "p.png"],
     "column 'latency_s' must hold numbers to be plotted, got 'fast'"),
    ({"r.csv": _RESULTS}, ["plot", "energy", "r.csv", "--out", "p.png"],
     "none of the energy columns ['energy_compute_j'"),
    ({"r.csv": _RESULTS}, ["pareto", "./r.csv", "--minimize", "rows", "energy_j", "--csv",
                           "r.csv"], "--csv 'r.csv' would overwrite the results it reads"),
    ({"s.yaml": _SWEEP}, ["sweep", "s.yaml", "--out", "r.csv", "--scheduler", "nowhere"],
     "--scheduler 'nowhere': "),
    ({"o.txt": ""}, ["demo", "--out", "o.txt"],
     "argument --out: must be a folder, got 'o.txt', which is a file"),
]


@pytest.mark.parametrize(("files", "argv", "needle"), CASES)
def test_bad_input_is_one_line(tmp_path, monkeypatch, capsys, files, argv, needle):
    """Each bad input exits 2 with one `hwsim: error:` line that says what is wrong."""
    monkeypatch.chdir(tmp_path)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("hwsim: error: ")
    assert len(err.strip().splitlines()) == 1
    assert needle in err


def test_every_command_has_help(capsys):
    """--help works on every sub-command and exits 0."""
    for command in ("list", "graph", "compress", "simulate", "serve", "speedup", "calibrate",
                    "sweep", "pareto", "plot", "demo"):
        assert main([command, "--help"]) == 0
        assert "usage: hwsim " + command in capsys.readouterr().out


def test_a_bug_is_still_one_line(monkeypatch, capsys):
    """An unexpected exception prints one `internal error` line and exits 1."""
    from hwsim import registry

    def broken(*_args, **_kwargs):
        raise RuntimeError("first line\nsecond line")

    monkeypatch.setattr(registry, "build_model", broken)
    assert main(["graph", "mlp"]) == 1
    err = capsys.readouterr().err
    assert err == "hwsim: internal error: RuntimeError: first line; second line\n"


_AS_PROGRAM = ("plan 'p.yaml' is not valid YAML", "argument --p99-ms",
               "sweep config is not valid YAML", "--columns takes X Y")


@pytest.mark.parametrize(
    ("files", "argv", "needle"),
    [case for case in CASES if case[2].startswith(_AS_PROGRAM)],
)
def test_console_errors_have_no_traceback(tmp_path, files, argv, needle):
    """Run as a program, bad input gives exit 2 and exactly one stderr line."""
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    r = subprocess.run([sys.executable, "-m", "hwsim.cli", *argv], capture_output=True,
                       text=True, cwd=tmp_path, timeout=300)
    assert r.returncode == 2
    assert r.stderr.splitlines() == [r.stderr.strip()]
    assert needle in r.stderr
