"""poly_fit, framework-neutral: the numpy reference fit, initial coefficients, the models, the plot.

The lesson fits y = sin(x) on x = linspace(-pi, pi, 2000) with a cubic a + b x + c x^2 + d x^3
(or, in the legendre variant, a + b P3(c + d x)). Everything here is numpy; both frameworks'
variants start from :func:`initial_coefficients` and are checked against :func:`fit_numpy`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from shared.data import sin_data

COEFFS = ("a", "b", "c", "d")


def initial_coefficients(hp: dict, seed: int) -> dict[str, np.ndarray]:
    """A variant's starting (a, b, c, d) as float64 0-d arrays: both frameworks' build_model start here.

    ``hp["init"]`` is either four numbers (legendre, as the course), "normal" (the course's
    np.random.randn / torch.randn) or "linear" (U(+-1/sqrt(3)), nn.Linear(3, 1)'s default for its
    weight and bias, so the nn variants start where torch's own init would put them). The course
    draws these unseeded; here one numpy generator seeded with ``seed`` draws them for both.
    """
    init = hp["init"]
    rng = np.random.default_rng(seed)
    if init == "normal":
        values = rng.standard_normal(4)
    elif init == "linear":
        values = rng.uniform(-1 / np.sqrt(3), 1 / np.sqrt(3), 4)
    else:
        values = np.asarray(init, np.float64)
    return {k: np.asarray(v, np.float64) for k, v in zip(COEFFS, values)}


def data(spec, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """x, y = sin(x) in ``dtype``, shapes (n,), (n,)."""
    x, y = sin_data(spec.hp()["points"])
    return x.astype(dtype), y.astype(dtype)


def legendre_p3(x: np.ndarray) -> np.ndarray:
    """P3(x) = (5x^3 - 3x) / 2."""
    return 0.5 * (5 * x ** 3 - 3 * x)


def predict(model: str, coeffs: dict, x: np.ndarray) -> np.ndarray:
    """The fitted curve: "cubic" a + b x + c x^2 + d x^3, or "legendre" a + b P3(c + d x)."""
    a, b, c, d = (float(coeffs[k]) for k in COEFFS)
    if model == "legendre":
        return a + b * legendre_p3(c + d * x)
    return a + b * x + c * x ** 2 + d * x ** 3


def fit_numpy(coeffs: dict, x: np.ndarray, y: np.ndarray, *, lr: float, steps: int):
    """The course's numpy example: sum-of-squares loss, gradients by hand, plain GD.

    Computes in x's dtype. Returns (final coefficients as 0-d arrays, per-step losses (steps,)).
    """
    a, b, c, d = (np.asarray(coeffs[k], x.dtype) for k in COEFFS)
    lr = x.dtype.type(lr)
    losses = np.empty(steps, x.dtype)
    for step in range(steps):
        y_pred = a + b * x + c * x ** 2 + d * x ** 3
        losses[step] = np.square(y_pred - y).sum()
        grad_y_pred = 2.0 * (y_pred - y)
        grad_a = grad_y_pred.sum()
        grad_b = (grad_y_pred * x).sum()
        grad_c = (grad_y_pred * x ** 2).sum()
        grad_d = (grad_y_pred * x ** 3).sum()
        a, b, c, d = a - lr * grad_a, b - lr * grad_b, c - lr * grad_c, d - lr * grad_d
    return dict(zip(COEFFS, (np.asarray(v) for v in (a, b, c, d)))), losses


def coefficient_rel(ref: dict, other: dict) -> float:
    """max |Δ coefficient| / max |coefficient of ref|: the agreement measure of the tests.

    Relative to the largest coefficient, not per coefficient: a and c end near 0 (sin is odd),
    where a per-coefficient ratio would measure rounding of a number that is itself rounding.
    """
    ref_v = np.array([float(ref[k]) for k in COEFFS])
    other_v = np.array([float(other[k]) for k in COEFFS])
    return float(np.max(np.abs(ref_v - other_v)) / np.max(np.abs(ref_v)))


def plot_fits(spec, records, out_dir: Path) -> dict[Path, bytes]:
    """One figure per variant, as {path: PNG bytes}: sin(x), each framework's fitted curve (torch
    solid, jax dashed), and, for the cubics fitted by plain GD from the same start, the numpy reference."""
    from shared.tools.plots import STYLE, WIDTH_IN, plt, png_bytes  # matplotlib (slow to import) only when plotting

    x, y = sin_data(spec.hp()["points"])
    pngs = {}
    for variant in dict.fromkeys(r.variant for r in records):
        hp = spec.hp(variant)
        fig, ax = plt.subplots(figsize=(WIDTH_IN, 4.8))
        ax.plot(x, y, color="black", linewidth=3, alpha=0.3, label="sin(x)")
        for r in (r for r in records if r.variant == variant):
            coeffs = {k: r.metrics[k] for k in COEFFS}
            label = (f"{r.framework}: " + ", ".join(f"{k}={coeffs[k]:.4f}" for k in COEFFS)
                     + f", loss {r.metrics['loss']:.3f}")
            ax.plot(x, predict(hp["model"], coeffs, x), label=label, **STYLE.get(r.framework, {}))
        if variant in spec.parity.extras["numpy_reference"]:
            seed = next(r.seed for r in records if r.variant == variant)
            steps = next(r.steps for r in records if r.variant == variant)
            ref, losses = fit_numpy(initial_coefficients(hp, seed), x, y, lr=hp["lr"], steps=steps)
            ax.plot(x, predict("cubic", ref, x), color="grey", linestyle=":",
                    label=f"numpy reference, loss {losses[-1]:.3f}")
        ax.set_xlabel("x")
        formula = "a + b P3(c + d x)" if hp["model"] == "legendre" else "a + b x + c x² + d x³"
        ax.set_title(f"{spec.name} · {variant}: {formula}")
        ax.legend(fontsize=9, loc="upper left")
        pngs[out_dir / spec.name / f"fit-{variant}.png"] = png_bytes(fig)
    return pngs
