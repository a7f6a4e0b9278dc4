"""A calibrated analytical model of an NVIDIA-style GPU running library kernels.

GEMMs (matmul, convolution as implicit GEMM) are grids of CTA tiles. The tile shape and a
split-K factor are chosen like a library heuristic: every candidate of a small set
(``TILES`` x ``SPLITS``) is costed and the fastest kept. A CTA's main loop takes, per K step,
the slowest of its tensor-core (or CUDA-core) math, its operand loads from L2 and its
shared-memory operand reads; CTAs run in waves of one per SM (wave quantisation), after a
pipeline fill of one DRAM latency and before an epilogue that stores the tile. DRAM traffic
counts A re-read once per band of resident N tiles and B once per band of resident M tiles;
a GEMM takes the longer of its waves and its DRAM time. Split-K adds a reduction of fp32
partials. Operands that together fit in half of L2 are served from L2 (warm, as in
producer-consumer chains), except the weights, which are read from HBM once (an inference
reads each weight once, so no earlier kernel left them in L2).

Memory-bound kernels (elementwise, softmax, normalisation, pooling, embedding gathers,
copies) move their bytes at the achievable HBM bandwidth (or L2's, when warm; weights still
come from HBM) after one DRAM latency. Every kernel pays ``kernel_launch_s``;
``host_overhead_s`` adds the host side of a synchronous framework call (0 when launches are
pipelined: CUDA graphs, TensorRT). With ``fuse_epilogues`` the elementwise ops and batch
norms an inference compiler folds into the preceding GEMM cost nothing. Attention is its two
products and a softmax; ``fused_attention_cost`` prices the FlashAttention kernel that reads
Q, K and V once.

Formats without tensor-core support run in the next wider supported format (bandwidth gain
only). 2:4 structured weight sparsity (and any N:M pattern that satisfies it: 1:2, 1:4, 2:8)
doubles tensor throughput and halves weight bytes where ``sparse_2_4`` is set (Ampere and
later); other sparsity is not exploited.

Energy is an estimate: per-action energies from ``hwsim.tech`` (MACs plus a datapath overhead
that is the same per instruction in every format, L2 reads, HBM bits), capped at
``tdp_w - idle_w`` times the latency.

Ignored: clock changes under power limits (folded into ``tensor_efficiency``), concurrent
kernels, L2 hit rates between 0 and 1, bank conflicts, TMA multicast and thread-block
clusters, instruction issue limits of memory-bound kernels, PCIe transfers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from accelerators._common import check_fraction, check_int, check_positive
from accelerators._gpu_cost import fused_attention_cost, gemm_plan, gpu_op_cost
from hwsim.accelerator import EngineSpec, OpCost, Resources
from hwsim.graph import Op
from hwsim.tech import DRAM_TYPES, Technology

__all__ = ["GPUConfig", "PRESETS", "fused_attention_cost", "gemm_plan"]

_KIB = 1024
_MIB = 1024**2
_RATE_FIELDS = ("fp16", "bf16", "tf32", "fp8", "int8", "int4")


@dataclass(frozen=True, kw_only=True)
class GPUConfig:
    """A GPU: SMs, tensor and CUDA cores, on-chip memories, HBM, overheads and power.

    Defaults describe an A100 80GB SXM (see ``A100_80GB_SXM`` for sources).

    Parameters
    ----------
    name : label in reports.
    sms : streaming multiprocessors; freq_hz : clock of the spec-sheet peaks.
    tensor_<fmt>_ops_per_cycle_per_sm : dense tensor-core operations (2 per MAC) per cycle
        and SM for fp16, bf16, tf32, fp8, int8 and int4; 0 = unsupported.
    fp32_ops_per_cycle_per_sm : CUDA-core fp32 operations (2 per FMA) per cycle and SM.
    sfu_ops_per_cycle_per_sm : special-function (exp) results per cycle and SM.
    sparse_2_4 : tensor cores skip the zeros of 2:4 structured weights (2x math).
    regs_bytes_per_sm, smem_bytes_per_sm : register file and shared memory per SM (a tile's
        accumulators and pipeline buffers must fit); smem_bw_bytes_per_cycle_per_sm.
    l2_bytes, l2_bw_bytes_per_cycle : L2 capacity and read bandwidth of the whole chip.
    hbm_bytes, hbm_bw_bytes_per_s : device memory capacity and peak bandwidth.
    hbm_efficiency : achievable fraction of the HBM peak (STREAM-like kernels).
    tensor_efficiency : sustained fraction of the math peak in a GEMM main loop (issue
        overheads and clocks below boost under load).
    dram_latency_s : latency of a first DRAM access (pipeline fill of a kernel).
    kernel_launch_s : fixed device-side cost of one kernel.
    host_overhead_s : host-side cost of one synchronous framework call (0: pipelined).
    fuse_epilogues : elementwise ops and batch norms are fused into the previous GEMM.
    tf32_for_fp32 : fp32 products run on tensor cores in TF32.
    tdp_w, idle_w : board power limit and idle power; area_mm2 : die area.
    node_nm, dram_type : process node and memory type for per-action energies.
    datapath_overhead : energy of an fp16 tensor-core MAC with everything around it (operand
        delivery, register files, control) as a multiple of the MAC's own (>= 1); an estimate
        chosen so that a fully busy fp16 GEMM draws 60-80% of the power limit. Faster formats
        pay the same overhead per instruction, so less per MAC; CUDA-core fp32 more.
    """

    name: str = "a100-80gb-sxm"
    sms: int = 108
    freq_hz: float = 1.41e9
    tensor_fp16_ops_per_cycle_per_sm: float = 2048.0
    tensor_bf16_ops_per_cycle_per_sm: float = 2048.0
    tensor_tf32_ops_per_cycle_per_sm: float = 1024.0
    tensor_fp8_ops_per_cycle_per_sm: float = 0.0
    tensor_int8_ops_per_cycle_per_sm: float = 4096.0
    tensor_int4_ops_per_cycle_per_sm: float = 8192.0
    fp32_ops_per_cycle_per_sm: float = 128.0
    sfu_ops_per_cycle_per_sm: float = 16.0
    sparse_2_4: bool = True
    regs_bytes_per_sm: float = 256.0 * _KIB
    smem_bytes_per_sm: float = 164.0 * _KIB
    smem_bw_bytes_per_cycle_per_sm: float = 128.0
    l2_bytes: float = 40.0 * _MIB
    l2_bw_bytes_per_cycle: float = 5120.0
    hbm_bytes: float = 80e9
    hbm_bw_bytes_per_s: float = 2.039e12
    hbm_efficiency: float = 0.9
    tensor_efficiency: float = 0.9
    dram_latency_s: float = 0.5e-6
    kernel_launch_s: float = 4e-6
    host_overhead_s: float = 0.0
    fuse_epilogues: bool = False
    tf32_for_fp32: bool = False
    tdp_w: float = 400.0
    idle_w: float = 60.0
    area_mm2: float = 826.0
    node_nm: float = 7.0
    dram_type: str = "hbm2e"
    datapath_overhead: float = 12.0

    def __post_init__(self) -> None:
        check_int(self, "sms", 1)
        check_positive(self, ("freq_hz", "fp32_ops_per_cycle_per_sm", "sfu_ops_per_cycle_per_sm",
                              "regs_bytes_per_sm", "smem_bytes_per_sm",
                              "smem_bw_bytes_per_cycle_per_sm", "l2_bytes",
                              "l2_bw_bytes_per_cycle", "hbm_bytes", "hbm_bw_bytes_per_s",
                              "tdp_w", "datapath_overhead"))
        check_positive(self, tuple(f"tensor_{f}_ops_per_cycle_per_sm" for f in _RATE_FIELDS)
                       + ("dram_latency_s", "kernel_launch_s", "host_overhead_s", "idle_w",
                          "area_mm2"), allow_zero=True)
        check_fraction(self, ("hbm_efficiency", "tensor_efficiency"))
        if self.datapath_overhead < 1:
            raise ValueError(f"datapath_overhead must be a number >= 1, got "
                             f"{self.datapath_overhead!r}")
        if self.idle_w >= self.tdp_w:
            raise ValueError(f"idle_w must be < tdp_w={self.tdp_w}, got {self.idle_w!r}")
        if self.dram_type not in DRAM_TYPES:
            raise ValueError(f"dram_type must be one of {', '.join(DRAM_TYPES)}, "
                             f"got {self.dram_type!r}")
        Technology(node_nm=self.node_nm)

    @property
    def static_power_w(self) -> float:
        """Idle power, drawn whether or not a kernel runs."""
        return self.idle_w

    @cached_property
    def technology(self) -> Technology:
        """The process node's per-action energies."""
        return Technology(node_nm=self.node_nm)

    def rates(self) -> dict[str, float]:
        """Dense operations per cycle and SM of each compute format (0: unsupported).

        fp32 runs on tensor cores in TF32 when ``tf32_for_fp32`` is set, else on CUDA cores.
        """
        out = {f: getattr(self, f"tensor_{f}_ops_per_cycle_per_sm") for f in _RATE_FIELDS}
        out["fp32"] = (self.tensor_tf32_ops_per_cycle_per_sm if self.tf32_for_fp32
                       else self.fp32_ops_per_cycle_per_sm)
        out["int16"] = 0.0
        return out

    def peak_ops(self, fmt: str = "fp16") -> float:
        """Dense peak operations per second of format ``fmt``."""
        return self.rates()[fmt] * self.sms * self.freq_hz

    def supports(self, op: Op) -> bool:
        """A GPU runs every op kind."""
        return True

    def resources(self) -> Resources:
        """One engine: kernels of one stream run one after another."""
        return Resources(engines=(EngineSpec(name="gpu", count=1),),
                         dram_bw_bytes_per_s=self.hbm_bw_bytes_per_s)

    def engine_for(self, op: Op) -> str:
        """Every op runs on the GPU."""
        return "gpu"

    def op_cost(self, op: Op) -> OpCost:
        """Cost of ``op`` as one kernel (zero for views and fused epilogues)."""
        return gpu_op_cost(self, op)


