"""gd_vs_sgd (PyTorch): full-batch gradient descent vs minibatch SGD on MNIST 0/1.

A 784-32-1 MLP (ReLU, then a sigmoid probability) with BCELoss and Adam at its defaults. GD
takes one step per epoch on all training images, for 700 epochs; SGD takes shuffled batches of
2048 (128 on the 800 embedded images, keeping 7 steps per epoch) for 100 epochs. Both reach
about the same accuracy: SGD's noisier steps cost far fewer passes over the data.

GPU variant: the same code with --device gpu. The course moves each batch to the device
inside the loop::

    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)

Here the training set moves to the device once (it is 10 MB even for full MNIST 0/1) and each
batch is an index into it (_common.fit): the same batches, without a host-to-device copy per
step. The model stays on the device throughout.

Twin: jax_impl/gd_vs_sgd.py. Translation hazards handled on purpose:
- init: nn.Linear's U(+-1/sqrt(fan_in)); the JAX twin uses the same (not lecun-normal).
- BCELoss clamps each log at -100; the JAX twin's _common.bce_loss does too.
- Adam: torch's defaults (lr 1e-3, betas (0.9, 0.999), eps 1e-8 added outside the square root,
  bias correction) are optax.adam(1e-3)'s defaults; five steps from the same weights and
  gradients agree to one float32 rounding unit (fused or not; fused=True here).
- Batches: both frameworks take the shared batch plan (shared/batches.py), DataLoader order.
"""
from __future__ import annotations

import sys

import numpy as np
import torch
from torch import nn

from shared.batches import epoch_means, epochs_for
from shared.config import RunConfig
from shared.data import load_images
from shared.timing import Stopwatch
from torch_impl import _common


class Net(nn.Module):
    """784 -> hidden -> 1: ReLU, then a sigmoid probability."""

    def __init__(self, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(28 * 28, hidden)
        self.fc2 = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (n, 784) -> (n, 1)
        return torch.sigmoid(self.fc2(torch.relu(self.fc1(x))))


def build_model(hp: dict, seed: int) -> Net:
    with _common.seeded(seed):
        return Net(hp["hidden"])


def init_weights(spec, seed: int, variant: str = "gd") -> dict[str, np.ndarray]:
    """The freshly initialised model's weights, for the weight exchange."""
    return _common.export_weights(build_model(spec.hp(variant), seed))


def load_data(hp: dict, source: str) -> tuple[np.ndarray, ...]:
    """x_train (n, 784) in [0, 1], y_train (n, 1) 0./1., x_test, y_test: the two classes only."""
    x_train, y_train, x_test, y_test = load_images("mnist", source, classes=hp["classes"]).flat()
    label = lambda y: (y == hp["classes"][1]).astype(np.float32)[:, None]
    return x_train, label(y_train), x_test, label(y_test)


def batch_size_of(hp: dict, source: str, n: int) -> int:
    """The variant's batch size on this data source; None in the spec means all n (full batch)."""
    return n if hp["batch_size"] is None else hp["batch_size"][source]


def accuracy(model: Net, x: torch.Tensor, y: torch.Tensor) -> float:
    return float(((_common.predict(model, x) > 0.5).to(y.dtype) == y).float().mean())


def train(spec, variant: str, cfg: RunConfig, device: torch.device, *, seed: int, weights=None,
          epochs: int | None = None, evaluate: bool = True):
    """Train one variant. Returns (model, per-step losses, per-epoch history, Stopwatch, data).

    history: "loss" (each epoch's loss over its samples, from the step losses) and, when
    ``evaluate``, train and test accuracy after each epoch (not counted as training time).
    """
    hp = spec.hp(variant)
    epochs = epochs or hp["epochs"]
    data = _common.to_tensors(*load_data(hp, cfg.data), device=device, dtype=_common.dtype_of(cfg.dtype))
    x_train, y_train, x_test, y_test = data
    model = build_model(hp, seed).to(device, _common.dtype_of(cfg.dtype))
    if weights is not None:
        _common.import_weights(model, weights)
    optimizer = torch.optim.Adam(model.parameters(), lr=hp["lr"], fused=True)
    n = len(x_train)
    batch_size = batch_size_of(hp, cfg.data, n)
    clock, eval_clock = Stopwatch(), Stopwatch()

    def on_epoch(epoch: int) -> dict[str, float]:
        with eval_clock.training():
            return {"train_accuracy": accuracy(model, x_train, y_train),
                    "test_accuracy": accuracy(model, x_test, y_test)}

    with clock.training():
        losses, history = _common.fit(
            model, optimizer, nn.BCELoss(), x_train, y_train, batch_size=batch_size, shuffle=hp["shuffle"],
            drop_last=False, seed=seed, epochs=epochs, name=f"{spec.name} {variant} torch",
            on_epoch=on_epoch if evaluate else None, progress=cfg.progress,
            course=cfg.loop == "course")
        _common.sync(device)
    clock.train_s -= eval_clock.train_s
    history = {"loss": epoch_means(losses, n, batch_size, drop_last=False).tolist(), **history}
    return model, losses, history, clock, data


def run(spec, cfg: RunConfig) -> list:
    """Both variants -> one Record each (what `lessons run/compare gd_vs_sgd` calls)."""
    device = _common.select_device(cfg.device)
    _common.set_precision(cfg.precision)
    records = []
    for variant in spec.variants:
        model, losses, history, clock, (x_train, y_train, x_test, y_test) = train(
            spec, variant, cfg, device, seed=cfg.seed_for(spec), epochs=cfg.epochs)
        epochs = len(history["loss"])
        records.append(_common.make_record(
            spec, cfg, device, variant,
            metrics={"train_accuracy": accuracy(model, x_train, y_train),
                     "test_accuracy": accuracy(model, x_test, y_test), "loss": history["loss"][-1]},
            history=history, train_s=clock.train_s, steps=len(losses), samples=epochs * len(x_train)))
    return records


def parity_trace(spec, cfg: RunConfig, weights: dict, steps: int | None = None, variant: str = "gd") -> dict:
    """Per-step losses and final weights of one variant from given initial weights.

    ``steps`` is rounded up to whole epochs (SGD has several steps per epoch); None: the whole run.
    """
    device = _common.select_device(cfg.device)
    _common.set_precision(cfg.precision)
    hp = spec.hp(variant)
    epochs = None
    if steps is not None:
        n = len(load_data(hp, cfg.data)[0])
        epochs = epochs_for(steps, n, batch_size_of(hp, cfg.data, n), drop_last=False)
    model, losses, _, _, (x_train, y_train, x_test, y_test) = train(
        spec, variant, cfg.replace(progress=False), device, seed=cfg.seed_for(spec), weights=weights,
        epochs=epochs, evaluate=False)
    return {"losses": losses, "weights": _common.export_weights(model),
            "test_accuracy": accuracy(model, x_test, y_test)}


def main(argv: list[str] | None = None) -> int:
    from shared.cli import main as cli
    return cli(["run", "gd_vs_sgd", "--framework", "torch", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
