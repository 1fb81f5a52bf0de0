"""multiclass (JAX, Flax NNX): MNIST 0/1/2 with a 784-32-3 MLP and cross-entropy on integer labels.

Going from two classes to three changes two things: the output layer has one logit per class,
and the loss is softmax cross-entropy on the raw logits with integer labels (log-softmax
inside the loss, so the model has no softmax layer). Adam at torch's defaults, 100 full-batch
epochs; the prediction is the argmax of the logits.

Twin: torch_impl/multiclass.py. Translation hazards handled on purpose:
- init: Flax's Linear defaults to lecun-normal weights and zero biases; the layers here use
  torch's U(+-1/sqrt(fan_in)) for both (_common.linear).
- loss: torch's nn.CrossEntropyLoss (mean over the batch) is
  optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean(); labels are int32 here
  (JAX without x64), int64 in torch.
- Adam: _common.adam is torch.optim.Adam (b1 0.9, b2 0.999, eps 1e-8 outside the square
  root): optax.adam's update with the bias correction 1 - b**t computed without float32
  cancellation (optax.adam's is 1.3e-5 off at step 1; torch's is exact).
- Full batch: all 100 steps are one compiled lax.scan over the device-resident training set.
"""
from __future__ import annotations

import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from shared.config import RunConfig
from shared.data import load_images
from shared.timing import Stopwatch
from jax_impl import _common


class Net(nnx.Module):
    """784 -> hidden -> classes: ReLU, then raw logits (the loss applies log-softmax)."""

    def __init__(self, hidden: int, classes: int, *, rngs: nnx.Rngs):
        self.fc1 = _common.linear(28 * 28, hidden, rngs=rngs)
        self.fc2 = _common.linear(hidden, classes, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:  # (n, 784) -> (n, classes)
        return self.fc2(jax.nn.relu(self.fc1(x)))


def build_model(hp: dict, seed: int) -> Net:
    return Net(hp["hidden"], len(hp["classes"]), rngs=nnx.Rngs(seed))


def init_weights(spec, seed: int, variant: str = "mlp") -> dict[str, np.ndarray]:
    """The freshly initialised model's weights, for the weight exchange."""
    return _common.export_weights(build_model(spec.hp(variant), seed))


def load_data(hp: dict, source: str) -> tuple[np.ndarray, ...]:
    """x_train (n, 784) in [0, 1], y_train (n,) int64 class index, x_test, y_test."""
    x_train, y_train, x_test, y_test = load_images("mnist", source, classes=hp["classes"]).flat()
    index = lambda y: np.searchsorted(np.asarray(hp["classes"]), y).astype(np.int64)
    return x_train, index(y_train), x_test, index(y_test)


def accuracy(model: Net, x: jax.Array, y: jax.Array) -> float:
    return float(jnp.mean((_common.predict(model, x).argmax(axis=1) == y).astype(jnp.float32)))


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """nn.CrossEntropyLoss(): mean over the batch of -log softmax(logits)[label]."""
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def train(spec, variant: str, cfg: RunConfig, device: jax.Device, *, seed: int, weights=None,
          epochs: int | None = None, evaluate: bool = True):
    """Train full-batch. Returns (model, per-step losses, per-epoch history, Stopwatch, data).

    history: "loss" (one step per epoch, so the step losses) and, when ``evaluate``, train and
    test accuracy after each epoch (not counted as training time).
    """
    hp = spec.hp(variant)
    epochs = epochs or hp["epochs"]
    dtype = _common.dtype_of(cfg.dtype)
    data = tuple(jax.device_put(jnp.asarray(a, dtype if a.dtype.kind == "f" else None), device)
                 for a in load_data(hp, cfg.data))
    x_train, y_train, x_test, y_test = data
    model = build_model(hp, seed)
    if weights is not None:
        _common.import_weights(model, weights)
    model = _common.cast(model, dtype)
    clock = Stopwatch()

    def on_epoch(epoch: int) -> dict[str, float]:
        return {"train_accuracy": accuracy(model, x_train, y_train),
                "test_accuracy": accuracy(model, x_test, y_test)}

    losses, history = _common.fit(
        model, _common.adam(hp["lr"]), cross_entropy, x_train, y_train, batch_size=len(x_train), shuffle=False,
        drop_last=False, seed=seed, epochs=epochs, name=f"{spec.name} jax", clock=clock,
        on_epoch=on_epoch if evaluate else None, progress=cfg.progress)
    return model, losses, {"loss": losses.tolist(), **history}, clock, data


def run(spec, cfg: RunConfig) -> list:
    """One Record (what `lessons run/compare multiclass` calls)."""
    device = _common.select_device(cfg.device)
    records = []
    with _common.scope(cfg, device):
        for variant in spec.variants:
            model, losses, history, clock, (x_train, y_train, x_test, y_test) = train(
                spec, variant, cfg, device, seed=cfg.seed_for(spec), epochs=cfg.epochs)
            records.append(_common.make_record(
                spec, cfg, device, variant,
                metrics={"train_accuracy": accuracy(model, x_train, y_train),
                         "test_accuracy": accuracy(model, x_test, y_test), "loss": float(losses[-1])},
                history=history, compile_s=clock.compile_s, train_s=clock.train_s, steps=len(losses),
                samples=len(losses) * len(x_train)))
    return records


def parity_trace(spec, cfg: RunConfig, weights: dict, steps: int | None = None, variant: str = "mlp") -> dict:
    """Per-step losses and final weights from given initial weights (one step per epoch); None: the whole run."""
    device = _common.select_device(cfg.device)
    with _common.scope(cfg, device):
        model, losses, _, _, (x_train, y_train, x_test, y_test) = train(
            spec, variant, cfg.replace(progress=False), device, seed=cfg.seed_for(spec), weights=weights,
            epochs=steps, evaluate=False)
        return {"losses": losses, "weights": _common.export_weights(model),
                "test_accuracy": accuracy(model, x_test, y_test)}


def main(argv: list[str] | None = None) -> int:
    from shared.cli import main as cli
    return cli(["run", "multiclass", "--framework", "jax", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
