"""Tests for workloads.compression.quantize."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from workloads.compression import (
    FLOAT_FORMATS,
    FloatFormat,
    quantize,
    quantize_fixed_point,
    quantize_float,
    quantize_uniform,
    sqnr_db,
)
from workloads.compression.floats import round_to_format
from workloads.compression.quantize import (
    _clip_sq_error,
    _code_range,
    _kth_largest_abs,
    _params,
    _quantize_kernel,
    _stratified_sample,
)


def _rng():
    """A fixed-seed generator, so every test sees the same data."""
    return np.random.default_rng(1234)


finite_arrays = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6),
    elements=st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False),
)


@settings(max_examples=60, deadline=None)
@given(x=finite_arrays, bits=st.integers(2, 16), symmetric=st.booleans(), per_channel=st.booleans())
def test_round_trip_error_at_most_half_a_step(x, bits, symmetric, per_channel):
    """Inside the max-clip range every element is within scale/2 of its dequantized value."""
    r = quantize_uniform(x, bits=bits, symmetric=symmetric, axis=0 if per_channel else None)
    bound = np.broadcast_to(r.scale / 2, x.shape) * (1 + 1e-9) + 1e-12
    assert np.all(np.abs(x - r.values) <= bound)


@settings(max_examples=40, deadline=None)
@given(x=finite_arrays, bits=st.integers(1, 16), symmetric=st.booleans())
def test_values_decode_from_codes(x, bits, symmetric):
    """Dequantized values equal (codes - zero_point) * scale and codes stay in range."""
    r = quantize_uniform(x, bits=bits, symmetric=symmetric, axis=-1)
    qmin, qmax = _code_range(bits, symmetric)
    assert r.codes.min() >= qmin
    assert r.codes.max() <= qmax
    np.testing.assert_allclose(r.values, (r.codes - r.zero_point) * r.scale, rtol=1e-12)


@settings(max_examples=40, deadline=None)
@given(x=finite_arrays, fmt=st.sampled_from(sorted(FLOAT_FORMATS)))
def test_float_rounding_is_idempotent_and_monotonic(x, fmt):
    """Rounding to a float format is idempotent and preserves order."""
    v = quantize_float(x, fmt=fmt).values
    np.testing.assert_array_equal(quantize_float(v, fmt=fmt).values, v)
    order = np.argsort(x.ravel(), kind="stable")
    assert np.all(np.diff(v.ravel()[order]) >= 0)


@settings(max_examples=40, deadline=None)
@given(x=finite_arrays, bits=st.integers(1, 8), symmetric=st.booleans())
def test_mse_clip_is_never_worse_than_max_clip(x, bits, symmetric):
    """The MSE-searched range never has more error than max clipping on the full tensor."""
    by_mse = quantize_uniform(x, bits=bits, symmetric=symmetric, axis=0, clip="mse")
    by_max = quantize_uniform(x, bits=bits, symmetric=symmetric, axis=0)
    assert by_mse.mse <= by_max.mse


def test_mse_clip_on_large_channels_beats_max_clip():
    """Channels too large for the exact search still gain over max clipping at 4 and 8 bits."""
    x = _rng().laplace(size=(8, 40_000)).astype(np.float32)
    for bits in (4, 8):
        by_mse = quantize_uniform(x, bits=bits, axis=0, clip="mse")
        assert by_mse.mse < quantize_uniform(x, bits=bits, axis=0).mse


@pytest.mark.parametrize("bits", range(4, 13))
def test_sqnr_follows_uniform_data_law(bits):
    """Full-scale uniform data: asymmetric SQNR ~ 6.02 b dB, symmetric = 20 log10(2**b - 2)."""
    x = _rng().uniform(-1.0, 1.0, 400_000)
    asym = quantize_uniform(x, bits=bits, symmetric=False)
    sym = quantize_uniform(x, bits=bits)
    assert abs(asym.sqnr_db - 6.02 * bits) < 1.0
    assert abs(sym.sqnr_db - 20 * np.log10(2**bits - 2)) < 0.2


def test_per_channel_beats_per_tensor_on_mixed_ranges():
    """Channels with very different ranges quantize better with per-channel scales."""
    x = _rng().standard_normal((16, 512)) * np.where(np.arange(16) < 8, 0.01, 1.0)[:, None]
    per_tensor = quantize_uniform(x, bits=8)
    per_channel = quantize_uniform(x, bits=8, axis=0)
    assert per_channel.scale.shape == (16, 1)
    assert per_channel.mse < 0.6 * per_tensor.mse
    assert sqnr_db(x[0], per_channel.values[0]) > 30.0
    assert sqnr_db(x[0], per_tensor.values[0]) < 10.0


def test_per_channel_on_any_axis_matches_transpose():
    """Per-channel quantization along axis 1 equals axis 0 of the transposed tensor."""
    x = _rng().standard_normal((7, 5, 3))
    a = quantize_uniform(x, bits=6, axis=1, clip="mse")
    b = quantize_uniform(np.transpose(x, (1, 0, 2)), bits=6, axis=0, clip="mse")
    np.testing.assert_array_equal(a.values, np.transpose(b.values, (1, 0, 2)))
    assert a.scale.shape == (1, 5, 1)


@pytest.mark.parametrize("draw", ["laplace", "student_t"])
@pytest.mark.parametrize("symmetric", [True, False])
def test_mse_clipping_beats_max_clipping_on_heavy_tails(draw, symmetric):
    """At 4 bits the MSE-searched clip range has lower error than max clipping on heavy tails."""
    rng = _rng()
    x = rng.laplace(size=50_000) if draw == "laplace" else rng.standard_t(3, size=50_000)
    by_max = quantize_uniform(x, bits=4, symmetric=symmetric)
    by_mse = quantize_uniform(x, bits=4, symmetric=symmetric, clip="mse")
    assert by_mse.mse < 0.5 * by_max.mse


def test_percentile_clip_uses_the_percentile():
    """Percentile clipping sets the symmetric range to that percentile of |x|."""
    x = _rng().standard_normal(10_000)
    r = quantize_uniform(x, bits=8, clip="percentile", percentile=99.0)
    clip = np.percentile(np.abs(x), 99.0)
    assert r.scale.item() == pytest.approx(clip / 127)
    assert np.abs(r.values).max() == pytest.approx(clip)


def test_asymmetric_uses_zero_point_on_positive_data():
    """All-positive data: asymmetric codes start at zero point 0 and beat symmetric MSE."""
    x = _rng().uniform(0.0, 6.0, 10_000)
    asym = quantize_uniform(x, bits=8, symmetric=False)
    sym = quantize_uniform(x, bits=8)
    assert asym.zero_point.item() == 0
    assert asym.codes.dtype == np.uint8
    assert asym.scale.item() == pytest.approx(x.max() / 255)
    assert asym.mse < 0.3 * sym.mse


def test_asymmetric_represents_zero_exactly():
    """With an off-centre range the zero point maps real zero to an exact code."""
    x = np.concatenate([_rng().uniform(-1.0, 3.0, 999), [0.0]])
    r = quantize_uniform(x, bits=4, symmetric=False)
    assert r.zero_point.item() == round(1.0 / r.scale.item())
    assert r.values[-1] == 0.0


def test_one_bit_symmetric_is_sign_times_scale():
    """1-bit symmetric codes are +-1 and the MSE clip scale is the optimum mean |x|."""
    x = _rng().standard_normal(20_000)
    r = quantize_uniform(x, bits=1, clip="mse")
    np.testing.assert_array_equal(r.codes, np.where(x >= 0, 1, -1))
    np.testing.assert_array_equal(r.values, r.codes * r.scale)
    assert r.scale.item() == pytest.approx(np.abs(x).mean(), rel=0.02)


def test_code_dtypes_are_narrow():
    """Codes use the narrowest integer type for their range."""
    x = _rng().standard_normal(100).astype(np.float32)
    assert quantize_uniform(x, bits=8).codes.dtype == np.int8
    assert quantize_uniform(x, bits=9).codes.dtype == np.int16
    assert quantize_uniform(x, bits=16, symmetric=False).codes.dtype == np.uint16
    assert quantize_uniform(x, bits=8).values.dtype == np.float32


def _quantize_reference(x, scale, zero_point, qmin, qmax, binary):
    """Codes and values of a 1-D tensor, written with plain numpy."""
    codes = np.where(x >= 0, 1.0, -1.0) if binary else np.clip(
        np.rint(x / scale) + zero_point, qmin, qmax)
    return codes, (codes - zero_point) * scale


@pytest.mark.parametrize(("bits", "symmetric"), [(4, True), (3, False), (1, True), (8, False)])
def test_quantize_kernel_matches_references(bits, symmetric):
    """The quantize kernel equals its Python form and a plain numpy quantizer."""
    x = _rng().laplace(size=(3, 4, 5))
    qmin, qmax = _code_range(bits, symmetric)
    binary = symmetric and bits == 1
    scale, zp = np.array([0.3, 0.05, 1.1, 0.2]), np.array([0.0, 1.0, 3.0, 0.0])
    if symmetric:
        zp[:] = 0.0
    for kernel in (_quantize_kernel, _quantize_kernel.py_func):
        codes, values = np.empty((3, 4, 5)), np.empty((3, 4, 5))
        noise, signal = kernel(x, scale, zp, qmin, qmax, binary, codes, values)
        np.testing.assert_allclose(noise, np.sum((x - values) ** 2, axis=(0, 2)))
        for c in range(4):
            ref_codes, ref_values = _quantize_reference(x[:, c], scale[c], zp[c], qmin, qmax,
                                                        binary)
            np.testing.assert_array_equal(codes[:, c], ref_codes)
            np.testing.assert_array_equal(values[:, c], ref_values)
        assert signal == pytest.approx(np.sum(x**2))


def test_clip_error_kernel_matches_python_and_quantizer():
    """The clip-search kernel equals its Python form and the error of the real quantizer."""
    rng = _rng()
    rows, ratios = rng.laplace(size=(3, 200)), rng.uniform(0.05, 1.0, (3, 5))
    weights = rng.uniform(0.5, 2.0, (3, 200))
    for bits, symmetric in ((4, True), (3, False), (1, True)):
        qmin, qmax = _code_range(bits, symmetric)
        hi = np.abs(rows).max(axis=1) if symmetric else rows.max(axis=1)
        lo = -hi if symmetric else rows.min(axis=1)
        binary = symmetric and bits == 1
        scale, zp = _params(lo[:, None] * ratios, hi[:, None] * ratios, qmin, qmax, binary,
                            rows.dtype)
        fast, slow = np.empty((3, 5)), np.empty((3, 5))
        _clip_sq_error(rows, weights, scale, zp, qmin, qmax, binary, fast)
        _clip_sq_error.py_func(rows, weights, scale, zp, qmin, qmax, binary, slow)
        np.testing.assert_allclose(fast, slow, rtol=1e-12)
        for c, k in np.ndindex(3, 5):
            _, v = _quantize_reference(rows[c], scale[c, k], zp[c, k], qmin, qmax, binary)
            assert fast[c, k] == pytest.approx(np.sum(weights[c] * (rows[c] - v) ** 2), rel=1e-9)


def _stratified_reference(rows, n_tail, width):
    """Rows of samples and weights for the stratified MSE sample, by sorting."""
    n = rows.shape[1]
    samples, weights = np.zeros((len(rows), width)), np.zeros((len(rows), width))
    for c, row in enumerate(rows):
        if n <= width:
            samples[c, :n], weights[c, :n] = row, 1.0
            continue
        tau = np.sort(np.abs(row))[-n_tail]
        tail = row[np.abs(row) > tau]
        body = row[(np.arange(width - n_tail) * n) // (width - n_tail)]
        body = body[np.abs(body) <= tau]
        samples[c, : len(tail) + len(body)] = np.concatenate([tail, body])
        weights[c, : len(tail)] = 1.0
        weights[c, len(tail) : len(tail) + len(body)] = (n - len(tail)) / len(body)
    return samples, weights


@pytest.mark.parametrize("n_post", [1, 7])
def test_stratified_sample_matches_reference(n_post):
    """The sampler keeps the largest magnitudes and up-weights an even sample of the rest."""
    rng = _rng()
    blocks = rng.standard_t(2, size=(90, 3, n_post))
    blocks[:, 2] = np.round(blocks[:, 2])
    rows = np.moveaxis(blocks, 1, 0).reshape(3, -1)
    width = 40 if n_post == 7 else 128
    expected = _stratified_reference(rows, 20, width)
    for kernel in (_stratified_sample, _stratified_sample.py_func):
        samples, weights = np.empty((3, width)), np.empty((3, width))
        kernel(blocks, 20, samples, weights)
        np.testing.assert_array_equal(samples, expected[0])
        np.testing.assert_allclose(weights, expected[1], rtol=1e-12)
    assert weights.sum(axis=1) == pytest.approx(np.full(3, rows.shape[1]))


def test_kth_largest_abs_matches_sort():
    """The heap selection equals the k-th entry of the sorted magnitudes."""
    blocks = _rng().standard_normal((50, 2, 9))
    for k in (1, 5, 300):
        for kernel in (_kth_largest_abs, _kth_largest_abs.py_func):
            assert kernel(blocks, 1, k) == np.sort(np.abs(blocks[:, 1]).ravel())[-k]


def test_fixed_point_rounds_and_saturates():
    """Q1.2 rounds to quarters (ties to even) and saturates to [-2, 1.75]."""
    x = np.array([0.3, 0.125, 0.375, -5.0, 5.0, 1.2, -2.0])
    r = quantize_fixed_point(x, int_bits=1, frac_bits=2)
    np.testing.assert_array_equal(r.values, [0.25, 0.0, 0.5, -2.0, 1.75, 1.25, -2.0])
    np.testing.assert_array_equal(r.codes, [1, 0, 2, -8, 7, 5, -8])
    assert r.bits == 4
    assert r.scale.item() == 0.25


def test_wide_fixed_point_is_exact_in_float64():
    """Q15.16 keeps 32-bit codes exact."""
    x = np.array([12345.678901, -32768.0, 40000.0], dtype=np.float32)
    r = quantize_fixed_point(x, int_bits=15, frac_bits=16)
    assert r.codes.dtype == np.int32
    assert r.codes[2] == 2**31 - 1
    assert r.values[0] == np.rint(np.float64(x[0]) * 65536) / 65536


def _decode_fp8(code, exp_bits, bias):
    """Value of an 8-bit float pattern, read from the format definition."""
    man_bits = 7 - exp_bits
    sign = -1.0 if code >> 7 else 1.0
    e, m = (code >> man_bits) & ((1 << exp_bits) - 1), code & ((1 << man_bits) - 1)
    if e == 0:
        return sign * m * 2.0 ** (1 - bias - man_bits)
    return sign * (1 + m / 2**man_bits) * 2.0 ** (e - bias)


@pytest.mark.parametrize(("fmt", "exp_bits", "bias"), [("fp8_e4m3", 4, 7), ("fp8_e5m2", 5, 15)])
def test_fp8_matches_brute_force_nearest_even(fmt, exp_bits, bias):
    """fp8 rounding equals the nearest finite code (ties to even code) after saturation."""
    f = FLOAT_FORMATS[fmt]
    all_values = np.array([_decode_fp8(c, exp_bits, bias) for c in range(256)])
    finite = np.abs(all_values) <= f.max_finite
    table, codes = all_values[finite], np.arange(256)[finite]
    rng = _rng()
    x = np.concatenate([rng.standard_normal(3000) * 10.0 ** rng.uniform(-5, 5, 3000),
                        table, (table[:-1] + table[1:]) / 2])
    r = quantize_float(x, fmt=fmt)
    dist = np.abs(np.clip(x, -f.max_finite, f.max_finite)[:, None] - table[None, :])
    best = dist == dist.min(axis=1, keepdims=True)
    preference = best.astype(int) + (best & (codes % 2 == 0)[None, :])
    np.testing.assert_array_equal(r.values, table[np.argmax(preference, axis=1)] + 0.0 * x)
    np.testing.assert_array_equal(all_values[r.codes], r.values)


def test_fp8_known_values():
    """Golden fp8 values: e4m3 max 448 and 0.1 -> 0.1015625, smallest subnormals, e5m2 max."""
    e4m3 = quantize_float(np.array([448.0, 1000.0, 0.1, 2.0**-9, 2.0**-10, 0.75 * 2.0**-9]),
                          fmt="fp8_e4m3")
    np.testing.assert_array_equal(e4m3.values, [448.0, 448.0, 0.1015625, 2.0**-9, 0.0, 2.0**-9])
    np.testing.assert_array_equal(e4m3.codes, [0x7E, 0x7E, 0x1D, 0x01, 0x00, 0x01])
    e5m2 = quantize_float(np.array([57344.0, 1e6, -1e6, 2.0**-16]), fmt="fp8_e5m2")
    np.testing.assert_array_equal(e5m2.values, [57344.0, 57344.0, -57344.0, 2.0**-16])
    np.testing.assert_array_equal(e5m2.codes, [0x7B, 0x7B, 0xFB, 0x01])


def test_bf16_ties_to_even():
    """bf16 rounds 1 + 2**-8 down to 1 and 1 + 3 * 2**-8 up to 1 + 2**-6."""
    r = quantize_float(np.array([1.00390625, 1.01171875, 1.0039063]), fmt="bf16")
    np.testing.assert_array_equal(r.values, [1.0, 1.015625, 1.0078125])
    np.testing.assert_array_equal(r.codes, [0x3F80, 0x3F82, 0x3F81])


def _bf16_by_bits(x):
    """bf16 by the float32 bit trick: add 0x7FFF plus the kept LSB, truncate."""
    u = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000
    return u.astype(np.uint32).view(np.float32)


def test_bf16_matches_bit_manipulation_on_float32():
    """bf16 values equal the float32 bit-manipulation reference, subnormals included."""
    rng = _rng()
    x = (rng.standard_normal(20_000) * 10.0 ** rng.uniform(-44, 38, 20_000)).astype(np.float32)
    x = x[np.abs(x) < 3e38]
    r = quantize_float(x, fmt="bf16")
    np.testing.assert_array_equal(r.values.view(np.uint32), _bf16_by_bits(x).view(np.uint32))
    np.testing.assert_array_equal(r.codes, _bf16_by_bits(x).view(np.uint32) >> 16)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fp16_matches_numpy_float16_bit_exactly(dtype):
    """fp16 values and codes equal numpy's float16 cast on in-range data, subnormals included."""
    rng = _rng()
    x = (rng.standard_normal(20_000) * 10.0 ** rng.uniform(-9, 4.8, 20_000)).astype(dtype)
    x = x[np.abs(x) <= 65504]
    r = quantize_float(x, fmt="fp16")
    np.testing.assert_array_equal(r.codes, x.astype(np.float16).view(np.uint16))
    np.testing.assert_array_equal(r.values, x.astype(np.float16).astype(np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_emulation_with_fp16_fields_matches_numpy(dtype):
    """The generic emulator, run with fp16's fields, equals numpy's float16 cast bit-exactly."""
    rng = _rng()
    x = (rng.standard_normal(20_000) * 10.0 ** rng.uniform(-9, 4.8, 20_000)).astype(dtype)
    emulated = FloatFormat(name="fp16_emulated", exp_bits=5, man_bits=10, bias=15,
                           max_finite=65504.0)
    y = round_to_format(x, emulated)
    np.testing.assert_array_equal(y, np.clip(x, -65504, 65504).astype(np.float16).astype(dtype))


def test_fp16_and_fp32_saturate():
    """Out-of-range magnitudes saturate to the largest finite value instead of infinity."""
    assert quantize_float(np.array([1e6]), fmt="fp16").values[0] == 65504.0
    big = quantize_float(np.array([-1e300]), fmt="fp32")
    assert big.values[0] == -np.finfo(np.float32).max
    assert big.codes[0] == 0xFF7FFFFF


def test_float_result_metadata():
    """Float results carry unit scale, zero zero point and the format width."""
    r = quantize_float(np.ones((2, 3)), fmt="fp8_e5m2")
    assert r.bits == 8
    assert r.fmt == "fp8_e5m2"
    assert r.scale.shape == (1, 1)
    assert r.zero_point.item() == 0
    assert r.mse == 0.0
    assert r.sqnr_db == float("inf")


def test_dispatcher_routes_formats():
    """quantize() gives the same result as the specific functions."""
    x = _rng().standard_normal(50)
    np.testing.assert_array_equal(quantize(x, fmt="bf16").values,
                                  quantize_float(x, fmt="bf16").values)
    np.testing.assert_array_equal(quantize(x, bits=5, axis=0).values,
                                  quantize_uniform(x, bits=5, axis=0).values)
    fixed = quantize(x, fmt="fixed", int_bits=2, frac_bits=5)
    assert fixed.bits == 8
    assert fixed.fmt == "fixed"


def test_sqnr_db_helper():
    """sqnr_db is 10 log10(signal / noise), inf without noise."""
    assert sqnr_db(np.array([3.0, 4.0]), np.array([3.0, 3.0])) == pytest.approx(10 * np.log10(25))
    assert sqnr_db(np.ones(3), np.ones(3)) == float("inf")


def test_integer_input_is_accepted():
    """Integer tensors are quantized as float64."""
    r = quantize_uniform(np.arange(-8, 8), bits=4, symmetric=False)
    assert r.values.dtype == np.float64
    assert r.mse == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bits": 0}, "bits must be an integer in 1..16 for fmt='int', got 0"),
        ({"bits": 17}, "bits must be an integer in 1..16"),
        ({"bits": True}, "bits must be an integer"),
        ({"fmt": "fp4"}, "fmt must be one of .*'fp8_e5m2'.*got 'fp4'"),
        ({"axis": 2}, "axis must be None or an integer in -2..1 for a 2-D tensor, got 2"),
        ({"clip": "kl"}, "clip must be one of .*got 'kl'"),
        ({"clip": "percentile", "percentile": 0}, r"percentile must be in \(0, 100\], got 0"),
        ({"clip": "percentile", "percentile": 100.5}, "percentile must be in"),
        ({"fmt": "fixed"}, "int_bits and frac_bits must be integers >= 0 for fmt='fixed'"),
        ({"fmt": "fixed", "int_bits": -1, "frac_bits": 3}, "int_bits must be an integer >= 0"),
        ({"fmt": "fixed", "int_bits": 20, "frac_bits": 20}, "must be <= 32, got 41"),
    ],
)
def test_invalid_parameters_are_rejected(kwargs, message):
    """Bad parameters raise ValueError naming the field, the value and what is allowed."""
    with pytest.raises(ValueError, match=message):
        quantize(np.ones((2, 2)), **kwargs)


