"""A slow sweep run in its own process by the resume-after-kill tests.

Usage: ``python sweep_kill_job.py OUT LOG N SLEEP_S``. Each evaluation appends the
point's id to LOG, sleeps SLEEP_S seconds, and returns metrics computable from the design.
"""

import sys
import time
from functools import partial

import pandas as pd

from hwsim.explore import point_id, run_sweep


def slow_evaluate(log_path, sleep_s, design):
    """Log the point id, wait, and return exact metrics of the design."""
    with open(log_path, "a") as log:
        log.write(point_id(design) + "\n")
    time.sleep(sleep_s)
    return {"square": float(design["x"] ** 2), "half_sum": 0.5 * (design["x"] + design["y"])}


def job_designs(n):
    """The design table the job sweeps: ``x = 0..n-1``, ``y = 3 * x``."""
    return pd.DataFrame({"x": range(n), "y": [3 * i for i in range(n)]})


def main(argv):
    out, log_path, n, sleep_s = argv[1], argv[2], int(argv[3]), float(argv[4])
    run_sweep(partial(slow_evaluate, log_path, sleep_s), job_designs(n), out=out, batch_size=2)


if __name__ == "__main__":
    main(sys.argv)
