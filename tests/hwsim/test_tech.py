"""Tests for hwsim.tech: anchors, fits, monotonicity, node scaling, DRAM table, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hwsim.tech import (
    DRAM_TYPES,
    FLOAT_FORMATS,
    NODE_AREA_SCALE,
    NODE_ENERGY_SCALE,
    Technology,
    default_acc_bits,
    dram_energy_per_bit_j,
)

PJ = 1e-12
T45 = Technology()
KIB = 1024
MIB = 1024 * 1024


def _mult_pj(tech: Technology, w: int, a: int, floating: bool = False) -> float:
    return tech.mult_energy_j(weight_bits=w, act_bits=a, floating=floating) / PJ


def _add_pj(tech: Technology, bits: int, floating: bool = False) -> float:
    return tech.add_energy_j(bits=bits, floating=floating) / PJ


def _fmt_mult_pj(fmt: str) -> float:
    b = FLOAT_FORMATS[fmt].bits
    e = T45.mult_energy_j(weight_bits=b, act_bits=b, floating=True, weight_fmt=fmt, act_fmt=fmt)
    return e / PJ


def test_horowitz_integer_anchors_exact_at_45nm() -> None:
    """8- and 32-bit integer multiply and add reproduce Horowitz's 45 nm figures exactly."""
    assert _mult_pj(T45, 8, 8) == pytest.approx(0.2, rel=1e-9)
    assert _mult_pj(T45, 32, 32) == pytest.approx(3.1, rel=1e-9)
    assert _add_pj(T45, 8) == pytest.approx(0.03, rel=1e-9)
    assert _add_pj(T45, 32) == pytest.approx(0.1, rel=1e-9)


def test_horowitz_float_anchors_exact_at_45nm() -> None:
    """fp16 and fp32 multiply and add reproduce Horowitz's 45 nm figures exactly."""
    assert _mult_pj(T45, 16, 16, floating=True) == pytest.approx(1.1, rel=1e-9)
    assert _mult_pj(T45, 32, 32, floating=True) == pytest.approx(3.7, rel=1e-9)
    assert _add_pj(T45, 16, floating=True) == pytest.approx(0.4, rel=1e-9)
    assert _add_pj(T45, 32, floating=True) == pytest.approx(0.9, rel=1e-9)


def test_mac_is_multiply_plus_accumulator_add() -> None:
    """A MAC costs one multiply plus one add at the accumulator width (int8/int32: 0.3 pJ)."""
    mac = T45.mac_energy_j(weight_bits=8, act_bits=8, acc_bits=32, floating=False)
    assert mac / PJ == pytest.approx(0.3, rel=1e-9)
    fmac = T45.mac_energy_j(weight_bits=16, act_bits=16, acc_bits=32, floating=True)
    assert fmac / PJ == pytest.approx(1.1 + 0.9, rel=1e-9)


def test_integer_multiplier_is_roughly_quadratic() -> None:
    """Halving both widths makes a multiply about 4x cheaper; halving one, about 2x."""
    assert 3.5 < _mult_pj(T45, 8, 8) / _mult_pj(T45, 4, 4) < 4.5
    assert 1.8 < _mult_pj(T45, 8, 8) / _mult_pj(T45, 4, 8) < 2.2
    assert _mult_pj(T45, 4, 8) == pytest.approx(_mult_pj(T45, 8, 4))


def test_more_integer_bits_never_cheaper() -> None:
    """Integer multiply, add and MAC area never get cheaper as any width grows."""
    widths = range(1, 33)
    for a in widths:
        mults = [_mult_pj(T45, w, a) for w in widths]
        assert np.all(np.diff(mults) > 0)
    assert np.all(np.diff([_add_pj(T45, b) for b in range(1, 65)]) > 0)
    areas = [T45.mac_area_mm2(weight_bits=b, act_bits=b, floating=False) for b in widths]
    assert np.all(np.diff(areas) > 0)


def test_wider_float_formats_cost_more() -> None:
    """fp8 < fp16 < fp32 in multiply energy, add energy and MAC area."""
    order = ("fp8_e4m3", "fp16", "fp32")
    assert _fmt_mult_pj(order[0]) < _fmt_mult_pj(order[1]) < _fmt_mult_pj(order[2])
    adds = [_add_pj(T45, FLOAT_FORMATS[f].bits, floating=True) for f in order]
    assert adds == sorted(adds)
    areas = [T45.mac_area_mm2(weight_bits=FLOAT_FORMATS[f].bits,
                              act_bits=FLOAT_FORMATS[f].bits, floating=True) for f in order]
    assert areas == sorted(areas)
    assert _fmt_mult_pj("bf16") > _fmt_mult_pj("fp8_e5m2")


