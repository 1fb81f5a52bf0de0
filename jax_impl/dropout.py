"""dropout (JAX, Flax NNX): train mode vs eval mode, Linear(784, 512) -> ReLU -> Dropout(p) -> Linear(512, 10).

In train mode nnx.Dropout zeroes each activation with probability p and scales the survivors by
1/(1-p), so every activation keeps its expected value; in eval mode it is the identity. Training
runs in train mode and every evaluation in eval mode: the NNX module's .train() / .eval() set
Dropout's `deterministic` attribute, and _common.fit and _common.predict switch them. Forgetting
.eval() evaluates a random sub-network: the record keeps that accuracy too
(train_mode_test_accuracy) to show the difference.

Twin: torch_impl/dropout.py. Translation hazards handled on purpose:
- init: Flax's Linear defaults to lecun-normal weights and zero biases; the layers here use
  torch's U(+-1/sqrt(fan_in)) for both (_common.linear).
- train/eval: torch's module flag `training` is nnx.Dropout's `deterministic`. It is a static
  attribute, part of the graphdef: switching it gives a different compiled program, not a
  different value inside one.
- RNG: the masks' random stream is explicit. nnx.Dropout keeps an RngStream (a key and a
  counter) in the model's state; each call folds the counter into the key and increments it.
  That counter is carried through nnx.split/merge, so it advances at every step inside the
  compiled lax.scan. One nnx.Rngs(seed) serves the init first and the masks after, like one
  torch.manual_seed(seed) in the course's script. The masks differ from torch's (a different
  generator), so the frameworks are compared by accuracy bands over seeds (`lessons parity
  dropout`), not bit for bit.
- Adam: _common.adam is torch.optim.Adam (b1 0.9, b2 0.999, eps 1e-8 outside the square
  root): optax.adam's update with the bias correction 1 - b**t computed without float32
  cancellation (optax.adam's is 1.3e-5 off at step 1; torch's is exact).
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


class MLP(nnx.Module):
    """784 -> hidden -> 10 logits, Dropout(p) after the hidden ReLU."""

    def __init__(self, hidden: int, p: float, *, rngs: nnx.Rngs):
        self.fc1 = _common.linear(784, hidden, rngs=rngs)
        self.dropout = nnx.Dropout(p, rngs=rngs)  # forks the stream: its own key and counter
        self.fc2 = _common.linear(hidden, 10, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:  # (n, 784) -> (n, 10)
        return self.fc2(self.dropout(jax.nn.relu(self.fc1(x))))


def build_model(hp: dict, seed: int) -> MLP:
    """A fresh model; its one nnx.Rngs stream gives the init, then the dropout masks."""
    return MLP(hp["hidden"], hp["p"], rngs=nnx.Rngs(seed))


def init_weights(spec, seed: int, variant: str = "dropout") -> dict[str, np.ndarray]:
    """The freshly initialised model's weights, for the weight exchange."""
    return _common.export_weights(build_model(spec.hp(variant), seed))


def accuracy(model: MLP, x: jax.Array, y: jax.Array) -> float:
    """Accuracy over all of x in eval mode (_common.predict switches it; the model is left in train mode)."""
    return float(jnp.mean(_common.predict(model, x).argmax(1) == y))


def train_mode_accuracy(model: MLP, x: jax.Array, y: jax.Array) -> float:
    """What forgetting .eval() measures: each sample through a random sub-network."""
    model.train()
    return float(jnp.mean(model(x).argmax(1) == y))


def cross_entropy(logits: jax.Array, y: jax.Array) -> jax.Array:
    """torch.nn.CrossEntropyLoss: the mean over the batch of -log softmax(logits)[y]."""
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def train(model: MLP, x: jax.Array, y: jax.Array, hp: dict, *, seed: int, epochs: int, clock: Stopwatch,
          on_epoch=None, progress: bool = False) -> tuple[np.ndarray, dict]:
    """Adam on cross-entropy over the shared batch plan, in train mode. Returns (per-step losses, history)."""
    return _common.fit(
        model, _common.adam(hp["lr"]), cross_entropy, x, y, batch_size=hp["batch_size"], shuffle=hp["shuffle"],
        drop_last=hp["drop_last"], seed=seed, epochs=epochs, name="dropout jax", clock=clock, on_epoch=on_epoch,
        progress=progress)


def run(spec, cfg: RunConfig) -> list:
    """Train with dropout, evaluate in eval mode -> one Record (what `lessons run/compare dropout` calls)."""
    device = _common.select_device(cfg.device)
    hp, seed = spec.hp("dropout"), cfg.seed_for(spec)
    epochs = cfg.epochs or hp["epochs"]
    with _common.scope(cfg, device):
        dtype = _common.dtype_of(cfg.dtype)
        x, y, x_test, y_test = (jax.device_put(jnp.asarray(a, dtype if a.dtype.kind == "f" else None), device)
                                for a in load_images(spec.dataset, cfg.data).flat())
        clock = Stopwatch()
        model = _common.cast(build_model(hp, seed), dtype)
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
    return cli(["run", "dropout", "--framework", "jax", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
