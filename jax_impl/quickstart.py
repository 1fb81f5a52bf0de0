"""quickstart (JAX, Flax NNX): the PyTorch quickstart network on Fashion-MNIST, four optimizers.

The network is the quickstart's: Flatten, then Linear(784, 512), ReLU, Linear(512, 512), ReLU,
Linear(512, 10), trained with cross-entropy on the 60,000 Fashion-MNIST training images in
the quickstart's DataLoader(batch_size=64) order (no shuffling, the last batch of 32 kept). It
is trained once per optimizer the course explains, with the settings in the spec:
- SGD: p -= lr * g;
- SGD with momentum: v = mu * v + g (v = g at the first step), p -= lr * v;
- RMSprop: s = alpha * s + (1 - alpha) * g^2, p -= lr * g / (sqrt(s) + eps);
- Adam: m, v moving averages of g and g^2 with bias correction, p -= lr * m^ / (sqrt(v^) + eps).
Test accuracy and loss are measured after every epoch, as the quickstart's test() does.

Each epoch's 937 full batches are one compiled lax.scan over device-resident images, and the
last batch of 32 one more call at its own shape (_common.fit); compile time is timed apart.

Twin: torch_impl/quickstart.py. Translation hazards handled on purpose:
- init: Flax's Linear defaults to lecun-normal weights and zero biases; these layers use
  torch's U(+-1/sqrt(fan_in)) for both (_common.linear).
- RMSprop: optax.rmsprop defaults to decay 0.9 and eps inside the square root,
  1/sqrt(s + eps); torch uses alpha 0.99 and 1/(sqrt(s) + eps). make_optimizer passes
  decay=alpha and eps_in_sqrt=False (initial_scale 0, no centering, no momentum: torch's too).
- Momentum: optax.sgd(momentum=mu) is optax.trace, v = g + mu * v from v = 0, so v = g at the
  first step as in torch (dampening 0); nesterov=False is stated explicitly.
- Adam: _common.adam is torch.optim.Adam (b1 0.9, b2 0.999, eps 1e-8 outside the square
  root): optax.adam's update with the bias correction 1 - b**t computed without float32
  cancellation (optax.adam's is 1.3e-5 off at step 1; torch's is exact).
- Cross-entropy: optax.softmax_cross_entropy_with_integer_labels is per example; averaged
  here, as torch's CrossEntropyLoss does.
"""
from __future__ import annotations

import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from shared.batches import epoch_means, epochs_for
from shared.config import RunConfig
from shared.data import load_images
from shared.timing import Stopwatch
from jax_impl import _common


