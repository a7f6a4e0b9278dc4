"""Systolic-array accelerators, with a compute model that reproduces SCALE-Sim 3.0.0 counts."""
