"""TPU v1's MLP0 under a 7 ms p99 bound, against the published figure.

Jouppi et al., "In-Datacenter Performance Analysis of a Tensor Processing Unit" (ISCA 2017),
Table 4: MLP0 (5 fully connected layers, 20 M int8 weights) served 225,000 inferences/s at
batch 200 within its 7 ms 99th-percentile latency limit. The layer widths are not published;
hwsim uses five 2000-wide layers (20.0 M weights). Run: python experiments/tpu_v1_mlp0.py
"""

from hwsim import registry
from hwsim.sim import BatchPolicy, max_throughput_under
from workloads.compression.plan import CompressionPlan

PUBLISHED_IPS = 225_000
INT8 = CompressionPlan.from_dict({"defaults": {"weight_bits": 8, "act_bits": 8}})


def mlp0(batch: int):
    """MLP0-like: 5 layers of 2000 units, int8."""
    return INT8.apply(registry.build_model("mlp", {"batch": batch, "in_features": 2000,
                                                   "hidden": 2000, "depth": 4,
                                                   "out_features": 2000}))


def main() -> None:
    tpu = registry.make_accelerator("systolic", "tpu-v1")
    print(f"MLP0 weights: {mlp0(1).params / 1e6:.1f} M")
    for batches in ((200,), (16, 64, 128, 200, 256)):
        policies = [BatchPolicy(max_batch=b, max_wait_s=2e-3) for b in batches]
        for analytic in (True, False):
            cap = max_throughput_under(mlp0, tpu, 7e-3, policies=policies, n=4000, seed=0,
                                       analytic=analytic)
            err = cap.throughput_per_s / PUBLISHED_IPS - 1
            path = "analytic" if analytic else "DES"
            print(f"max_batch in {batches}, {path:8s}: {cap.throughput_per_s:8.0f} IPS at "
                  f"p99 <= 7 ms (best max_batch "
                  f"{cap.policy.max_batch if cap.policy else '-'}); published {PUBLISHED_IPS} "
                  f"at batch 200; error {err:+.1%}")


if __name__ == "__main__":
    main()
