"""softmax_regression (JAX, Flax NNX): the softmax cost five ways, then Linear(784, 10) on MNIST.

Five ways of writing the same cost, from the definition to the one call (they agree to
float32 rounding):
- cost_onehot_neglog_softmax: one-hot labels (jax.nn.one_hot) times -log(softmax(z)), summed per row;
- cost_log_softmax: the same with jax.nn.log_softmax, which never takes log of an underflowed 0;
- cost_nll: torch's nll_loss on log_softmax(z); neither JAX nor optax has an nll_loss, so it is
  written out: a gather of each row's label entry (take_along_axis), negated and averaged;
- cost_cross_entropy: optax.softmax_cross_entropy_with_integer_labels, averaged (it returns one
  value per row where torch's F.cross_entropy already takes the mean);
- cost_scatter_onehot: the course's one-hot made by torch's in-place scatter_; JAX arrays are
  immutable, so the one-hot is a new array from zeros.at[rows, y].set(1).

Then softmax regression on MNIST as in the course: Linear(784, 10) on 0..1 pixels,
cross-entropy, SGD lr 0.1, batches of 100 (shuffled, drop_last), 15 epochs.

The course's bug: it trains on 0..1 pixels but tests on raw 0..255 pixels. Here the test set
gets the same 0..1 scaling as the training set. What the bug did is measured in every run:
test_accuracy_raw_pixels evaluates the trained model the course's way. For a linear model the
argmax of 255*Wx + b is the argmax of Wx + b/255, so the bug silently shrinks the bias 255-fold
rather than wrecking the accuracy; the probabilities (test_loss_raw_pixels) are saturated.

Twin: torch_impl/softmax_regression.py. Translation hazards handled on purpose:
- init: Flax's Linear defaults to lecun-normal weights and zero bias; this one uses torch's
  U(+-1/sqrt(784)) for both (_common.linear).
- the cost demo's inputs: numpy draws them (cost_inputs) in both twins, so both frameworks
  compute on the very same numbers (the course uses torch.rand / torch.randint).
- nll_loss and in-place scatter_: see above.
- Speed: each epoch's 40 (embedded) or 600 (full MNIST) SGD steps are one compiled lax.scan
  over device-resident data (_common.fit), on the shared batch plan.
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


def cost_inputs(hp: dict, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The cost demo's logits z (rows, classes), uniform in [0, 1), and integer labels y (rows,)."""
    rng = np.random.default_rng(seed)
    z = rng.random((hp["rows"], hp["classes"]), dtype=np.float32)
    return z, rng.integers(0, hp["classes"], hp["rows"])


def cost_onehot_neglog_softmax(z: jax.Array, y: jax.Array) -> jax.Array:
    """mean over rows of sum_k onehot(y)_k * -log(softmax(z)_k). z: (n, k), y: (n,) int."""
    y_one_hot = jax.nn.one_hot(y, z.shape[1], dtype=z.dtype)  # (n, k)
    return (y_one_hot * -jnp.log(jax.nn.softmax(z, axis=1))).sum(axis=1).mean()


def cost_log_softmax(z: jax.Array, y: jax.Array) -> jax.Array:
    """The same with log_softmax: z - logsumexp(z), no log of a rounded probability."""
    y_one_hot = jax.nn.one_hot(y, z.shape[1], dtype=z.dtype)
    return (y_one_hot * -jax.nn.log_softmax(z, axis=1)).sum(axis=1).mean()


def cost_nll(z: jax.Array, y: jax.Array) -> jax.Array:
    """torch's nll_loss written out: -log_softmax(z)[i, y_i] for each row i, averaged."""
    log_p = jax.nn.log_softmax(z, axis=1)
    return -jnp.take_along_axis(log_p, y[:, None], axis=1).mean()


def cost_cross_entropy(z: jax.Array, y: jax.Array) -> jax.Array:
    """optax's cross-entropy on logits and integer labels, per row; averaged like torch's."""
    return optax.softmax_cross_entropy_with_integer_labels(z, y).mean()


def cost_scatter_onehot(z: jax.Array, y: jax.Array) -> jax.Array:
    """The course's scatter_ one-hot, functionally: zeros with a 1 at (i, y_i), times -log(softmax(z))."""
    y_one_hot = jnp.zeros_like(z).at[jnp.arange(len(y)), y].set(1)  # row i gets a 1 in column y_i
    return (y_one_hot * -jnp.log(jax.nn.softmax(z, axis=1))).sum(axis=1).mean()


COST_FORMS = (cost_onehot_neglog_softmax, cost_log_softmax, cost_nll, cost_cross_entropy, cost_scatter_onehot)


def cost_forms(z: np.ndarray, y: np.ndarray, dtype=jnp.float32) -> dict[str, float]:
    """Every cost form's value on the same logits and labels, by function name."""
    zj, yj = jnp.asarray(z, dtype=dtype), jnp.asarray(y)
    return {form.__name__: float(form(zj, yj)) for form in COST_FORMS}


def build_model(hp: dict, seed: int) -> nnx.Linear:
    """Softmax regression is one Linear layer: 784 pixels -> 10 logits (softmax is in the cost)."""
    return _common.linear(hp["in_features"], hp["classes"], rngs=nnx.Rngs(seed))


