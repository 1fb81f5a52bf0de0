"""softmax_regression (PyTorch): the softmax cost five ways, then Linear(784, 10) on MNIST.

Five ways of writing the same cost, from the definition to the one call (they agree to
float32 rounding):
- cost_onehot_neglog_softmax: one-hot labels (F.one_hot) times -log(softmax(z)), summed per row;
- cost_log_softmax: the same with F.log_softmax, which never takes log of an underflowed 0;
- cost_nll: F.nll_loss(F.log_softmax(z), y), which picks each row's label entry, no one-hot;
- cost_cross_entropy: F.cross_entropy(z, y), log_softmax and nll_loss in one call;
- cost_scatter_onehot: the course's own code, a one-hot written in place with
  zeros.scatter_(1, y.unsqueeze(1), 1), times -log(softmax(z)).

Then softmax regression on MNIST as in the course: nn.Linear(784, 10) on 0..1 pixels,
CrossEntropyLoss, SGD lr 0.1, batches of 100 (shuffled, drop_last), 15 epochs.

The course's bug: it trains on ToTensor()'s 0..1 pixels but tests on
``mnist_test.test_data.view(-1, 784).float()``, raw 0..255 pixels. Here the test set gets the
same 0..1 scaling as the training set. What the bug did is measured in every run:
test_accuracy_raw_pixels evaluates the trained model the course's way. For a linear model the
argmax of 255*Wx + b is the argmax of Wx + b/255, so the bug silently shrinks the bias 255-fold
rather than wrecking the accuracy; the probabilities (test_loss_raw_pixels) are saturated.

Twin: jax_impl/softmax_regression.py. Translation hazards handled on purpose:
- init: nn.Linear's U(+-1/sqrt(784)) for weight and bias; the JAX twin uses the same
  (_common.linear), not Flax's lecun-normal weights and zero bias.
- the cost demo's inputs: the course draws them with torch.rand / torch.randint; here numpy
  draws them (cost_inputs) so both frameworks compute on the very same numbers.
- nll_loss exists in torch only; the JAX twin writes it as a gather of the log-probabilities.
- in-place scatter_ has no JAX counterpart; the twin builds the one-hot with .at[].set().
- batches: the course's DataLoader(shuffle=True, drop_last=True) is the shared batch plan
  (shared/batches.py), which both frameworks consume.
"""
from __future__ import annotations

import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from shared.batches import epoch_means, epochs_for
from shared.config import RunConfig
from shared.data import load_images
from shared.timing import Stopwatch
from torch_impl import _common


