"""dropout (PyTorch): train mode vs eval mode, Linear(784, 512) -> ReLU -> Dropout(p) -> Linear(512, 10).

In train mode nn.Dropout zeroes each activation with probability p and scales the survivors by
1/(1-p), so every activation keeps its expected value; in eval mode it is the identity. Training
runs in train mode and every evaluation in eval mode: model.train() / model.eval(), which
_common.fit and _common.predict switch. Forgetting model.eval() evaluates a random sub-network:
the record keeps that accuracy too (train_mode_test_accuracy) to show the difference.

Twin: jax_impl/dropout.py. Translation hazards handled on purpose:
- init: nn.Linear is U(+-1/sqrt(fan_in)) for weight and bias; the twin uses the same distribution.
- train/eval: torch's module flag `training` is NNX's Dropout attribute `deterministic`, set by
  the NNX module's own .train() / .eval().
- RNG: torch draws masks from its global generator (seeded here); JAX's come from an explicit
  stream in the model's state. The masks differ, so the frameworks are compared by accuracy
  bands over seeds (`lessons parity dropout`), not bit for bit.
- Adam: torch's eps 1e-8 is added outside the sqrt, as in optax.adam. fused=True runs the whole
  update as one kernel per step.
"""
from __future__ import annotations

import sys

import numpy as np
import torch
from torch import nn

from shared.config import RunConfig
from shared.data import load_images
from shared.timing import Stopwatch
from torch_impl import _common


class MLP(nn.Module):
    """784 -> hidden -> 10 logits, Dropout(p) after the hidden ReLU."""

    def __init__(self, hidden: int, p: float):
        super().__init__()
        self.fc1 = nn.Linear(784, hidden)
        self.dropout = nn.Dropout(p)
        self.fc2 = nn.Linear(hidden, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (n, 784) -> (n, 10)
        return self.fc2(self.dropout(torch.relu(self.fc1(x))))


def build_model(hp: dict) -> MLP:
    """A fresh model from torch's global generator; the caller seeds it (see run)."""
    return MLP(hp["hidden"], hp["p"])


def init_weights(spec, seed: int, variant: str = "dropout") -> dict[str, np.ndarray]:
    """The freshly initialised model's weights, for the weight exchange."""
    with _common.seeded(seed):
        return _common.export_weights(build_model(spec.hp(variant)))


def accuracy(model: MLP, x: torch.Tensor, y: torch.Tensor) -> float:
    """Accuracy over all of x in eval mode (_common.predict switches it; the model's mode is restored)."""
    return float((_common.predict(model, x).argmax(1) == y).float().mean())


def train_mode_accuracy(model: MLP, x: torch.Tensor, y: torch.Tensor) -> float:
    """What forgetting model.eval() measures: each sample through a random sub-network."""
    model.train()
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """nn.CrossEntropyLoss: the mean over the batch of -log softmax(logits)[y]."""
    return nn.functional.cross_entropy(logits, y)


def train(model: MLP, x: torch.Tensor, y: torch.Tensor, hp: dict, *, seed: int, epochs: int, clock: Stopwatch,
          on_epoch=None, progress: bool = False) -> tuple[np.ndarray, dict]:
    """Adam on cross-entropy over the shared batch plan, in train mode. Returns (per-step losses, history)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=hp["lr"], fused=True)
    with clock.training():
        losses, history = _common.fit(
            model, optimizer, cross_entropy, x, y, batch_size=hp["batch_size"], shuffle=hp["shuffle"],
            drop_last=hp["drop_last"], seed=seed, epochs=epochs, name="dropout torch", on_epoch=on_epoch,
            progress=progress)
    return losses, history


def run(spec, cfg: RunConfig) -> list:
    """Train with dropout, evaluate in eval mode -> one Record (what `lessons run/compare dropout` calls)."""
    device = _common.select_device(cfg.device)
    _common.set_precision(cfg.precision)
    hp, seed = spec.hp("dropout"), cfg.seed_for(spec)
    epochs = cfg.epochs or hp["epochs"]
    x, y, x_test, y_test = _common.to_tensors(*load_images(spec.dataset, cfg.data).flat(), device=device,
                                              dtype=_common.dtype_of(cfg.dtype))
    clock = Stopwatch()
    with _common.seeded(seed):  # one stream, as in the course's script: the init, then the masks
        model = build_model(hp).to(device, _common.dtype_of(cfg.dtype))
        losses, history = train(model, x, y, hp, seed=seed, epochs=epochs, clock=clock, progress=cfg.progress,
                                on_epoch=lambda epoch: {"test_accuracy": accuracy(model, x_test, y_test)})
        train_mode = train_mode_accuracy(model, x_test, y_test)
    per_epoch = len(losses) // epochs
    history["loss"] = losses.reshape(epochs, per_epoch).mean(1).tolist()
    return [_common.make_record(
        spec, cfg, device, "dropout",
        metrics={"test_accuracy": accuracy(model, x_test, y_test), "train_accuracy": accuracy(model, x, y),
                 "train_mode_test_accuracy": train_mode, "loss": float(losses[-1])},
        history=history, compile_s=clock.compile_s, train_s=clock.train_s,
        steps=len(losses), samples=epochs * len(x))]


def main(argv: list[str] | None = None) -> int:
    from shared.cli import main as cli
    return cli(["run", "dropout", "--framework", "torch", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
