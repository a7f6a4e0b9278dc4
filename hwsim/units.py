"""Unit constants and small conversions; every quantity in hwsim is SI without prefixes."""

from __future__ import annotations

KIB = 1024
MIB = 1024**2
GIB = 1024**3
KB = 1000
MB = 1000**2
GB = 1000**3

PICO = 1e-12
NANO = 1e-9
MICRO = 1e-6
MILLI = 1e-3

MHZ = 1e6
GHZ = 1e9


def bits_to_bytes(n_elements: float, bits: int) -> float:
    """Bytes taken by ``n_elements`` values of ``bits`` bits each (packed, may be fractional)."""
    return n_elements * bits / 8.0


def cycles_to_s(cycles: float, freq_hz: float) -> float:
    """Seconds taken by ``cycles`` clock cycles at ``freq_hz``."""
    return cycles / freq_hz