def init_weights(spec, seed: int, variant: str = "mnist") -> dict[str, np.ndarray]:
    """The freshly initialised model's weights, for the weight exchange."""
    return _common.export_weights(build_model(spec.hp(variant), seed))


def load_data(source: str) -> tuple[np.ndarray, ...]:
    """x_train (n, 784) in [0, 1], y_train (n,), x_test in [0, 1], y_test, and x_test in 0..255."""
    split = load_images("mnist", source)
    x_train, y_train, x_test, y_test = split.flat()
    return x_train, y_train, x_test, y_test, split.x_test.reshape(len(x_test), -1).astype(np.float32)


def accuracy(model: nnx.Linear, x: jax.Array, y: jax.Array) -> float:
    return float(jnp.mean(_common.predict(model, x).argmax(axis=1) == y))


def eval_cost(model: nnx.Linear, x: jax.Array, y: jax.Array) -> float:
    return float(cost_cross_entropy(_common.predict(model, x), y))


def train(spec, cfg: RunConfig, device: jax.Device, *, seed: int, weights=None, epochs: int | None = None,
          evaluate: bool = True):
    """Train on MNIST. Returns (model, per-step losses, per-epoch history, Stopwatch, data).

    history: "loss" (each epoch's mean batch cost, the course's avg_cost) and, when
    ``evaluate``, test accuracy after each epoch (not counted as training time).
    """
    hp = spec.hp("mnist")
    epochs = epochs or hp["epochs"]
    dtype = _common.dtype_of(cfg.dtype)
    data = tuple(jax.device_put(jnp.asarray(a, dtype) if a.dtype.kind == "f" else jnp.asarray(a), device)
                 for a in load_data(cfg.data))
    x_train, y_train, x_test, y_test, _ = data
    model = _common.cast(build_model(hp, seed), dtype)
    if weights is not None:
        _common.import_weights(model, weights)
    clock, eval_clock = Stopwatch(), Stopwatch()

    def on_epoch(epoch: int) -> dict[str, float]:
        with eval_clock.training():
            return {"test_accuracy": accuracy(model, x_test, y_test)}

    losses, history = _common.fit(
        model, optax.sgd(hp["lr"]), cost_cross_entropy, x_train, y_train, batch_size=hp["batch_size"],
        shuffle=hp["shuffle"], drop_last=hp["drop_last"], seed=seed, epochs=epochs, name=f"{spec.name} jax",
        clock=clock, on_epoch=on_epoch if evaluate else None, progress=cfg.progress)
    history = {"loss": epoch_means(losses, len(x_train), hp["batch_size"], drop_last=hp["drop_last"]).tolist(),
               **history}
    return model, losses, history, clock, data


def run(spec, cfg: RunConfig) -> list:
    """Both variants -> one Record each (what `lessons run/compare softmax_regression` calls)."""
    device = _common.select_device(cfg.device)
    with _common.scope(cfg, device):
        seed = cfg.seed_for(spec)
        forms = cost_forms(*cost_inputs(spec.hp("cost_forms"), seed), dtype=_common.dtype_of(cfg.dtype))
        cost = forms["cost_cross_entropy"]
        records = [_common.make_record(spec, cfg, device, "cost_forms", metrics={
            "cost": cost, "form_spread": max(abs(v - cost) for v in forms.values()), **forms})]

        model, losses, history, clock, (x_train, _, x_test, y_test, x_test_raw) = train(
            spec, cfg, device, seed=seed, epochs=cfg.epochs)
        records.append(_common.make_record(
            spec, cfg, device, "mnist",
            metrics={"test_accuracy": accuracy(model, x_test, y_test), "loss": history["loss"][-1],
                     "test_loss": eval_cost(model, x_test, y_test),
                     "test_accuracy_raw_pixels": accuracy(model, x_test_raw, y_test),
                     "test_loss_raw_pixels": eval_cost(model, x_test_raw, y_test)},
            history=history, compile_s=clock.compile_s, train_s=clock.train_s, steps=len(losses),
            samples=len(losses) * spec.hp("mnist")["batch_size"]))
    return records


def parity_trace(spec, cfg: RunConfig, weights: dict, steps: int | None = None, variant: str = "mnist") -> dict:
    """Per-step losses and final weights of the MNIST run from given initial weights.

    ``steps`` is rounded up to whole epochs; None: the whole run.
    """
    device = _common.select_device(cfg.device)
    with _common.scope(cfg, device):
        hp = spec.hp(variant)
        epochs = None
        if steps is not None:
            n = len(load_data(cfg.data)[0])
            epochs = epochs_for(steps, n, hp["batch_size"], drop_last=hp["drop_last"])
        model, losses, _, _, (_, _, x_test, y_test, _) = train(
            spec, cfg.replace(progress=False), device, seed=cfg.seed_for(spec), weights=weights, epochs=epochs,
            evaluate=False)
        return {"losses": losses, "weights": _common.export_weights(model),
                "test_accuracy": accuracy(model, x_test, y_test)}


def main(argv: list[str] | None = None) -> int:
    from shared.cli import main as cli
    return cli(["run", "softmax_regression", "--framework", "jax", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
