"""batchnorm (PyTorch): BatchNorm vs Dropout vs a plain 784-32-32-10 MLP on MNIST.

Three models with their own layers, trained on the same batches with Adam (lr 0.01, batch 32,
shuffled, drop_last) for 10 epochs: "bn" puts BatchNorm1d after each hidden Linear (before the
ReLU), "dropout" puts Dropout(0.3) after each hidden ReLU, "plain" has neither. All three start
from the same Linear weights (each is built from the lesson seed). After every epoch each model
is evaluated in eval mode over every sample of the training set and of the validation set (the
test split): loss and accuracy, the course's four plots.

Differences from the course, on purpose:
- The course builds its Linear layers once and puts the same objects into the BN model and the
  Dropout model, so training one also trains the other. That is a bug; here each model has its
  own layers (tests/test_batchnorm.py checks that no parameter is shared).
- The course's epoch figures average the per-batch losses of the epoch (measured in train mode,
  while the weights move). Here they are computed over every sample after the epoch, in eval mode.
- One loop trains the three models batch by batch (each with its own optimizer) instead of one
  loop per model: the same batches in the same order, a third of the batch gathers.

Twin: jax_impl/batchnorm.py. Translation hazards handled on purpose:
- init: nn.Linear is U(+-1/sqrt(fan_in)) for weight and bias; the twin uses the same distribution.
- BatchNorm: torch's momentum 0.1 weights the new batch (running = 0.9 running + 0.1 batch);
  Flax's momentum 0.9 weights the old value: the same update. torch normalises with the biased
  batch variance but stores the unbiased one, var * n/(n-1), in running_var; Flax stores the
  biased one. The twin follows torch (its own BatchNorm1d module).
- train/eval: model.train()/model.eval() here; the NNX module's .train()/.eval() there, which set
  BatchNorm's use_running_average and Dropout's deterministic.
- Dropout masks come from torch's generator, seeded with the lesson seed; the twin's from JAX's.
  They differ, so the dropout model is compared across frameworks by accuracy, not loss by loss.
- Adam: eps 1e-8 outside the sqrt, as optax.adam. fused=True: one kernel per update. torch
  computes the bias correction 1 - 0.999**t in float64; optax in float32 (1.3e-5 off), so the
  twin has its own Adam. Why float32 losses still drift apart: the spec's parity notes.
"""
from __future__ import annotations

import sys

import numpy as np
import torch
from torch import nn

from shared.batches import epoch_order, num_batches
from shared.config import RunConfig
from shared.data import load_images
from shared.progress import bar
from shared.timing import Stopwatch
from torch_impl import _common


