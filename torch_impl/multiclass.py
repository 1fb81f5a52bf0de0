"""multiclass (PyTorch): MNIST 0/1/2 with a 784-32-3 MLP and cross-entropy on integer labels.

Going from two classes to three changes two things: the output layer has one logit per class,
and the loss is nn.CrossEntropyLoss on the raw logits with integer labels (it applies
log-softmax itself, so the model has no softmax layer). Adam at its defaults, 100 full-batch
epochs; the prediction is the argmax of the logits.

Twin: jax_impl/multiclass.py. Translation hazards handled on purpose:
- init: nn.Linear's U(+-1/sqrt(fan_in)); the JAX twin uses the same (not lecun-normal).
- loss: nn.CrossEntropyLoss(logits, labels) with int64 labels and mean reduction is
  optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean().
- Adam: torch's defaults (lr 1e-3, betas (0.9, 0.999), eps 1e-8 outside the square root) are
  optax.adam(1e-3)'s; five steps from the same weights and gradients agree to one float32
  rounding unit (fused or not; fused=True here).
- Full batch: the course computes the loss on all training images per step; _common.fit does
  exactly that (no gather) when the batch is the whole set.
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


class Net(nn.Module):
    """784 -> hidden -> classes: ReLU, then raw logits (the loss applies log-softmax)."""

    def __init__(self, hidden: int, classes: int):
        super().__init__()
        self.fc1 = nn.Linear(28 * 28, hidden)
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (n, 784) -> (n, classes)
        return self.fc2(torch.relu(self.fc1(x)))


def build_model(hp: dict, seed: int) -> Net:
    with _common.seeded(seed):
        return Net(hp["hidden"], len(hp["classes"]))


def init_weights(spec, seed: int, variant: str = "mlp") -> dict[str, np.ndarray]:
    """The freshly initialised model's weights, for the weight exchange."""
    return _common.export_weights(build_model(spec.hp(variant), seed))


def load_data(hp: dict, source: str) -> tuple[np.ndarray, ...]:
    """x_train (n, 784) in [0, 1], y_train (n,) int64 class index, x_test, y_test."""
    x_train, y_train, x_test, y_test = load_images("mnist", source, classes=hp["classes"]).flat()
    index = lambda y: np.searchsorted(np.asarray(hp["classes"]), y).astype(np.int64)
    return x_train, index(y_train), x_test, index(y_test)


def accuracy(model: Net, x: torch.Tensor, y: torch.Tensor) -> float:
    return float((_common.predict(model, x).argmax(dim=1) == y).float().mean())


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """nn.CrossEntropyLoss(): mean over the batch of -log softmax(logits)[label]."""
    return nn.functional.cross_entropy(logits, labels)


def train(spec, variant: str, cfg: RunConfig, device: torch.device, *, seed: int, weights=None,
          epochs: int | None = None, evaluate: bool = True):
    """Train full-batch. Returns (model, per-step losses, per-epoch history, Stopwatch, data).

    history: "loss" (one step per epoch, so the step losses) and, when ``evaluate``, train and
    test accuracy after each epoch (not counted as training time).
    """
    hp = spec.hp(variant)
    epochs = epochs or hp["epochs"]
    data = _common.to_tensors(*load_data(hp, cfg.data), device=device, dtype=_common.dtype_of(cfg.dtype))
    x_train, y_train, x_test, y_test = data
    model = build_model(hp, seed).to(device, _common.dtype_of(cfg.dtype))
    if weights is not None:
        _common.import_weights(model, weights)
    optimizer = torch.optim.Adam(model.parameters(), lr=hp["lr"], fused=True)
    clock, eval_clock = Stopwatch(), Stopwatch()

    def on_epoch(epoch: int) -> dict[str, float]:
        with eval_clock.training():
            return {"train_accuracy": accuracy(model, x_train, y_train),
                    "test_accuracy": accuracy(model, x_test, y_test)}

    with clock.training():
        losses, history = _common.fit(
            model, optimizer, cross_entropy, x_train, y_train, batch_size=len(x_train), shuffle=False,
            drop_last=False, seed=seed, epochs=epochs, name=f"{spec.name} torch",
            on_epoch=on_epoch if evaluate else None, progress=cfg.progress,
            course=cfg.loop == "course")
        _common.sync(device)
    clock.train_s -= eval_clock.train_s
    return model, losses, {"loss": losses.tolist(), **history}, clock, data


def run(spec, cfg: RunConfig) -> list:
    """One Record (what `lessons run/compare multiclass` calls)."""
    device = _common.select_device(cfg.device)
    _common.set_precision(cfg.precision)
    records = []
    for variant in spec.variants:
        model, losses, history, clock, (x_train, y_train, x_test, y_test) = train(
            spec, variant, cfg, device, seed=cfg.seed_for(spec), epochs=cfg.epochs)
        records.append(_common.make_record(
            spec, cfg, device, variant,
            metrics={"train_accuracy": accuracy(model, x_train, y_train),
                     "test_accuracy": accuracy(model, x_test, y_test), "loss": float(losses[-1])},
            history=history, train_s=clock.train_s, steps=len(losses), samples=len(losses) * len(x_train)))
    return records


def parity_trace(spec, cfg: RunConfig, weights: dict, steps: int | None = None, variant: str = "mlp") -> dict:
    """Per-step losses and final weights from given initial weights (one step per epoch); None: the whole run."""
    device = _common.select_device(cfg.device)
    _common.set_precision(cfg.precision)
    model, losses, _, _, (x_train, y_train, x_test, y_test) = train(
        spec, variant, cfg.replace(progress=False), device, seed=cfg.seed_for(spec), weights=weights,
        epochs=steps, evaluate=False)
    return {"losses": losses, "weights": _common.export_weights(model),
            "test_accuracy": accuracy(model, x_test, y_test)}


def main(argv: list[str] | None = None) -> int:
    from shared.cli import main as cli
    return cli(["run", "multiclass", "--framework", "torch", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