@pytest.mark.parametrize("bad", [np.array([1.0, np.nan]), np.array([np.inf]), np.array([])])
def test_invalid_tensors_are_rejected(bad):
    """Empty or non-finite tensors raise ValueError."""
    with pytest.raises(ValueError, match="x must"):
        quantize(bad, fmt="fp16")


@pytest.mark.parametrize("clip", ["max", "mse", "percentile"])
@pytest.mark.parametrize("bits", [8, 16])
def test_tiny_float32_ranges_do_not_break(clip, bits):
    """A float32 range whose step underflows quantizes without error; zero stays code 0."""
    x = np.array([1e-40, 0.0, -1e-40, 5e-41], dtype=np.float32)
    r = quantize_uniform(x, bits=bits, clip=clip)
    assert np.isfinite(r.values).all()
    assert r.codes[1] == 0
    assert 0.0 < r.sqnr_db < float("inf")


def test_error_figures_are_float64_for_float32_input():
    """MSE and SQNR of a float32 tensor are the float64 figures of its values, even when tiny."""
    x = (_rng().standard_normal(1000) * 1e-22).astype(np.float32)
    r = quantize_uniform(x, bits=4)
    err = x.astype(np.float64) - r.values.astype(np.float64)
    assert r.mse == pytest.approx(np.mean(err**2), rel=1e-9)
    assert r.mse > 0.0
    assert r.sqnr_db == pytest.approx(sqnr_db(x.astype(np.float64), r.values), rel=1e-9)
