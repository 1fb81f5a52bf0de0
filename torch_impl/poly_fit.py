"""poly_fit (PyTorch): "Learning PyTorch with Examples", y = sin(x) fitted by a cubic.

x = linspace(-pi, pi, 2000), loss = sum of squares, 2000 full-batch steps. Variants:
- tensors: a + b x + c x^2 + d x^3 with gradients written by hand (as the numpy reference,
  shared/polyfit.py, which it reproduces).
- autograd: requires_grad, loss.backward(), then the update under torch.no_grad() so it is not
  recorded, and .grad reset to None: torch *accumulates* into .grad until it is cleared
  (accumulated_grads). grads_with_detached shows .detach() cutting a coefficient out of the graph.
- legendre: a + b P3(c + d x) with P3's backward written by hand (torch.autograd.Function).
- nn: nn.Sequential(nn.Linear(3, 1), nn.Flatten(0, 1)) on (x, x^2, x^3), MSELoss(sum), update by hand.
- optim: the same model with torch.optim.RMSprop.

Twin: jax_impl/poly_fit.py. Where the two differ:
- gradients: torch stores them on the tensors (.grad, accumulating); jax.grad returns them and
  keeps no state. torch needs no_grad() for the update; in JAX the update is outside the function
  being differentiated. detach() <-> jax.lax.stop_gradient.
- custom backward: autograd.Function (ctx.save_for_backward) <-> jax.custom_vjp (fwd returns
  residuals). Only this module has the Function class; both expose legendre_p3.
- init: both start from the same coefficients (shared.polyfit.initial_coefficients), imported
  into the model; nn.Linear's own kaiming-uniform init is overwritten.
- RMSprop: torch alpha 0.99, eps outside the sqrt; the twin configures optax to match.
- features: the course's x.unsqueeze(-1).pow(tensor([1, 2, 3])) takes a general pow; powers
  written out (x, x**2, x**3) round the same way in both frameworks.
"""
from __future__ import annotations

import sys

import numpy as np
import torch
from torch import nn

from shared import polyfit
from shared.config import RunConfig
from shared.timing import Stopwatch
from torch_impl import _common


class LegendrePolynomial3(torch.autograd.Function):
    """P3(x) = (5x^3 - 3x) / 2 with its backward written by hand: dP3/dx = 1.5 (5x^2 - 1)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return 0.5 * (5 * x ** 3 - 3 * x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * 1.5 * (5 * x ** 2 - 1)


legendre_p3 = LegendrePolynomial3.apply


def cubic(params, x: torch.Tensor) -> torch.Tensor:
    """a + b x + c x^2 + d x^3. params: four 0-d tensors; x: (n,) -> (n,)."""
    a, b, c, d = params
    return a + b * x + c * x ** 2 + d * x ** 3


def legendre(params, x: torch.Tensor) -> torch.Tensor:
    """a + b P3(c + d x), P3 with the hand-written backward. x: (n,) -> (n,)."""
    a, b, c, d = params
    return a + b * legendre_p3(c + d * x)


MODELS = {"cubic": cubic, "legendre": legendre}


def sum_sq(y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (y_pred - y).pow(2).sum()


def fit_tensors(params, x, y, *, lr: float, steps: int):
    """Gradients by hand, as the numpy example. Returns (params, losses (steps,))."""
    a, b, c, d = params
    losses = torch.empty(steps, dtype=x.dtype, device=x.device)
    for step in range(steps):
        y_pred = a + b * x + c * x ** 2 + d * x ** 3
        losses[step] = (y_pred - y).pow(2).sum()
        grad_y_pred = 2.0 * (y_pred - y)
        grad_a = grad_y_pred.sum()
        grad_b = (grad_y_pred * x).sum()
        grad_c = (grad_y_pred * x ** 2).sum()
        grad_d = (grad_y_pred * x ** 3).sum()
        a, b, c, d = a - lr * grad_a, b - lr * grad_b, c - lr * grad_c, d - lr * grad_d
    return (a, b, c, d), losses


def fit_autograd(params, x, y, *, lr: float, steps: int, model=cubic):
    """loss.backward() fills each coefficient's .grad; the update runs under no_grad and
    clears .grad, which would otherwise accumulate. Returns (params, losses (steps,))."""
    params = tuple(p.detach().clone().requires_grad_(True) for p in params)
    losses = torch.empty(steps, dtype=x.dtype, device=x.device)
    for step in range(steps):
        loss = sum_sq(model(params, x), y)
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad
                p.grad = None
        losses[step] = loss.detach()
    return params, losses


def grads_with_detached(params, x, y, detached: str) -> dict:
    """Gradients of the cubic's loss with one coefficient used through .detach().

    The detached coefficient is a constant to autograd: its .grad stays None (jax: stop_gradient
    gives 0). The others' gradients are unchanged."""
    params = [p.detach().clone().requires_grad_(True) for p in params]
    used = [p.detach() if name == detached else p for name, p in zip(polyfit.COEFFS, params)]
    sum_sq(cubic(used, x), y).backward()
    return {name: None if p.grad is None else float(p.grad) for name, p in zip(polyfit.COEFFS, params)}


def accumulated_grads(params, x, y, times: int) -> list[np.ndarray]:
    """What .grad holds after each of ``times`` backward() calls without zeroing: k times the
    gradient after the k-th, because torch adds into .grad. (The twin has to sum explicitly.)"""
    params = [p.detach().clone().requires_grad_(True) for p in params]
    out = []
    for _ in range(times):
        sum_sq(cubic(params, x), y).backward()
        out.append(np.array([float(p.grad) for p in params]))
    return out


