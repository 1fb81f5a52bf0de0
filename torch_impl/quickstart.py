"""quickstart (PyTorch): the PyTorch quickstart network on Fashion-MNIST, four optimizers.

The network is the quickstart's: Flatten, then Linear(784, 512), ReLU, Linear(512, 512), ReLU,
Linear(512, 10), trained with CrossEntropyLoss on the 60,000 Fashion-MNIST training images in
the quickstart's DataLoader(batch_size=64) order (no shuffling, the last batch of 32 kept). It
is trained once per optimizer the course explains, with the settings in the spec:
- SGD: p -= lr * g;
- SGD with momentum: v = mu * v + g (v = g at the first step), p -= lr * v;
- RMSprop: s = alpha * s + (1 - alpha) * g^2, p -= lr * g / (sqrt(s) + eps);
- Adam: m, v moving averages of g and g^2 with bias correction, p -= lr * m^ / (sqrt(v^) + eps).
Test accuracy and loss are measured after every epoch, as the quickstart's test() does.

The quickstart's loop moves every batch from a DataLoader to the device; here the images move
to the device once and each batch is an index into them (_common.fit): the same batches
without a copy per step. Adam and SGD use torch's fused CPU/GPU kernels (fused=True: one
kernel for all parameters, the same arithmetic); RMSprop has no fused form and uses the default.

Twin: jax_impl/quickstart.py. Translation hazards handled on purpose:
- init: nn.Linear's U(+-1/sqrt(fan_in)) for weights and biases; the JAX twin uses the same.
- RMSprop: torch's alpha 0.99 with eps added outside the square root; optax.rmsprop defaults to
  decay 0.9 with eps inside it, so the twin passes decay=alpha and eps_in_sqrt=False.
- Momentum: torch's buffer starts at the first gradient and is not damped, which is optax.sgd's
  trace (nesterov=False); Adam: torch's eps outside the square root is optax.adam's default.
  tests/test_quickstart.py steps each optimizer pair on the same gradients and compares.
- Layer names: the quickstart's nn.Sequential (linear_relu_stack.0/2/4) is fc1/fc2/fc3 here so
  the weight exchange reads the same names in both frameworks.
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


class NeuralNetwork(nn.Module):
    """(n, 28, 28) images -> Flatten -> 784 -> 512 -> ReLU -> 512 -> ReLU -> 10 logits."""

    def __init__(self, hidden: int):
        super().__init__()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(28 * 28, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc3 = nn.Linear(hidden, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (n, 28, 28) -> (n, 10)
        x = self.flatten(x)  # (n, 784)
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


def build_model(hp: dict, seed: int) -> NeuralNetwork:
    with _common.seeded(seed):
        return NeuralNetwork(hp["hidden"])


def init_weights(spec, seed: int, variant: str = "adam") -> dict[str, np.ndarray]:
    """The freshly initialised model's weights, for the weight exchange."""
    return _common.export_weights(build_model(spec.hp(variant), seed))


def make_optimizer(hp: dict, params) -> torch.optim.Optimizer:
    """The variant's optimizer from the spec's settings (torch's argument names)."""
    if hp["optimizer"] == "sgd":
        return torch.optim.SGD(params, lr=hp["lr"], momentum=hp["momentum"], fused=True)
    if hp["optimizer"] == "rmsprop":
        return torch.optim.RMSprop(params, lr=hp["lr"], alpha=hp["alpha"], eps=hp["eps"])
    if hp["optimizer"] == "adam":
        return torch.optim.Adam(params, lr=hp["lr"], betas=hp["betas"], eps=hp["eps"], fused=True)
    raise ValueError(f"unknown optimizer {hp['optimizer']!r}")


def load_data(source: str) -> tuple[np.ndarray, ...]:
    """x_train (60000, 28, 28) in [0, 1], y_train, x_test (10000, 28, 28), y_test: Fashion-MNIST."""
    split = load_images("fashion_mnist", source)
    scale = lambda x: x.astype(np.float32) / 255.0  # ToTensor()'s scaling, without its channel axis
    return scale(split.x_train), split.y_train, scale(split.x_test), split.y_test


def cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return nn.functional.cross_entropy(logits, y)


def evaluate(model: NeuralNetwork, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Accuracy and mean cross-entropy over a whole set, in eval mode (the quickstart's test())."""
    logits = _common.predict(model, x)
    return {"test_accuracy": float((logits.argmax(dim=1) == y).float().mean()),
            "test_loss": float(cross_entropy(logits, y))}


def train(spec, variant: str, cfg: RunConfig, device: torch.device, *, seed: int, weights=None,
          epochs: int | None = None, with_eval: bool = True):
    """Train with one optimizer. Returns (model, per-step losses, per-epoch history, Stopwatch, data).

    history: "loss" (each epoch's loss over its samples, from the step losses) and, when
    ``with_eval``, test accuracy and loss after each epoch (not counted as training time).
    """
    hp = spec.hp(variant)
    epochs = epochs or hp["epochs"]
    data = _common.to_tensors(*load_data(cfg.data), device=device, dtype=_common.dtype_of(cfg.dtype))
    x_train, y_train, x_test, y_test = data
    model = build_model(hp, seed).to(device, _common.dtype_of(cfg.dtype))
    if weights is not None:
        _common.import_weights(model, weights)
    optimizer = make_optimizer(hp, model.parameters())
    clock, eval_clock = Stopwatch(), Stopwatch()

    def on_epoch(epoch: int) -> dict[str, float]:
        with eval_clock.training():
            return evaluate(model, x_test, y_test)

    with clock.training():
        losses, history = _common.fit(
            model, optimizer, cross_entropy, x_train, y_train, batch_size=hp["batch_size"],
            shuffle=hp["shuffle"], drop_last=hp["drop_last"], seed=seed, epochs=epochs,
            name=f"{spec.name} {variant} torch", on_epoch=on_epoch if with_eval else None, progress=cfg.progress,
            course=cfg.loop == "course")
        _common.sync(device)
    clock.train_s -= eval_clock.train_s
    history = {"loss": epoch_means(losses, len(x_train), hp["batch_size"], drop_last=hp["drop_last"]).tolist(),
               **history}
    return model, losses, history, clock, data


def run(spec, cfg: RunConfig) -> list:
    """One Record per optimizer (what `lessons run/compare quickstart` calls)."""
    device = _common.select_device(cfg.device)
    _common.set_precision(cfg.precision)
    records = []
    for variant in spec.variants:
        model, losses, history, clock, (x_train, _, x_test, y_test) = train(
            spec, variant, cfg, device, seed=cfg.seed_for(spec), epochs=cfg.epochs)
        epochs = len(history["loss"])
        records.append(_common.make_record(
            spec, cfg, device, variant, metrics={**evaluate(model, x_test, y_test), "loss": history["loss"][-1]},
            history=history, train_s=clock.train_s, steps=len(losses), samples=epochs * len(x_train)))
    return records


def parity_trace(spec, cfg: RunConfig, weights: dict, steps: int | None = None, variant: str = "adam") -> dict:
    """Per-step losses and final weights with one optimizer from given initial weights.

    ``steps`` is rounded up to whole epochs; None: the whole run.
    """
    device = _common.select_device(cfg.device)
    _common.set_precision(cfg.precision)
    hp = spec.hp(variant)
    epochs = None
    if steps is not None:
        n = len(load_data(cfg.data)[0])
        epochs = epochs_for(steps, n, hp["batch_size"], drop_last=hp["drop_last"])
    model, losses, _, _, (_, _, x_test, y_test) = train(
        spec, variant, cfg.replace(progress=False), device, seed=cfg.seed_for(spec), weights=weights,
        epochs=epochs, with_eval=False)
    return {"losses": losses, "weights": _common.export_weights(model), **evaluate(model, x_test, y_test)}


def main(argv: list[str] | None = None) -> int:
    from shared.cli import main as cli
    return cli(["run", "quickstart", "--framework", "torch", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
