"""Llama-2-7B decode (fp16, batch 1, 512 cached tokens) on the CPU and GPU presets, against
the bound of reading every weight once per token at the DRAM bandwidth.

Prints the table in docs/cpu_gpu_models.md. Run: python experiments/decode_bound.py
"""

from hwsim import registry
from hwsim.accelerator import analytic_report
from workloads.compression.plan import CompressionPlan

FP16 = CompressionPlan.from_dict({"defaults": {"format": "fp16"}})


def main() -> None:
    graph = FP16.apply(registry.build_model(
        "llama", {"mode": "decode", "seq_len": 1, "kv_len": 512}))
    weights = sum(op.weight_read_bytes for op in graph.ops if op.weight_shape)
    print(f"Llama-2-7B decode, fp16: {weights / 1e9:.2f} GB of weights per token")
    print(f"{'preset':12s} {'per token':>10s} {'weight products':>16s} {'bound':>9s}")
    for family, preset, bw_field in (("gpu", "a100-80gb", "hbm_bw_bytes_per_s"),
                                     ("gpu", "h100", "hbm_bw_bytes_per_s"),
                                     ("cpu", "xeon-8480", "dram_bw_bytes_per_s"),
                                     ("cpu", "xeon-8380", "dram_bw_bytes_per_s")):
        acc = registry.make_accelerator(family, preset)
        report = analytic_report(graph, acc)
        ops = report.per_op.set_index("op")
        products = sum(ops.loc[op.name, "latency_s"] for op in graph.ops
                       if op.weight_shape and op.macs)
        bound = weights / getattr(acc, bw_field)  # data-sheet peak bandwidth
        print(f"{preset:12s} {report.latency_s * 1e3:8.1f} ms {products * 1e3:13.1f} ms "
              f"{bound * 1e3:6.1f} ms")


if __name__ == "__main__":
    main()