class NeuralNetwork(nnx.Module):
    """(n, 28, 28) images -> Flatten -> 784 -> 512 -> ReLU -> 512 -> ReLU -> 10 logits."""

    def __init__(self, hidden: int, *, rngs: nnx.Rngs):
        self.fc1 = _common.linear(28 * 28, hidden, rngs=rngs)
        self.fc2 = _common.linear(hidden, hidden, rngs=rngs)
        self.fc3 = _common.linear(hidden, 10, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:  # (n, 28, 28) -> (n, 10)
        x = x.reshape(x.shape[0], -1)  # Flatten: (n, 784)
        return self.fc3(jax.nn.relu(self.fc2(jax.nn.relu(self.fc1(x)))))


def build_model(hp: dict, seed: int) -> NeuralNetwork:
    return NeuralNetwork(hp["hidden"], rngs=nnx.Rngs(seed))


def init_weights(spec, seed: int, variant: str = "adam") -> dict[str, np.ndarray]:
    """The freshly initialised model's weights, for the weight exchange."""
    return _common.export_weights(build_model(spec.hp(variant), seed))


def make_optimizer(hp: dict) -> optax.GradientTransformation:
    """The variant's optimizer from the spec's settings, configured to be torch.optim's algorithm."""
    if hp["optimizer"] == "sgd":
        return optax.sgd(hp["lr"], momentum=hp["momentum"] or None, nesterov=False)
    if hp["optimizer"] == "rmsprop":
        return optax.rmsprop(hp["lr"], decay=hp["alpha"], eps=hp["eps"], eps_in_sqrt=False)
    if hp["optimizer"] == "adam":
        b1, b2 = hp["betas"]
        return _common.adam(hp["lr"], b1=b1, b2=b2, eps=hp["eps"])
    raise ValueError(f"unknown optimizer {hp['optimizer']!r}")


def load_data(source: str) -> tuple[np.ndarray, ...]:
    """x_train (60000, 28, 28) in [0, 1], y_train, x_test (10000, 28, 28), y_test: Fashion-MNIST."""
    split = load_images("fashion_mnist", source)
    scale = lambda x: x.astype(np.float32) / 255.0  # ToTensor()'s scaling, without its channel axis
    return scale(split.x_train), split.y_train, scale(split.x_test), split.y_test


def cross_entropy(logits: jax.Array, y: jax.Array) -> jax.Array:
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def evaluate(model: NeuralNetwork, x: jax.Array, y: jax.Array) -> dict[str, float]:
    """Accuracy and mean cross-entropy over a whole set, in eval mode (the quickstart's test())."""
    logits = _common.predict(model, x)
    return {"test_accuracy": float(jnp.mean(logits.argmax(axis=1) == y)),
            "test_loss": float(cross_entropy(logits, y))}


def train(spec, variant: str, cfg: RunConfig, device: jax.Device, *, seed: int, weights=None,
          epochs: int | None = None, with_eval: bool = True):
    """Train with one optimizer. Returns (model, per-step losses, per-epoch history, Stopwatch, data).

    history: "loss" (each epoch's loss over its samples, from the step losses) and, when
    ``with_eval``, test accuracy and loss after each epoch (not counted as training time).
    """
    hp = spec.hp(variant)
    epochs = epochs or hp["epochs"]
    dtype = _common.dtype_of(cfg.dtype)
    data = tuple(jax.device_put(jnp.asarray(a, dtype) if a.dtype.kind == "f" else jnp.asarray(a), device)
                 for a in load_data(cfg.data))
    x_train, y_train, x_test, y_test = data
    model = _common.cast(build_model(hp, seed), dtype)
    if weights is not None:
        _common.import_weights(model, weights)
    clock = Stopwatch()

    def on_epoch(epoch: int) -> dict[str, float]:
        return evaluate(model, x_test, y_test)

    losses, history = _common.fit(
        model, make_optimizer(hp), cross_entropy, x_train, y_train, batch_size=hp["batch_size"],
        shuffle=hp["shuffle"], drop_last=hp["drop_last"], seed=seed, epochs=epochs,
        name=f"{spec.name} {variant} jax", clock=clock, on_epoch=on_epoch if with_eval else None,
        progress=cfg.progress)
    history = {"loss": epoch_means(losses, len(x_train), hp["batch_size"], drop_last=hp["drop_last"]).tolist(),
               **history}
    return model, losses, history, clock, data


def run(spec, cfg: RunConfig) -> list:
    """One Record per optimizer (what `lessons run/compare quickstart` calls)."""
    device = _common.select_device(cfg.device)
    records = []
    with _common.scope(cfg, device):
        for variant in spec.variants:
            model, losses, history, clock, (x_train, _, x_test, y_test) = train(
                spec, variant, cfg, device, seed=cfg.seed_for(spec), epochs=cfg.epochs)
            epochs = len(history["loss"])
            records.append(_common.make_record(
                spec, cfg, device, variant, metrics={**evaluate(model, x_test, y_test), "loss": history["loss"][-1]},
                history=history, compile_s=clock.compile_s, train_s=clock.train_s, steps=len(losses),
                samples=epochs * len(x_train)))
    return records


def parity_trace(spec, cfg: RunConfig, weights: dict, steps: int | None = None, variant: str = "adam") -> dict:
    """Per-step losses and final weights with one optimizer from given initial weights.

    ``steps`` is rounded up to whole epochs; None: the whole run.
    """
    device = _common.select_device(cfg.device)
    with _common.scope(cfg, device):
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
    return cli(["run", "quickstart", "--framework", "jax", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
