"""Validate the GPU model against published measurements and print the error table.

Sources (all measured on real hardware, none used to set a model parameter):

- LLMCompass artifact (Zhang et al., ISCA 2024), repository PrincetonUniversity/LLMCompass,
  ae/figure5/*/real_hardware/*_A100.csv: fp16 PyTorch ops on an A100 80GB SXM, each the
  median of synchronous calls (``torch.cuda.synchronize`` around every call). The host side
  of such a call is part of every figure; LLMCompass's own model adds 21 us per matmul
  (ae/figure5/ab/test_matmul.py). We set ``host_overhead_s`` to that value for products, and
  for each memory-bound series to its smallest case minus the model's kernel time there.
- MLPerf Inference v3.0, closed division, NVIDIA submission (mlcommons/inference_results_v3.0):
  ResNet-50 Offline on DGX-A100 (8x A100-SXM-80GB), 324,612 samples/s, and on DGX-H100 (8x
  H100-SXM-80GB), 727,437 samples/s; divided by 8 per GPU. TensorRT int8, batch 2048
  (configs/resnet50/Offline), conv-bn-relu fused: modelled with ``fuse_epilogues``.
- pytorch/benchmark commit ff65cb6 (PR 2391): Triton FlashAttention-2 tutorial kernel,
  forward, fp16, 16 heads of 128, H100, TFLOP/s as 4 * batch * heads * seq^2 * 128 / time.

Run: ``python experiments/validate_gpu.py``.
"""

from __future__ import annotations

import dataclasses
import math
import statistics

from accelerators.gpu import A100_80GB_SXM, H100_SXM, GPUConfig, fused_attention_cost
from hwsim.accelerator import analytic_report
from hwsim.graph import Op, OpKind, Precision
from workloads.zoo import resnet50

FP16 = Precision.of("fp16")
#: LLMCompass matmul_A100.csv: (M, N, K, milliseconds).
GEMMS_MS = [
    (64, 12288, 12288, 0.1900), (128, 12288, 12288, 0.2003), (256, 12288, 12288, 0.3185),
    (512, 12288, 12288, 0.6118), (1024, 12288, 12288, 1.1990), (2048, 12288, 12288, 2.3586),
    (4096, 12288, 12288, 4.4576), (8192, 12288, 12288, 8.6216),
    (16384, 12288, 12288, 17.0307), (32768, 12288, 12288, 35.4407),
    (8192, 64, 64, 0.0296), (8192, 128, 128, 0.0310), (8192, 256, 256, 0.0356),
    (8192, 512, 512, 0.0471), (8192, 1024, 1024, 0.0927), (8192, 2048, 2048, 0.2818),
    (8192, 4096, 4096, 1.0210), (8192, 8192, 8192, 3.9614), (8192, 16384, 16384, 15.0087),
    (8192, 32768, 32768, 61.1346),
]
LLMCOMPASS_MATMUL_HOST_S = 21e-6
#: LLMCompass {gelu,layernorm,softmax}_A100.csv: shape -> G elements per second. The first
#: entry of each series is its smallest case (it sets the series' host overhead).
STREAMS = {
    "gelu": [((1024,), 0.021262), ((2**24,), 210.370), ((2**28,), 379.538),
             ((2**29,), 390.328)],
    "layernorm": [((32, 4096), 2.49889), ((8192, 4096), 284.894), ((4096, 8192), 265.292),
                  ((32768, 4096), 385.846)],
    "softmax": [((32, 4096), 8.45778), ((8192, 4096), 229.963), ((4096, 32768), 240.886),
                ((32768, 4096), 278.826)],
}
#: MLPerf v3.0 ResNet-50 Offline samples/s per GPU.
MLPERF_RESNET50 = [(A100_80GB_SXM, 324612 / 8), (H100_SXM, 727437 / 8)]
MLPERF_BATCH = 2048
#: Triton FlashAttention-2 on H100: (batch, seq, TFLOP/s), 16 heads of 128.
FLASH_TFLOPS = [(32, 512, 328.882), (4, 4096, 458.359), (1, 16384, 476.753)]


def matmul(m: int, k: int, n: int, g: int = 1) -> Op:
    """An fp16 product of two activations, batched when ``g > 1``."""
    lead = (g,) if g > 1 else ()
    return Op(name="mm", kind=OpKind.MATMUL, inputs=("a", "b"),
              in_shapes=((*lead, m, k), (*lead, k, n)), out_shape=(*lead, m, n), precision=FP16)