# Figures below come from NVIDIA's data sheets and architecture whitepapers:
#   V100: "NVIDIA Tesla V100 GPU Architecture" whitepaper (2017), Tesla V100 data sheet.
#   A100: "NVIDIA A100 Tensor Core GPU Architecture" whitepaper (2020), A100 data sheet (2021).
#   H100: "NVIDIA H100 Tensor Core GPU Architecture" whitepaper (2022), H100 data sheet.
#   H200: NVIDIA H200 Tensor Core GPU product page / data sheet (2024).
# Peak = ops per cycle per SM x SMs x clock; e.g. A100 fp16: 2048 x 108 x 1.41 GHz = 312 TFLOPS.
V100_SXM2 = GPUConfig(
    name="v100-sxm2",
    sms=80,  # whitepaper: 80 SMs (of 84 on GV100)
    freq_hz=1.53e9,  # data sheet: boost 1530 MHz
    tensor_fp16_ops_per_cycle_per_sm=1024.0,  # 8 tensor cores x 64 FMA: 125 TFLOPS
    tensor_bf16_ops_per_cycle_per_sm=0.0,  # no bf16, tf32, fp8 or integer tensor cores
    tensor_tf32_ops_per_cycle_per_sm=0.0,
    tensor_int8_ops_per_cycle_per_sm=0.0,
    tensor_int4_ops_per_cycle_per_sm=0.0,
    fp32_ops_per_cycle_per_sm=128.0,  # 64 FP32 cores: 15.7 TFLOPS
    sfu_ops_per_cycle_per_sm=16.0,  # 4 SFUs per SM partition
    sparse_2_4=False,
    smem_bytes_per_sm=96.0 * _KIB,  # up to 96 KB shared of the 128 KB L1/shared
    l2_bytes=6.0 * _MIB,  # whitepaper: 6144 KB
    l2_bw_bytes_per_cycle=2048.0,  # A100 whitepaper: V100 L2 reads 2048 bytes/clk
    hbm_bytes=32e9,
    hbm_bw_bytes_per_s=900e9,  # data sheet: 900 GB/s HBM2
    tdp_w=300.0,  # data sheet: 300 W (SXM2)
    idle_w=40.0,  # estimate
    area_mm2=815.0,  # whitepaper: 815 mm2, TSMC 12 nm FFN
    node_nm=12.0,
    dram_type="hbm2",
)
A100_40GB_SXM = GPUConfig(
    name="a100-40gb-sxm",
    sms=108,  # whitepaper: 108 SMs (of 128 on GA100)
    freq_hz=1.41e9,  # whitepaper: boost 1410 MHz
    tensor_fp16_ops_per_cycle_per_sm=2048.0,  # 4 TCs x 256 FMA: fp16/bf16 312 TFLOPS
    tensor_bf16_ops_per_cycle_per_sm=2048.0,
    tensor_tf32_ops_per_cycle_per_sm=1024.0,  # tf32 156 TFLOPS
    tensor_fp8_ops_per_cycle_per_sm=0.0,  # no fp8
    tensor_int8_ops_per_cycle_per_sm=4096.0,  # int8 624 TOPS
    tensor_int4_ops_per_cycle_per_sm=8192.0,  # int4 1248 TOPS
    fp32_ops_per_cycle_per_sm=128.0,  # 64 FP32 cores: 19.5 TFLOPS
    sfu_ops_per_cycle_per_sm=16.0,
    sparse_2_4=True,  # sparse tensor cores: 2x dense on 2:4 weights
    smem_bytes_per_sm=164.0 * _KIB,  # up to 164 KB shared of the 192 KB L1/shared
    l2_bytes=40.0 * _MIB,  # whitepaper: 40 MB
    l2_bw_bytes_per_cycle=5120.0,  # whitepaper: 5120 bytes/clk L2 read bandwidth
    hbm_bytes=40e9,
    hbm_bw_bytes_per_s=1.555e12,  # data sheet: 1555 GB/s HBM2
    tdp_w=400.0,  # data sheet: 400 W (SXM4)
    idle_w=55.0,  # estimate
    area_mm2=826.0,  # whitepaper: 826 mm2, TSMC 7 nm N7
    node_nm=7.0,
    dram_type="hbm2",
)
A100_80GB_SXM = GPUConfig(
    name="a100-80gb-sxm",
    hbm_bytes=80e9,
    hbm_bw_bytes_per_s=2.039e12,  # data sheet: 2039 GB/s HBM2e (otherwise as the 40 GB part)
    idle_w=60.0,  # estimate
    dram_type="hbm2e",
)
H100_SXM = GPUConfig(
    name="h100-sxm",
    sms=132,  # data sheet: 132 SMs (SXM5)
    freq_hz=1.83e9,  # clock implied by the data-sheet tensor peaks (989.4 TF / 132 / 4096)
    tensor_fp16_ops_per_cycle_per_sm=4096.0,  # 4 TCs x 512 FMA: fp16/bf16 989 TFLOPS
    tensor_bf16_ops_per_cycle_per_sm=4096.0,
    tensor_tf32_ops_per_cycle_per_sm=2048.0,  # tf32 495 TFLOPS
    tensor_fp8_ops_per_cycle_per_sm=8192.0,  # fp8 1979 TFLOPS
    tensor_int8_ops_per_cycle_per_sm=8192.0,  # int8 1979 TOPS
    tensor_int4_ops_per_cycle_per_sm=0.0,  # no int4 tensor-core format
    fp32_ops_per_cycle_per_sm=256.0,  # 128 FP32 cores (67 TFLOPS is quoted at 1.98 GHz)
    sfu_ops_per_cycle_per_sm=16.0,
    sparse_2_4=True,
    smem_bytes_per_sm=228.0 * _KIB,  # up to 228 KB shared of the 256 KB L1/shared
    l2_bytes=50.0 * _MIB,  # whitepaper: 50 MB
    l2_bw_bytes_per_cycle=6400.0,  # estimate: no official figure; A100's per-SM share
    hbm_bytes=80e9,
    hbm_bw_bytes_per_s=3.35e12,  # data sheet: 3.35 TB/s HBM3
    tdp_w=700.0,  # data sheet: up to 700 W
    idle_w=75.0,  # estimate
    area_mm2=814.0,  # whitepaper: 814 mm2, TSMC 4N (a 5 nm class node)
    node_nm=5.0,
    dram_type="hbm3",
)
H200_SXM = GPUConfig(
    name="h200-sxm",
    **{name: getattr(H100_SXM, name) for name in (
        "sms", "freq_hz", "tensor_fp16_ops_per_cycle_per_sm", "tensor_bf16_ops_per_cycle_per_sm",
        "tensor_tf32_ops_per_cycle_per_sm", "tensor_fp8_ops_per_cycle_per_sm",
        "tensor_int8_ops_per_cycle_per_sm", "tensor_int4_ops_per_cycle_per_sm",
        "fp32_ops_per_cycle_per_sm", "smem_bytes_per_sm", "l2_bytes", "l2_bw_bytes_per_cycle",
        "area_mm2", "node_nm", "idle_w")},
    hbm_bytes=141e9,  # data sheet: 141 GB HBM3e
    hbm_bw_bytes_per_s=4.8e12,  # data sheet: 4.8 TB/s
    tdp_w=700.0,  # data sheet: up to 700 W
    dram_type="hbm3e",
)

PRESETS: dict[str, GPUConfig] = {
    "v100": V100_SXM2, "a100-40gb": A100_40GB_SXM, "a100-80gb": A100_80GB_SXM,
    "h100": H100_SXM, "h200": H200_SXM,
}
