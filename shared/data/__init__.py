"""Data for every lesson, as numpy arrays. No framework imports (jax's examples/datasets.py style)."""
from shared.data.synthetic import gate_table, linear_data, sin_data, toy_data, xor_data

__all__ = ["gate_table", "linear_data", "sin_data", "toy_data", "xor_data"]