def test_narrow_float_multipliers_cost_what_their_significands_do() -> None:
    """bf16 (8-bit significand) multiplies cheaper than fp16 (11-bit), and an fp8 multiply
    costs about as much as an int8 one (1-1.5x), not several times more."""
    assert _fmt_mult_pj("bf16") < 0.75 * _fmt_mult_pj("fp16")
    for fmt in ("fp8_e4m3", "fp8_e5m2"):
        assert 0.6 < _fmt_mult_pj(fmt) / _mult_pj(T45, 8, 8) < 1.5
    assert _fmt_mult_pj("fp8_e5m2") < _fmt_mult_pj("fp8_e4m3")


def test_float_format_widths_and_defaults() -> None:
    """Formats have their standard widths; float accumulates in fp32, int8 in 32 bits."""
    assert {k: f.bits for k, f in FLOAT_FORMATS.items()} == {
        "fp32": 32, "fp16": 16, "bf16": 16, "fp8_e4m3": 8, "fp8_e5m2": 8}
    assert default_acc_bits(weight_bits=8, act_bits=8, floating=False) == 32
    assert default_acc_bits(weight_bits=16, act_bits=16, floating=False) == 40
    assert default_acc_bits(weight_bits=32, act_bits=32, floating=False) == 64
    assert default_acc_bits(weight_bits=8, act_bits=8, floating=True) == 32


def test_sram_fit_within_15_percent_of_horowitz() -> None:
    """64-bit reads at 8 KB, 32 KB and 1 MB land within 15% of 10, 20 and 100 pJ."""
    for cap, pj in ((8 * KIB, 10.0), (32 * KIB, 20.0), (MIB, 100.0)):
        got = T45.sram_read_energy_j(capacity_bytes=cap, word_bits=64) / PJ
        assert got == pytest.approx(pj, rel=0.15)


def test_sram_32bit_read_at_8kb_matches_dally_table() -> None:
    """A 32-bit read from 8 KB costs about 5 pJ (Dally/Han 45 nm table), so width is linear."""
    got = T45.sram_read_energy_j(capacity_bytes=8 * KIB, word_bits=32) / PJ
    assert got == pytest.approx(5.0, rel=0.05)


def test_sram_energy_monotone_in_capacity_and_width() -> None:
    """More capacity or a wider word never makes an access cheaper."""
    caps = np.geomspace(1, 64 * MIB, 200)
    for word in (8, 32, 64, 256):
        assert np.all(np.diff(T45.sram_read_energy_j(capacity_bytes=caps, word_bits=word)) >= 0)
    words = np.arange(1, 513)
    by_word = T45.sram_read_energy_j(capacity_bytes=np.full(words.shape, 4096.0), word_bits=words)
    assert np.all(np.diff(by_word) > 0)


def test_tiny_sram_clamped_at_register_energy() -> None:
    """Arrays of a few words cost a register access (0.009 pJ/bit), not a vanishing amount."""
    one_word = T45.sram_read_energy_j(capacity_bytes=8.0, word_bits=64) / PJ
    one_byte = T45.sram_read_energy_j(capacity_bytes=1.0, word_bits=64) / PJ
    assert one_word == pytest.approx(0.009 * 64)
    assert one_byte == pytest.approx(one_word)


def test_sram_write_costs_more_than_read() -> None:
    """A write costs 1.4x the read of the same word and array."""
    read = T45.sram_read_energy_j(capacity_bytes=32 * KIB, word_bits=64)
    write = T45.sram_write_energy_j(capacity_bytes=32 * KIB, word_bits=64)
    assert write / read == pytest.approx(1.4)


def test_sram_vectorised_matches_scalar() -> None:
    """Arrays of capacities give arrays equal to per-element scalar calls; scalars give floats."""
    caps = np.array([64.0, 4096.0, 1.5 * MIB])
    words = np.array([8, 64, 128])
    vec = T45.sram_write_energy_j(capacity_bytes=caps, word_bits=words)
    ref = [T45.sram_write_energy_j(capacity_bytes=float(c), word_bits=int(w))
           for c, w in zip(caps, words, strict=True)]
    np.testing.assert_allclose(vec, ref)
    scalar = T45.sram_read_energy_j(capacity_bytes=4096.0, word_bits=64)
    assert type(scalar) is float
    assert T45.sram_area_mm2(capacity_bytes=caps).shape == caps.shape