class MLP(nn.Module):
    """784 -> 32 -> 32 -> 10 logits; BatchNorm1d before each hidden ReLU ("bn"), Dropout after it ("dropout")."""

    def __init__(self, hp: dict, variant: str):
        super().__init__()
        h1, h2 = hp["hidden"]
        self.fc1 = nn.Linear(784, h1)
        self.fc2 = nn.Linear(h1, h2)
        self.fc3 = nn.Linear(h2, 10)
        bn = variant == "bn"
        self.bn1 = nn.BatchNorm1d(h1, momentum=hp["bn_momentum"], eps=hp["bn_eps"]) if bn else None
        self.bn2 = nn.BatchNorm1d(h2, momentum=hp["bn_momentum"], eps=hp["bn_eps"]) if bn else None
        self.dropout = nn.Dropout(hp["p"]) if variant == "dropout" else None

    def hidden(self, h: torch.Tensor, bn: nn.BatchNorm1d | None) -> torch.Tensor:
        """A hidden Linear's output -> [BatchNorm] -> ReLU -> [Dropout]."""
        h = torch.relu(h if bn is None else bn(h))
        return h if self.dropout is None else self.dropout(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (n, 784) -> (n, 10)
        x = self.hidden(self.fc1(x), self.bn1)
        x = self.hidden(self.fc2(x), self.bn2)
        return self.fc3(x)


def build_model(spec, variant: str, seed: int) -> MLP:
    """A fresh model with its own layers. Every variant starts from the same Linear weights."""
    with _common.seeded(seed):
        return MLP(spec.hp(variant), variant)


def init_weights(spec, seed: int, variant: str = "plain") -> dict[str, np.ndarray]:
    """The freshly initialised model's weights, for the weight exchange."""
    return _common.export_weights(build_model(spec, variant, seed))


def cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """nn.CrossEntropyLoss: the mean over the batch of -log softmax(logits)[y]."""
    return nn.functional.cross_entropy(logits, y)


def evaluate(model: MLP, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Loss and accuracy over every sample of x, in eval mode (the model's mode is restored)."""
    logits = _common.predict(model, x)
    return {"loss": float(cross_entropy(logits, y)), "accuracy": float((logits.argmax(1) == y).float().mean())}


def fit(models: dict[str, MLP], x: torch.Tensor, y: torch.Tensor, hp: dict, *, seed: int, epochs: int,
        clock: Stopwatch, steps: int | None = None, on_epoch=None, progress: bool = False, course: bool = False):
    """Train every model over the same batches, in one loop. Returns (losses (steps, len(models)), history).

    The course trains each model in a loop of its own::

        for xb, yb in DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, drop_last=True):
            loss = loss_fn(model(xb), yb); optimizer.zero_grad(); loss.backward(); optimizer.step()

    Here the data is on the device already, each batch is x[idx] for the shared plan's indices,
    and each batch trains the models one after the other, each with its own Adam: every model
    sees the batches the course's loop would give it. ``steps`` stops early (the parity check);
    ``on_epoch(epoch)`` returns {variant: {metric: value}}. Only the training steps are timed.
    ``course=True`` (the bench's baseline) runs the course's form, one DataLoader loop per model,
    and evaluates once, after the last epoch.
    """
    optimizers = {k: torch.optim.Adam(m.parameters(), lr=hp["lr"], fused=True) for k, m in models.items()}
    n, bs = len(x), hp["batch_size"]
    if course:
        columns = []
        for k, model in models.items():
            with clock.training():
                step_losses, _ = _common.course_fit(model, optimizers[k], cross_entropy, x, y, batch_size=bs,
                                                    shuffle=hp["shuffle"], drop_last=hp["drop_last"], epochs=epochs,
                                                    name=f"batchnorm {k} torch", progress=progress)
            columns.append(step_losses)
        history = on_epoch(epochs - 1) if on_epoch is not None else {k: {} for k in models}
        return np.stack(columns, axis=1), {k: {name: [v] for name, v in h.items()} for k, h in history.items()}
    per_epoch = num_batches(n, bs, drop_last=hp["drop_last"])
    total = steps or epochs * per_epoch
    losses = torch.empty(total, len(models), device=x.device, dtype=x.dtype)
    history = {k: {} for k in models}
    for model in models.values():
        model.train()
    with bar(-(-total // per_epoch), "batchnorm torch", enabled=progress, unit="epoch") as pbar:
        for epoch in range(-(-total // per_epoch)):
            order = torch.as_tensor(epoch_order(n, shuffle=hp["shuffle"], seed=seed, epoch=epoch), device=x.device)
            with clock.training():
                for b in range(min(per_epoch, total - epoch * per_epoch)):
                    idx = order[b * bs:(b + 1) * bs]
                    xb, yb = x[idx], y[idx]
                    for i, (model, optimizer) in enumerate(zip(models.values(), optimizers.values())):
                        optimizer.zero_grad(set_to_none=True)
                        loss = cross_entropy(model(xb), yb)
                        loss.backward()
                        optimizer.step()
                        losses[epoch * per_epoch + b, i] = loss.detach()
                _common.sync(x.device)
            if on_epoch is not None:
                for k, metrics in on_epoch(epoch).items():
                    for name, v in metrics.items():
                        history[k].setdefault(name, []).append(v)
            pbar.update()
    _common.check_finite(losses, "batchnorm")
    return losses.cpu().numpy(), history


def load_data(spec, cfg: RunConfig, device: torch.device) -> list[torch.Tensor]:
    """x_train (n, 784), y_train, x_val, y_val on the device."""
    split = load_images(spec.dataset, cfg.data)
    return _common.to_tensors(*split.flat(), device=device, dtype=_common.dtype_of(cfg.dtype))


def train_models(spec, cfg: RunConfig, device: torch.device, data, variants, *, weights=None, steps=None,
                 on_epoch: bool = True):
    """Build the variants' models (from ``weights`` if given) and train them together.

    Returns (models, losses (steps, len(variants)), history per variant, Stopwatch).
    """
    seed = cfg.seed_for(spec)
    x, y, x_val, y_val = data
    models = {v: build_model(spec, v, seed).to(device, _common.dtype_of(cfg.dtype)) for v in variants}
    if weights is not None:
        for model in models.values():
            _common.import_weights(model, weights)

    def evaluate_all(epoch):
        return {k: {f"train_{name}": v for name, v in evaluate(m, x, y).items()}
                   | {f"val_{name}": v for name, v in evaluate(m, x_val, y_val).items()}
                for k, m in models.items()}

    clock = Stopwatch()
    hp = spec.hp()
    with _common.seeded(seed):  # the dropout masks
        losses, history = fit(models, x, y, hp, seed=seed, epochs=cfg.epochs or hp["epochs"], clock=clock,
                              steps=steps, on_epoch=evaluate_all if on_epoch else None, progress=cfg.progress,
                              course=cfg.loop == "course")
    return models, losses, history, clock


def run(spec, cfg: RunConfig) -> list:
    """The three models, trained together -> one Record each (what `lessons run/compare batchnorm` calls).

    Every record's train_s is the time of the one loop that trained all three models;
    its steps are its own model's optimizer steps, so steps / train_s is the loop's rate.
    """
    device = _common.select_device(cfg.device)
    _common.set_precision(cfg.precision)
    data = load_data(spec, cfg, device)
    variants = spec.variants
    _, losses, history, clock = train_models(spec, cfg, device, data, variants)
    records = []
    for i, v in enumerate(variants):
        h = history[v]
        records.append(_common.make_record(
            spec, cfg, device, v,
            metrics={"test_accuracy": h["val_accuracy"][-1], "test_loss": h["val_loss"][-1],
                     "train_accuracy": h["train_accuracy"][-1], "train_loss": h["train_loss"][-1]},
            history=h, compile_s=clock.compile_s, train_s=clock.train_s, steps=len(losses),
            samples=len(losses) * spec.hp()["batch_size"], extras={"trained_with": list(variants)}))
    return records


def parity_trace(spec, cfg: RunConfig, weights: dict, steps: int | None = None, variant: str = "plain") -> dict:
    """Per-step losses and final weights of one deterministic model from given initial weights."""
    if variant not in spec.parity["variants"]:
        raise ValueError(f"no parity trace for {variant!r}: its dropout masks differ by framework")
    device = _common.select_device(cfg.device)
    _common.set_precision(cfg.precision)
    data = load_data(spec, cfg, device)
    models, losses, _, _ = train_models(spec, cfg.replace(progress=False), device, data, (variant,),
                                        weights=weights, steps=steps, on_epoch=False)
    return {"losses": losses[:, 0], "weights": _common.export_weights(models[variant]),
            "test_accuracy": evaluate(models[variant], data[2], data[3])["accuracy"]}


def main(argv: list[str] | None = None) -> int:
    from shared.cli import main as cli
    return cli(["run", "batchnorm", "--framework", "torch", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
