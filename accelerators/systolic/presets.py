"""Named systolic designs, built with keywords; ``PRESETS`` maps CLI names to them.

Sources:

* ``TPU_V1``: Jouppi et al., "In-Datacenter Performance Analysis of a Tensor Processing
  Unit", ISCA 2017: 256x256 8-bit MACs at 700 MHz (16-bit operands at a quarter of the
  rate), 28 nm, 24 MiB unified buffer, 4 MiB of 32-bit accumulators, a weight FIFO four
  64 KiB tiles deep fed from 8 GiB of DDR3 at 34 GB/s, weight-stationary. In this model's
  three buffers the unified buffer is the ifmap SRAM (it holds the activations the array
  reads), the weight FIFO the filter SRAM and the accumulators the ofmap SRAM (partial sums);
  activations stay in the unified buffer between layers (DRAM holds weights only). The
  activation pipeline (256 results per cycle) is the vector unit. Table 2 of the same paper
  gives the die's measured power: 28 W idle (the static power here; the modelled leakage is
  only ~3 W) and 40 W busy, 75 W TDP.
* ``SCALESIM_32X32`` and ``SCALESIM_GOOGLE``: SCALE-Sim's shipped ``configs/scale.cfg``
  (32x32, OS, 64 KiB per SRAM) and ``configs/google.cfg`` (256x256, WS, ifmap and filter
  6144 KiB, ofmap 2048 KiB), both with a 10-word-per-cycle interface and 1-byte words, in
  SCALE-Sim mode. SCALE-Sim has no clock: 1 GHz for the first, 700 MHz (TPU v1) for the
  second.
* ``EDGE_TPU_LIKE``: a small edge accelerator in the style of the Coral Edge TPU (4 int8
  TOPS from 64x64 MACs at 500 MHz), with 8 MiB of SRAM that keeps activations on chip and
  LPDDR4-3200 (x32, 12.8 GB/s); node, SRAM split and bandwidth are assumptions, not
  published figures.
"""

from __future__ import annotations

from accelerators.systolic.config import Dataflow, Mode, SystolicConfig
from hwsim.units import GB, KIB, MHZ, MIB

__all__ = ["EDGE_TPU_LIKE", "PRESETS", "SCALESIM_32X32", "SCALESIM_GOOGLE", "TPU_V1"]

TPU_V1 = SystolicConfig(
    name="tpu-v1",
    rows=256,
    cols=256,
    dataflow=Dataflow.WS,
    ifmap_sram_bytes=24 * MIB,
    filter_sram_bytes=4 * 64 * KIB,
    ofmap_sram_bytes=4 * MIB,
    dram_bw_bytes_per_s=34 * GB,
    dram_type="ddr3",
    freq_hz=700 * MHZ,
    formats=(("int8", 1.0), ("int16", 0.25)),
    keep_activations_on_chip=True,
    vector_lanes=256,
    node_nm=28,
    idle_power_w=28.0,
)

SCALESIM_32X32 = SystolicConfig(
    name="scalesim-32x32",
    rows=32,
    cols=32,
    dataflow=Dataflow.OS,
    ifmap_sram_bytes=64 * KIB,
    filter_sram_bytes=64 * KIB,
    ofmap_sram_bytes=64 * KIB,
    dram_bw_bytes_per_s=10 * 1000 * MHZ,
    freq_hz=1000 * MHZ,
    vector_lanes=32,
    mode=Mode.SCALESIM,
)

SCALESIM_GOOGLE = SystolicConfig(
    name="scalesim-google",
    rows=256,
    cols=256,
    dataflow=Dataflow.WS,
    ifmap_sram_bytes=6144 * KIB,
    filter_sram_bytes=6144 * KIB,
    ofmap_sram_bytes=2048 * KIB,
    dram_bw_bytes_per_s=10 * 700 * MHZ,
    freq_hz=700 * MHZ,
    vector_lanes=256,
    mode=Mode.SCALESIM,
)

EDGE_TPU_LIKE = SystolicConfig(
    name="edge-tpu",
    rows=64,
    cols=64,
    dataflow=Dataflow.WS,
    ifmap_sram_bytes=4 * MIB,
    filter_sram_bytes=2 * MIB,
    ofmap_sram_bytes=2 * MIB,
    dram_bw_bytes_per_s=12.8 * GB,
    dram_type="lpddr4",
    freq_hz=500 * MHZ,
    keep_activations_on_chip=True,
    vector_lanes=64,
    node_nm=16,
)

PRESETS: dict[str, SystolicConfig] = {
    "tpu-v1": TPU_V1,
    "scalesim-32x32": SCALESIM_32X32,
    "scalesim-google": SCALESIM_GOOGLE,
    "edge-tpu": EDGE_TPU_LIKE,
}
