"""Small synthetic sets the lessons are built on."""
from __future__ import annotations

import numpy as np

GATES = ("AND", "NAND", "OR", "XOR")


def sin_data(n: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """x = linspace(-pi, pi, n), y = sin(x), float64 (the polynomial-fit lesson). Shapes (n,), (n,)."""
    x = np.linspace(-np.pi, np.pi, n)
    return x, np.sin(x)


def linear_data(n: int = 100_000, *, seed: int, noise: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """y = 2x + eps with x ~ U(-1, 1) and eps ~ N(0, noise^2); float32 (n, 1), (n, 1)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, size=(n, 1)).astype(np.float32)
    y = (2.0 * x + noise * rng.standard_normal((n, 1))).astype(np.float32)
    return x, y


def toy_data() -> tuple[np.ndarray, np.ndarray]:
    """x = 0..9, y = [1]*5 + [0]*5 (the Dataset/DataLoader lesson). float32 (10,), (10,)."""
    return np.arange(10, dtype=np.float32), np.array([1] * 5 + [0] * 5, dtype=np.float32)


def gate_table(gate: str) -> tuple[np.ndarray, np.ndarray]:
    """The two-input truth table of AND, NAND, OR or XOR: x (4, 2), y (4, 1), float32."""
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    a, b = x[:, 0].astype(bool), x[:, 1].astype(bool)
    y = {"AND": a & b, "NAND": ~(a & b), "OR": a | b, "XOR": a ^ b}[gate]
    return x, y.astype(np.float32)[:, None]


def xor_data() -> tuple[np.ndarray, np.ndarray]:
    return gate_table("XOR")