def features(x: torch.Tensor) -> torch.Tensor:
    """(x, x^2, x^3): (n,) -> (n, 3)."""
    return torch.stack([x, x ** 2, x ** 3], dim=-1)


def build_model(coeffs: dict, dtype: torch.dtype) -> nn.Sequential:
    """Linear(3, 1) on the features, then Flatten(0, 1): (n, 3) -> (n,); bias a, weight (b, c, d)."""
    model = nn.Sequential(nn.Linear(3, 1), nn.Flatten(0, 1)).to(dtype)
    with torch.no_grad():  # the coefficients in ``dtype`` itself, not rounded through float32
        model[0].bias.copy_(torch.tensor([float(coeffs["a"])], dtype=torch.float64))
        model[0].weight.copy_(torch.tensor([[float(coeffs[k]) for k in "bcd"]], dtype=torch.float64))
    return model


def fit_nn(model: nn.Module, xx, y, *, lr: float, steps: int):
    """MSELoss(sum), backward, and each parameter updated by hand under no_grad."""
    loss_fn = nn.MSELoss(reduction="sum")
    losses = torch.empty(steps, dtype=xx.dtype, device=xx.device)
    for step in range(steps):
        loss = loss_fn(model(xx), y)
        model.zero_grad()
        loss.backward()
        with torch.no_grad():
            for param in model.parameters():
                param -= lr * param.grad
        losses[step] = loss.detach()
    return losses


def fit_optim(model: nn.Module, xx, y, *, optimizer: torch.optim.Optimizer, steps: int):
    """The same loop with an optimizer: zero_grad, backward, step."""
    loss_fn = nn.MSELoss(reduction="sum")
    losses = torch.empty(steps, dtype=xx.dtype, device=xx.device)
    for step in range(steps):
        loss = loss_fn(model(xx), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses[step] = loss.detach()
    return losses


def rmsprop(model: nn.Module, hp: dict) -> torch.optim.Optimizer:
    return torch.optim.RMSprop(model.parameters(), lr=hp["lr"], alpha=hp["alpha"], eps=hp["eps"])


def model_coefficients(model: nn.Module) -> dict[str, np.ndarray]:
    w = model[0].weight.detach().cpu().numpy()[0]  # (3,)
    return {"a": model[0].bias.detach().cpu().numpy()[0], "b": w[0], "c": w[1], "d": w[2]}


def init_weights(spec, seed: int, variant: str = "tensors") -> dict[str, np.ndarray]:
    """The variant's initial (a, b, c, d), shared by both frameworks (the weight exchange)."""
    return polyfit.initial_coefficients(spec, seed, variant)


def train_variant(spec, variant: str, coeffs: dict, cfg: RunConfig, device: torch.device, steps: int | None = None):
    """Fit one variant from ``coeffs``. Returns (final coefficients, losses as numpy, Stopwatch)."""
    hp = spec.hp(variant)
    steps = steps or hp["steps"]
    dtype = _common.dtype_of(cfg.dtype)
    x, y = _common.to_tensors(*polyfit.data(spec, cfg.dtype), device=device)
    params = tuple(torch.tensor(float(coeffs[k]), dtype=dtype, device=device) for k in polyfit.COEFFS)
    model = build_model(coeffs, dtype).to(device) if variant in ("nn", "optim") else None
    clock = Stopwatch()
    with clock.training():
        if variant == "tensors":
            params, losses = fit_tensors(params, x, y, lr=hp["lr"], steps=steps)
        elif variant in ("autograd", "legendre"):
            params, losses = fit_autograd(params, x, y, lr=hp["lr"], steps=steps, model=MODELS[hp["model"]])
        elif variant == "nn":
            losses = fit_nn(model, features(x), y, lr=hp["lr"], steps=steps)
        else:
            losses = fit_optim(model, features(x), y, optimizer=rmsprop(model, hp), steps=steps)
        _common.sync(device)
    _common.check_finite(losses, spec.name)
    out = (model_coefficients(model) if model is not None
           else {k: p.detach().cpu().numpy() for k, p in zip(polyfit.COEFFS, params)})
    return out, losses.cpu().numpy(), clock


def run(spec, cfg: RunConfig) -> list:
    """Every variant -> one Record each (what `lessons run/compare poly_fit` calls)."""
    device = _common.select_device(cfg.device)
    _common.set_precision(cfg.precision)
    seed = cfg.seed_for(spec)
    records = []
    for variant in spec.variants:
        coeffs, losses, clock = train_variant(spec, variant, init_weights(spec, seed, variant), cfg, device,
                                              steps=cfg.epochs)
        records.append(_common.make_record(
            spec, cfg, device, variant, metrics={"loss": float(losses[-1]), **{k: float(v) for k, v in coeffs.items()}},
            history={"loss": losses.tolist()}, compile_s=clock.compile_s, train_s=clock.train_s,
            steps=len(losses), samples=len(losses) * spec.hp()["points"]))
    return records


def parity_trace(spec, cfg: RunConfig, weights: dict, steps: int | None = None, variant: str = "tensors") -> dict:
    """Per-step losses and final coefficients of one variant from given initial coefficients."""
    device = _common.select_device(cfg.device)
    _common.set_precision(cfg.precision)
    coeffs, losses, _ = train_variant(spec, variant, weights, cfg, device, steps=steps)
    return {"losses": losses, "weights": coeffs}


def main(argv: list[str] | None = None) -> int:
    from shared.cli import main as cli
    return cli(["run", "poly_fit", "--framework", "torch", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