def cost_inputs(hp: dict, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The cost demo's logits z (rows, classes), uniform in [0, 1), and integer labels y (rows,)."""
    rng = np.random.default_rng(seed)
    z = rng.random((hp["rows"], hp["classes"]), dtype=np.float32)
    return z, rng.integers(0, hp["classes"], hp["rows"])


def cost_onehot_neglog_softmax(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """mean over rows of sum_k onehot(y)_k * -log(softmax(z)_k). z: (n, k), y: (n,) int."""
    y_one_hot = F.one_hot(y, z.shape[1]).to(z.dtype)  # (n, k)
    return (y_one_hot * -torch.log(F.softmax(z, dim=1))).sum(dim=1).mean()


def cost_log_softmax(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The same with log_softmax: z - logsumexp(z), no log of a rounded probability."""
    y_one_hot = F.one_hot(y, z.shape[1]).to(z.dtype)
    return (y_one_hot * -F.log_softmax(z, dim=1)).sum(dim=1).mean()


def cost_nll(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """nll_loss picks -log_softmax(z)[i, y_i] for each row i and averages."""
    return F.nll_loss(F.log_softmax(z, dim=1), y)


def cost_cross_entropy(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """cross_entropy = nll_loss(log_softmax(z), y) in one call, on the logits."""
    return F.cross_entropy(z, y)


def cost_scatter_onehot(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The course's code: the one-hot written in place by scatter_, times -log(softmax(z))."""
    y_one_hot = torch.zeros_like(z)
    y_one_hot.scatter_(1, y.unsqueeze(1), 1)  # row i gets a 1 in column y_i
    return (y_one_hot * -torch.log(F.softmax(z, dim=1))).sum(dim=1).mean()


COST_FORMS = (cost_onehot_neglog_softmax, cost_log_softmax, cost_nll, cost_cross_entropy, cost_scatter_onehot)


def cost_forms(z: np.ndarray, y: np.ndarray, dtype: torch.dtype = torch.float32) -> dict[str, float]:
    """Every cost form's value on the same logits and labels, by function name."""
    zt, yt = torch.as_tensor(z, dtype=dtype), torch.as_tensor(y)
    return {form.__name__: float(form(zt, yt)) for form in COST_FORMS}


def build_model(hp: dict, seed: int) -> nn.Linear:
    """Softmax regression is one Linear layer: 784 pixels -> 10 logits (softmax is in the cost)."""
    with _common.seeded(seed):
        return nn.Linear(hp["in_features"], hp["classes"])


def init_weights(spec, seed: int, variant: str = "mnist") -> dict[str, np.ndarray]:
    """The freshly initialised model's weights, for the weight exchange."""
    return _common.export_weights(build_model(spec.hp(variant), seed))


def load_data(source: str) -> tuple[np.ndarray, ...]:
    """x_train (n, 784) in [0, 1], y_train (n,), x_test in [0, 1], y_test, and x_test in 0..255."""
    split = load_images("mnist", source)
    x_train, y_train, x_test, y_test = split.flat()
    return x_train, y_train, x_test, y_test, split.x_test.reshape(len(x_test), -1).astype(np.float32)


def accuracy(model: nn.Linear, x: torch.Tensor, y: torch.Tensor) -> float:
    return float((_common.predict(model, x).argmax(dim=1) == y).float().mean())


def eval_cost(model: nn.Linear, x: torch.Tensor, y: torch.Tensor) -> float:
    return float(F.cross_entropy(_common.predict(model, x), y))


def train(spec, cfg: RunConfig, device: torch.device, *, seed: int, weights=None, epochs: int | None = None,
          evaluate: bool = True):
    """Train on MNIST. Returns (model, per-step losses, per-epoch history, Stopwatch, data).

    history: "loss" (each epoch's mean batch cost, the course's avg_cost) and, when
    ``evaluate``, test accuracy after each epoch (not counted as training time).
    """
    hp = spec.hp("mnist")
    epochs = epochs or hp["epochs"]
    data = _common.to_tensors(*load_data(cfg.data), device=device, dtype=_common.dtype_of(cfg.dtype))
    x_train, y_train, x_test, y_test, _ = data
    model = build_model(hp, seed).to(device, _common.dtype_of(cfg.dtype))
    if weights is not None:
        _common.import_weights(model, weights)
    optimizer = torch.optim.SGD(model.parameters(), lr=hp["lr"])
    clock, eval_clock = Stopwatch(), Stopwatch()

    def on_epoch(epoch: int) -> dict[str, float]:
        with eval_clock.training():
            return {"test_accuracy": accuracy(model, x_test, y_test)}

    with clock.training():
        losses, history = _common.fit(
            model, optimizer, nn.CrossEntropyLoss(), x_train, y_train, batch_size=hp["batch_size"],
            shuffle=hp["shuffle"], drop_last=hp["drop_last"], seed=seed, epochs=epochs,
            name=f"{spec.name} torch", on_epoch=on_epoch if evaluate else None, progress=cfg.progress,
            course=cfg.loop == "course")
        _common.sync(device)
    clock.train_s -= eval_clock.train_s
    history = {"loss": epoch_means(losses, len(x_train), hp["batch_size"], drop_last=hp["drop_last"]).tolist(),
               **history}
    return model, losses, history, clock, data


def run(spec, cfg: RunConfig) -> list:
    """Both variants -> one Record each (what `lessons run/compare softmax_regression` calls)."""
    device = _common.select_device(cfg.device)
    _common.set_precision(cfg.precision)
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
        history=history, train_s=clock.train_s, steps=len(losses), samples=len(losses) * spec.hp("mnist")["batch_size"]))
    return records


def parity_trace(spec, cfg: RunConfig, weights: dict, steps: int | None = None, variant: str = "mnist") -> dict:
    """Per-step losses and final weights of the MNIST run from given initial weights.

    ``steps`` is rounded up to whole epochs; None: the whole run.
    """
    device = _common.select_device(cfg.device)
    _common.set_precision(cfg.precision)
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
    return cli(["run", "softmax_regression", "--framework", "torch", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
