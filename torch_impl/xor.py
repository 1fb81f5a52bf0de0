"""xor (PyTorch): perceptron gates, then a 2-10-10-10-1 sigmoid MLP that solves XOR.

A perceptron with the course's fixed weights makes AND, NAND and OR; XOR is not linearly
separable, but AND(NAND(x), OR(x)) is XOR. The MLP learns it: BCE loss, SGD lr 1, 10001
full-batch steps. Some seeds get stuck at accuracy 0.5.

Twin: jax_impl/xor.py. Translation hazards handled on purpose:
- init: nn.Linear is kaiming-uniform, U(+-1/sqrt(fan_in)) for weight and bias; the JAX twin
  builds its layers with the same distribution (jax_impl._common.linear), not lecun-normal.
- BCELoss clamps each log at -100; the JAX twin's bce_loss does the same.
- The course logs loss.item() every step, a device sync each time; here losses stay on the
  device in one tensor and are read once at the end.
"""
from __future__ import annotations

import sys

import numpy as np
import torch
from torch import nn

from shared.config import RunConfig
from shared.data import gate_table, xor_data
from shared.progress import bar
from shared.timing import Stopwatch
from torch_impl import _common


def perceptron(x: torch.Tensor, w, b: float) -> torch.Tensor:
    """Step(x @ w + b) > 0 as 0/1. x: (n, 2) -> (n,)."""
    return (x @ torch.tensor(w, dtype=x.dtype) + b > 0).to(x.dtype)


def gate_outputs(gates: dict, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """AND, NAND, OR from their fixed weights, and XOR composed as AND(NAND, OR)."""
    out = {name: perceptron(x, w, b) for name, (w, b) in gates.items()}
    hidden = torch.stack([out["NAND"], out["OR"]], dim=1)  # (n, 2)
    out["XOR"] = perceptron(hidden, *gates["AND"])
    return out


class MLP(nn.Module):
    """2 -> hidden... -> 1, sigmoid after every layer."""

    def __init__(self, hidden: tuple[int, ...]):
        super().__init__()
        self.fc1 = nn.Linear(2, hidden[0])
        self.fc2 = nn.Linear(hidden[0], hidden[1])
        self.fc3 = nn.Linear(hidden[1], hidden[2])
        self.out = nn.Linear(hidden[2], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (n, 2) -> (n, 1)
        for layer in (self.fc1, self.fc2, self.fc3, self.out):
            x = torch.sigmoid(layer(x))
        return x


def build_model(hp: dict, seed: int) -> MLP:
    with _common.seeded(seed):
        return MLP(hp["hidden"])


def init_weights(spec, seed: int, variant: str = "mlp") -> dict[str, np.ndarray]:
    """The freshly initialised model's weights, for the weight exchange."""
    return _common.export_weights(build_model(spec.hp(variant), seed))


def train(model: MLP, x: torch.Tensor, y: torch.Tensor, *, lr: float, steps: int, progress: bool = False) -> torch.Tensor:
    """Full-batch SGD on BCE. Returns the per-step losses, shape (steps,)."""
    loss_fn = nn.BCELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = torch.empty(steps, device=x.device, dtype=x.dtype)
    with bar(steps, "xor torch", enabled=progress) as pbar:
        for step in range(steps):
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            losses[step] = loss.detach()
            if step % 500 == 0:
                pbar.update(min(500, steps - step))
    return losses


def accuracy(model: MLP, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float(((model(x) > 0.5).to(y.dtype) == y).float().mean())


def run_mlp(hp: dict, cfg: RunConfig, device: torch.device, *, seed: int, weights=None, steps=None):
    """Train the MLP; returns (model, losses as numpy, Stopwatch)."""
    dtype = _common.dtype_of(cfg.dtype)
    x, y = _common.to_tensors(*xor_data(), device=device, dtype=dtype)
    model = build_model(hp, seed).to(device, dtype)
    if weights is not None:
        _common.import_weights(model, weights)
    clock = Stopwatch()
    with clock.training():
        losses = train(model, x, y, lr=hp["lr"], steps=steps or hp["steps"], progress=cfg.progress)
        _common.sync(device)
    return model, losses, clock, (x, y)


def run(spec, cfg: RunConfig) -> list:
    """Both variants -> one Record each (what `lessons run/compare xor` calls)."""
    device = _common.select_device(cfg.device)
    _common.set_precision(cfg.precision)
    (x,) = _common.to_tensors(xor_data()[0], device=device)
    gates = gate_outputs(spec.hp("gates")["gates"], x)
    gate_acc = np.mean([np.mean(out.cpu().numpy() == gate_table(g)[1][:, 0]) for g, out in gates.items()])
    records = [_common.make_record(spec, cfg, device, "gates", metrics={"accuracy": float(gate_acc)})]

    hp = spec.hp("mlp")
    steps = cfg.epochs or hp["steps"]
    model, losses, clock, (x, y) = run_mlp(hp, cfg, device, seed=cfg.seed_for(spec), steps=steps)
    _common.check_finite(losses, spec.name)
    losses = losses.cpu().numpy()
    records.append(_common.make_record(
        spec, cfg, device, "mlp", metrics={"accuracy": accuracy(model, x, y), "loss": float(losses[-1])},
        history={"loss": losses.tolist()}, compile_s=clock.compile_s, train_s=clock.train_s,
        steps=steps, samples=steps * len(x)))
    return records


def parity_trace(spec, cfg: RunConfig, weights: dict, steps: int | None = None, variant: str = "mlp") -> dict:
    """Per-step losses and final weights of the MLP from given initial weights (the parity check)."""
    device = _common.select_device(cfg.device)
    _common.set_precision(cfg.precision)
    model, losses, _, (x, y) = run_mlp(spec.hp(variant), cfg.replace(progress=False), device,
                                       seed=cfg.seed_for(spec), weights=weights, steps=steps)
    return {"losses": losses.cpu().numpy(), "weights": _common.export_weights(model),
            "accuracy": accuracy(model, x, y)}


def main(argv: list[str] | None = None) -> int:
    from shared.cli import main as cli
    return cli(["run", "xor", "--framework", "torch", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
