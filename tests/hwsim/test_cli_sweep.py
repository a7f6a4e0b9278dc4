"""`hwsim sweep` stopped mid-run and started again: no result lost, none duplicated, no
worker left behind."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

CONFIG = """
problem: {workload: resnet18, accelerator: systolic, preset: edge-tpu, quality: proxy}
space:
  parameters:
    rows: {values: [8, 16]}
    weight_sparsity: {low: 0.0, high: 0.9}
sample: {method: random, n: 8, seed: 0}
"""


def sweep(cfg, out):
    return [sys.executable, "-m", "hwsim.cli", "sweep", str(cfg), "--out", str(out),
            "--workers", "2"]


def stored(out):
    """Every stored row, duplicates included."""
    if out.suffix == ".csv":
        return pd.read_csv(out) if out.exists() else pd.DataFrame()
    parts = sorted(out.glob("part-*.parquet"))
    return pd.concat([pd.read_parquet(p) for p in parts]) if parts else pd.DataFrame()


def children(pid):
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def alive(pid):
    """True while ``pid`` runs (a zombie waiting to be reaped counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def gone(pid, timeout_s=10.0):
    """True once ``pid`` has ended, waiting up to ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize(("suffix", "sig"), [(".csv", signal.SIGKILL),
                                             (".parquet", signal.SIGINT)])
def test_interrupted_sweep_resumes_exactly_once(tmp_path, suffix, sig):
    """After SIGKILL or Ctrl-C a rerun stores every point once; killed workers exit too."""
    cfg, out = tmp_path / "sweep.yaml", tmp_path / f"res{suffix}"
    cfg.write_text(CONFIG)
    job = subprocess.Popen(sweep(cfg, out), stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(stored(out)) == 0 and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    workers = children(job.pid)
    job.send_signal(sig)
    job.wait(timeout=120)
    assert job.returncode == (-signal.SIGKILL if sig == signal.SIGKILL else 130)
    first = stored(out)
    assert 0 < len(first) < 8
    assert workers
    assert all(gone(w) for w in workers)
    r = subprocess.run(sweep(cfg, out), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "8 points, 8 ok" in r.stdout
    rows = stored(out)
    assert rows["point_id"].is_unique
    assert len(rows) == 8
    assert set(first["point_id"]) <= set(rows["point_id"])
    assert not list(tmp_path.rglob("*.tmp"))