def test_sram_area_and_leakage_linear_in_capacity() -> None:
    """Doubling capacity doubles SRAM area and leakage; an empty array has neither."""
    for fn in (T45.sram_area_mm2, T45.sram_leakage_w):
        assert fn(capacity_bytes=2 * MIB) == pytest.approx(2 * fn(capacity_bytes=MIB))
        assert fn(capacity_bytes=0.0) == 0.0
    assert T45.sram_area_mm2(capacity_bytes=MIB) == pytest.approx(8 * MIB * 0.865e-6)


def test_leakage_positive_and_grows_with_width() -> None:
    """MAC leakage is positive and grows with operand width."""
    leak = [T45.mac_leakage_w(weight_bits=b, act_bits=b, floating=False) for b in (4, 8, 16)]
    assert 0 < leak[0] < leak[1] < leak[2]


def test_dram_figures() -> None:
    """DRAM pJ/bit match their sources and order HBM < GDDR6 < LPDDR4 < DDR4 < DDR3."""
    assert dram_energy_per_bit_j("hbm2") == pytest.approx(3.9 * PJ)
    assert dram_energy_per_bit_j("lpddr4") == pytest.approx(8.0 * PJ)
    assert dram_energy_per_bit_j("ddr3") == pytest.approx(20.0 * PJ)
    order = ("hbm3", "hbm2", "gddr6", "lpddr4", "ddr4", "ddr3")
    values = [dram_energy_per_bit_j(d) for d in order]
    assert values == sorted(values)
    assert set(DRAM_TYPES) == {"lpddr4", "ddr3", "ddr4", "ddr5", "gddr6", "hbm2", "hbm2e",
                               "hbm3", "hbm3e"}


def test_dram_type_case_insensitive() -> None:
    """DRAM type names are accepted in any case."""
    assert dram_energy_per_bit_j("HBM2") == dram_energy_per_bit_j("hbm2")


def test_dram_unknown_type_names_allowed_ones() -> None:
    """An unknown DRAM type raises ValueError listing the allowed names."""
    with pytest.raises(ValueError, match=r"dram_type must be one of lpddr4, ddr3.*got 'sdr'"):
        dram_energy_per_bit_j("sdr")


def test_node_scales_equal_table_at_table_nodes() -> None:
    """At every table node the scale factors equal the table entries exactly."""
    for node in NODE_ENERGY_SCALE:
        tech = Technology(node_nm=node)
        assert tech.energy_scale() == pytest.approx(NODE_ENERGY_SCALE[node], rel=1e-12)
        assert tech.area_scale() == pytest.approx(NODE_AREA_SCALE[node], rel=1e-12)
    assert T45.energy_scale() == 1.0
    assert T45.area_scale() == 1.0


def test_node_scales_monotone() -> None:
    """Energy and area factors never decrease as the node grows from 5 to 180 nm."""
    nodes = np.geomspace(5, 180, 400)
    energy = [Technology(node_nm=float(n)).energy_scale() for n in nodes]
    area = [Technology(node_nm=float(n)).area_scale() for n in nodes]
    assert np.all(np.diff(energy) > 0)
    assert np.all(np.diff(area) > 0)


def test_interpolation_is_log_log() -> None:
    """Between two table nodes the factor is the geometric interpolation of their factors."""
    mid = Technology(node_nm=math.sqrt(7 * 10))
    assert mid.energy_scale() == pytest.approx(
        math.sqrt(NODE_ENERGY_SCALE[7] * NODE_ENERGY_SCALE[10]))
    assert mid.area_scale() == pytest.approx(math.sqrt(NODE_AREA_SCALE[7] * NODE_AREA_SCALE[10]))


def test_five_nm_extension_follows_tsmc_n7_to_n5() -> None:
    """5 nm has 70% of 7 nm energy per op and 1/1.84 of its logic area."""
    assert NODE_ENERGY_SCALE[5] / NODE_ENERGY_SCALE[7] == pytest.approx(0.7)
    assert NODE_AREA_SCALE[5] / NODE_AREA_SCALE[7] == pytest.approx(1 / 1.84)


def test_smaller_node_never_more_energy_per_op() -> None:
    """MAC, SRAM and leakage costs shrink (never grow) at smaller nodes."""
    techs = [Technology(node_nm=n) for n in (180, 90, 45, 28, 16, 7, 5)]
    costs = np.array([[
        t.mac_energy_j(weight_bits=8, act_bits=8, acc_bits=32, floating=False),
        t.sram_read_energy_j(capacity_bytes=64 * KIB, word_bits=64),
        t.mac_leakage_w(weight_bits=8, act_bits=8, floating=False),
        t.mac_area_mm2(weight_bits=16, act_bits=16, floating=True),
        t.sram_area_mm2(capacity_bytes=MIB),
    ] for t in techs])
    assert np.all(np.diff(costs, axis=0) < 0)


