"""gd_vs_sgd (JAX, Flax NNX): full-batch gradient descent vs minibatch SGD on MNIST 0/1.

A 784-32-1 MLP (ReLU, then a sigmoid probability) with BCE and Adam at torch's defaults. GD
takes one step per epoch on all training images, for 700 epochs; SGD takes shuffled batches of
2048 (128 on the 800 embedded images, keeping 7 steps per epoch) for 100 epochs. Both reach
about the same accuracy: SGD's noisier steps cost far fewer passes over the data.

GPU variant: the same code with --device gpu. The training set is put on the device once and
each epoch is one compiled lax.scan that gathers its batches there (_common.fit); the model's
state stays on the device. The course's torch loop copies each batch to the device per step.

Twin: torch_impl/gd_vs_sgd.py. Translation hazards handled on purpose:
- init: Flax's Linear defaults to lecun-normal weights and zero biases; the layers here use
  torch's U(+-1/sqrt(fan_in)) for both (_common.linear).
- BCE: torch's BCELoss clamps each log at -100; _common.bce_loss does the same.
- Adam: _common.adam is torch.optim.Adam (b1 0.9, b2 0.999, eps 1e-8 outside the square
  root): optax.adam's update with the bias correction 1 - b**t computed without float32
  cancellation (optax.adam's is 1.3e-5 off at step 1; torch's is exact).
- Batches: both frameworks take the shared batch plan (shared/batches.py), DataLoader order.
"""
from __future__ import annotations

import sys

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from shared.batches import epoch_means, epochs_for
from shared.config import RunConfig
from shared.data import load_images
from shared.timing import Stopwatch
from jax_impl import _common


class Net(nnx.Module):
    """784 -> hidden -> 1: ReLU, then a sigmoid probability."""

    def __init__(self, hidden: int, *, rngs: nnx.Rngs):
        self.fc1 = _common.linear(28 * 28, hidden, rngs=rngs)
        self.fc2 = _common.linear(hidden, 1, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:  # (n, 784) -> (n, 1)
        return jax.nn.sigmoid(self.fc2(jax.nn.relu(self.fc1(x))))


def build_model(hp: dict, seed: int) -> Net:
    return Net(hp["hidden"], rngs=nnx.Rngs(seed))


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


def accuracy(model: Net, x: jax.Array, y: jax.Array) -> float:
    return float(jnp.mean(((_common.predict(model, x) > 0.5).astype(y.dtype) == y).astype(jnp.float32)))


def train(spec, variant: str, cfg: RunConfig, device: jax.Device, *, seed: int, weights=None,
          epochs: int | None = None, evaluate: bool = True):
    """Train one variant. Returns (model, per-step losses, per-epoch history, Stopwatch, data).

    history: "loss" (each epoch's loss over its samples, from the step losses) and, when
    ``evaluate``, train and test accuracy after each epoch (not counted as training time).
    """
    hp = spec.hp(variant)
    epochs = epochs or hp["epochs"]
    dtype = _common.dtype_of(cfg.dtype)
    data = tuple(jax.device_put(jnp.asarray(a, dtype), device) for a in load_data(hp, cfg.data))
    x_train, y_train, x_test, y_test = data
    model = build_model(hp, seed)
    if weights is not None:
        _common.import_weights(model, weights)
    model = _common.cast(model, dtype)
    n = len(x_train)
    batch_size = batch_size_of(hp, cfg.data, n)
    clock = Stopwatch()

    def on_epoch(epoch: int) -> dict[str, float]:
        return {"train_accuracy": accuracy(model, x_train, y_train),
                "test_accuracy": accuracy(model, x_test, y_test)}

    losses, history = _common.fit(
        model, _common.adam(hp["lr"]), _common.bce_loss, x_train, y_train, batch_size=batch_size,
        shuffle=hp["shuffle"], drop_last=False, seed=seed, epochs=epochs, name=f"{spec.name} {variant} jax",
        clock=clock, on_epoch=on_epoch if evaluate else None, progress=cfg.progress)
    history = {"loss": epoch_means(losses, n, batch_size, drop_last=False).tolist(), **history}
    return model, losses, history, clock, data


def run(spec, cfg: RunConfig) -> list:
    """Both variants -> one Record each (what `lessons run/compare gd_vs_sgd` calls)."""
    device = _common.select_device(cfg.device)
    records = []
    with _common.scope(cfg, device):
        for variant in spec.variants:
            model, losses, history, clock, (x_train, y_train, x_test, y_test) = train(
                spec, variant, cfg, device, seed=cfg.seed_for(spec), epochs=cfg.epochs)
            epochs = len(history["loss"])
            records.append(_common.make_record(
                spec, cfg, device, variant,
                metrics={"train_accuracy": accuracy(model, x_train, y_train),
                         "test_accuracy": accuracy(model, x_test, y_test), "loss": history["loss"][-1]},
                history=history, compile_s=clock.compile_s, train_s=clock.train_s, steps=len(losses),
                samples=epochs * len(x_train)))
    return records


def parity_trace(spec, cfg: RunConfig, weights: dict, steps: int | None = None, variant: str = "gd") -> dict:
    """Per-step losses and final weights of one variant from given initial weights.

    ``steps`` is rounded up to whole epochs (SGD has several steps per epoch); None: the whole run.
    """
    device = _common.select_device(cfg.device)
    hp = spec.hp(variant)
    epochs = None
    if steps is not None:
        n = len(load_data(hp, cfg.data)[0])
        epochs = epochs_for(steps, n, batch_size_of(hp, cfg.data, n), drop_last=False)
    with _common.scope(cfg, device):
        model, losses, _, _, (x_train, y_train, x_test, y_test) = train(
            spec, variant, cfg.replace(progress=False), device, seed=cfg.seed_for(spec), weights=weights,
            epochs=epochs, evaluate=False)
        return {"losses": losses, "weights": _common.export_weights(model),
                "test_accuracy": accuracy(model, x_test, y_test)}


def main(argv: list[str] | None = None) -> int:
    from shared.cli import main as cli
    return cli(["run", "gd_vs_sgd", "--framework", "jax", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