def stream_op(kind: str, shape: tuple[int, ...]) -> Op:
    """The fp16 gelu, layer norm or softmax op of a LLMCompass case."""
    if kind == "gelu":
        return Op(name=kind, kind=OpKind.ELEMENTWISE, inputs=("x",), in_shapes=(shape,),
                  out_shape=shape, func="gelu", precision=FP16)
    if kind == "layernorm":
        return Op(name=kind, kind=OpKind.NORM, inputs=("x",), in_shapes=(shape,),
                  out_shape=shape, func="layernorm", weight_shape=(2, shape[-1]),
                  precision=FP16)
    return Op(name=kind, kind=OpKind.SOFTMAX, inputs=("x",), in_shapes=(shape,),
              out_shape=shape, precision=FP16)


def gemm_rows() -> list[tuple[str, str, float, float]]:
    """LLMCompass products: (source, case, measured s, predicted s)."""
    gpu = dataclasses.replace(A100_80GB_SXM, host_overhead_s=LLMCOMPASS_MATMUL_HOST_S)
    return [("LLMCompass A100", f"matmul M={m} N={n} K={k}", ms * 1e-3,
             gpu.op_cost(matmul(m, k, n)).latency_s) for m, n, k, ms in GEMMS_MS]


def stream_rows() -> list[tuple[str, str, float, float]]:
    """LLMCompass memory-bound series, host overhead set from each series' smallest case."""
    rows = []
    for kind, series in STREAMS.items():
        (shape0, rate0), *rest = series
        kernel0 = A100_80GB_SXM.op_cost(stream_op(kind, shape0)).latency_s
        host_s = max(0.0, math.prod(shape0) / (rate0 * 1e9) - kernel0)
        gpu = dataclasses.replace(A100_80GB_SXM, host_overhead_s=host_s)
        for shape, rate in rest:
            measured = math.prod(shape) / (rate * 1e9)
            rows.append(("LLMCompass A100", f"{kind} {'x'.join(map(str, shape))}", measured,
                         gpu.op_cost(stream_op(kind, shape)).latency_s))
    return rows


def mlperf_rows() -> list[tuple[str, str, float, float]]:
    """MLPerf ResNet-50 Offline, compared as seconds per sample."""
    graph = resnet50(batch=MLPERF_BATCH).map_ops(
        lambda op: op.replace(precision=Precision.of("int8")))
    rows = []
    for gpu, per_s in MLPERF_RESNET50:
        report = analytic_report(graph, dataclasses.replace(gpu, fuse_epilogues=True))
        rows.append(("MLPerf v3.0", f"resnet50 offline int8 {gpu.name}", 1.0 / per_s,
                     1.0 / report.throughput_per_s))
    return rows


def attention_ops(batch: int, heads: int, seq: int, dim: int) -> tuple[Op, Op, Op]:
    """The score product, softmax and context product of one attention layer (fp16)."""
    q, kt, s = (batch, heads, seq, dim), (batch, heads, dim, seq), (batch, heads, seq, seq)
    qk = Op(name="qk", kind=OpKind.MATMUL, inputs=("q", "k"), in_shapes=(q, kt), out_shape=s,
            precision=FP16)
    sm = Op(name="softmax", kind=OpKind.SOFTMAX, inputs=("qk",), in_shapes=(s,), out_shape=s,
            precision=FP16)
    av = Op(name="av", kind=OpKind.MATMUL, inputs=("softmax", "v"), in_shapes=(s, q),
            out_shape=q, precision=FP16)
    return qk, sm, av


def flash_rows(gpu: GPUConfig = H100_SXM) -> list[tuple[str, str, float, float]]:
    """FlashAttention-2 forward on H100, compared as seconds per call."""
    rows = []
    for batch, seq, tflops in FLASH_TFLOPS:
        flops = 4.0 * batch * 16 * seq**2 * 128
        cost = fused_attention_cost(gpu, *attention_ops(batch, 16, seq, 128))
        rows.append(("pytorch/benchmark", f"flash-attn2 b={batch} s={seq} h=16 d=128",
                     flops / (tflops * 1e12), cost.latency_s))
    return rows


def main() -> None:
    rows = gemm_rows() + stream_rows() + mlperf_rows() + flash_rows()
    print(f"{'source':18s} {'case':44s} {'measured':>11s} {'predicted':>11s} {'error':>8s}")
    errors = []
    for source, case, measured, predicted in rows:
        err = (predicted - measured) / measured
        errors.append(abs(err))
        print(f"{source:18s} {case:44s} {measured * 1e6:9.1f}us {predicted * 1e6:9.1f}us "
              f"{err:+8.1%}")
    print(f"cases: {len(errors)}  median |error|: {statistics.median(errors):.1%}  "
          f"worst |error|: {max(errors):.1%}")


if __name__ == "__main__":
    main()