def test_tpu_v1_area_shares() -> None:
    """At 28 nm, TPU v1's matrix unit, buffers and their shares land near the floor plan.

    Published (Jouppi et al., ISCA 2017): die < 331 mm^2, matrix unit (65,536 int8 MACs) 24%,
    unified buffer (24 MiB) 29%, accumulators (4 MiB) 6%. The model gives 0.31x, 0.67x and
    0.54x of those upper bounds, and 0.60x, 1.32x and 1.06x of their shares of the three.
    Cell-level MAC area misses the array's wiring and weight-shift network, so the matrix unit
    is the farthest off.
    """
    tpu = Technology(node_nm=28)
    model = np.array([
        65536 * tpu.mac_area_mm2(weight_bits=8, act_bits=8, floating=False, acc_bits=32),
        tpu.sram_area_mm2(capacity_bytes=24 * MIB),
        tpu.sram_area_mm2(capacity_bytes=4 * MIB),
    ])
    published = 331.0 * np.array([0.24, 0.29, 0.06])
    assert np.all(model < published)
    assert np.all(model > published / 4)
    share_ratio = (model / model.sum()) / (published / published.sum())
    assert np.all((share_ratio > 1 / 2) & (share_ratio < 2))
    assert np.all((share_ratio[1:] > 1 / 1.5) & (share_ratio[1:] < 1.5))


@pytest.mark.parametrize("bits", [0, 33, 8.0, True, "8"])
def test_bad_operand_bits_raise(bits: object) -> None:
    """Operand widths outside 1..32 or not integers raise ValueError naming the field."""
    with pytest.raises(ValueError, match=r"weight_bits must be an integer in 1\.\.32, got"):
        T45.mult_energy_j(weight_bits=bits, act_bits=8, floating=False)  # type: ignore[arg-type]


def test_bad_float_width_and_format_raise() -> None:
    """Float widths other than 8/16/32, unknown or mismatched formats raise clear errors."""
    with pytest.raises(ValueError, match="act_bits must be 8, 16 or 32 for floating point, got 12"):
        T45.mult_energy_j(weight_bits=16, act_bits=12, floating=True)
    with pytest.raises(ValueError, match="weight_bits must be 16 for format bf16, got 8"):
        T45.mult_energy_j(weight_bits=8, act_bits=8, floating=True, weight_fmt="bf16")
    with pytest.raises(ValueError, match="must be one of fp32, fp16, bf16.*got 'fp4'"):
        T45.add_energy_j(bits=8, floating=True, fmt="fp4")
    with pytest.raises(ValueError, match="must be 'int' or None when floating=False"):
        T45.mult_energy_j(weight_bits=16, act_bits=16, floating=False, act_fmt="fp16")
    with pytest.raises(ValueError, match="acc_bits must be an integer in 1..64, got 65"):
        T45.mac_area_mm2(weight_bits=8, act_bits=8, floating=False, acc_bits=65)


@pytest.mark.parametrize("node", [4.9, 181, 0, "45", None])
def test_bad_node_raises(node: object) -> None:
    """Nodes outside 5..180 nm or non-numbers raise ValueError naming node_nm and the range."""
    with pytest.raises(ValueError, match=r"node_nm must be a number in 5\.\.180 nm, got"):
        Technology(node_nm=node)  # type: ignore[arg-type]


def test_bad_capacity_and_word_raise() -> None:
    """Negative capacity, a zero-capacity access and bad word widths raise clear errors."""
    with pytest.raises(ValueError, match=r"capacity_bytes must be >= 0, got -1\.0"):
        T45.sram_area_mm2(capacity_bytes=-1.0)
    with pytest.raises(ValueError, match=r"capacity_bytes must be > 0, got 0\.0"):
        T45.sram_read_energy_j(capacity_bytes=np.array([64.0, 0.0]), word_bits=8)
    with pytest.raises(ValueError, match="word_bits must be an integer >= 1, got 0"):
        T45.sram_read_energy_j(capacity_bytes=64.0, word_bits=0)
    with pytest.raises(ValueError, match="floating must be a bool, got 1"):
        T45.add_energy_j(bits=8, floating=1)  # type: ignore[arg-type]
