"""batchnorm (JAX, Flax NNX): BatchNorm vs Dropout vs a plain 784-32-32-10 MLP on MNIST.

Three models with their own layers, trained on the same batches with Adam (lr 0.01, batch 32,
shuffled, drop_last) for 10 epochs: "bn" puts BatchNorm after each hidden Linear (before the
ReLU), "dropout" puts Dropout(0.3) after each hidden ReLU, "plain" has neither. All three start
from the same Linear weights (each is built from the lesson seed). After every epoch each model
is evaluated in eval mode over every sample of the training set and of the validation set (the
test split): loss and accuracy, the course's four plots.

Differences from the course, on purpose: each model has its own layers (the course shares its
Linear layers between the BN and Dropout models, a bug); the epoch figures are computed over
every sample in eval mode, not averaged over the epoch's batches; one compiled step trains the
three models (see fit).

Twin: torch_impl/batchnorm.py. Translation hazards handled on purpose:
- init: Flax's Linear defaults to lecun-normal weights and zero biases; the layers here use
  torch's U(+-1/sqrt(fan_in)) for both (_common.linear).
- BatchNorm: torch's momentum 0.1 is Flax's 0.9 (one weights the new batch, the other the old
  value: the same update). torch stores the unbiased batch variance, var * n/(n-1), in
  running_var; nnx.BatchNorm stores the biased one (and computes it as E[x^2] - E[x]^2). The
  BatchNorm1d module below keeps torch's conventions with Flax's names, so the weight exchange
  maps scale/bias/mean/var to weight/bias/running_mean/running_var.
- train/eval: the NNX module's .train()/.eval() set BatchNorm1d's use_running_average and
  Dropout's deterministic (static attributes: eval mode is a different compiled program).
- Dropout: the masks' random stream is explicit, an RngStream in the model's state that advances
  every step inside the compiled scan. The masks differ from torch's, so the dropout model is
  compared across frameworks by accuracy, not loss by loss.
- Adam: eps 1e-8 outside the sqrt, as in torch.optim.Adam, but optax.adam's bias correction
  1 - b2**t is computed in float32 (0.999**1 -> 1 - 0.99900001 = 0.00099999, 1.3e-5 off; 5e-5 at
  step 2) where torch computes it in float64. That gap, not rounding, made float32 torch-vs-jax
  losses drift 10x faster than torch-vs-torch64 from step 3 (plain past 1e-3 at step 29).
  _common.adam is optax.adam with the bias correction as -expm1(t log b): exact to an ulp.

Parity (`lessons parity batchnorm`; numbers in the spec's parity notes): float64 agrees to ~1e-15
for hundreds of steps. In float32 the gap grows by rounding that training amplifies: a hidden
pre-activation within rounding of 0 lands on the other side of a ReLU kink in one framework, that
sample's gradient changes by O(1), and Adam's division by sqrt(v) turns it into lr-sized steps;
each flip enables more. BatchNorm's normalised pre-activations rarely sit that close to a kink,
so bn stays close far longer than plain.
"""
from __future__ import annotations

import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from shared.batches import epoch_order, num_batches
from shared.config import RunConfig
from shared.data import load_images
from shared.progress import bar
from shared.timing import Stopwatch
from jax_impl import _common


class BatchNorm1d(nnx.Module):
    """torch.nn.BatchNorm1d's conventions under nnx.BatchNorm's names, for (n, features) inputs.

    Train mode normalises with the batch mean and biased variance and updates the running ones
    as running = momentum * running + (1 - momentum) * batch (Flax's momentum: 0.9 is torch's
    0.1), with the batch variance made unbiased, times n/(n-1), as torch stores it. Eval mode
    (use_running_average) normalises with the running statistics.
    """

    def __init__(self, num_features: int, *, momentum: float, epsilon: float):
        self.scale = nnx.Param(jnp.ones(num_features))
        self.bias = nnx.Param(jnp.zeros(num_features))
        self.mean = nnx.BatchStat(jnp.zeros(num_features))
        self.var = nnx.BatchStat(jnp.ones(num_features))
        self.momentum = momentum
        self.epsilon = epsilon
        self.use_running_average = False

    def __call__(self, x: jax.Array) -> jax.Array:  # (n, features) -> (n, features)
        if self.use_running_average:
            mean, var = self.mean[...], self.var[...]
        else:
            n = x.shape[0]
            mean, var = x.mean(0), x.var(0)  # two-pass, biased
            self.mean[...] = self.momentum * self.mean[...] + (1 - self.momentum) * mean
            self.var[...] = self.momentum * self.var[...] + (1 - self.momentum) * var * (n / (n - 1))
        return (x - mean) / jnp.sqrt(var + self.epsilon) * self.scale[...] + self.bias[...]


class MLP(nnx.Module):
    """784 -> 32 -> 32 -> 10 logits; BatchNorm1d before each hidden ReLU ("bn"), Dropout after it ("dropout")."""

    def __init__(self, hp: dict, variant: str, *, rngs: nnx.Rngs):
        h1, h2 = hp["hidden"]
        self.fc1 = _common.linear(784, h1, rngs=rngs)
        self.fc2 = _common.linear(h1, h2, rngs=rngs)
        self.fc3 = _common.linear(h2, 10, rngs=rngs)
        bn = variant == "bn"
        momentum = 1 - hp["bn_momentum"] if bn else None  # torch's 0.1 -> Flax's 0.9
        self.bn1 = BatchNorm1d(h1, momentum=momentum, epsilon=hp["bn_eps"]) if bn else None
        self.bn2 = BatchNorm1d(h2, momentum=momentum, epsilon=hp["bn_eps"]) if bn else None
        self.dropout = nnx.Dropout(hp["p"], rngs=rngs) if variant == "dropout" else None

    def hidden(self, h: jax.Array, bn: BatchNorm1d | None) -> jax.Array:
        """A hidden Linear's output -> [BatchNorm] -> ReLU -> [Dropout]."""
        h = jax.nn.relu(h if bn is None else bn(h))
        return h if self.dropout is None else self.dropout(h)

    def __call__(self, x: jax.Array) -> jax.Array:  # (n, 784) -> (n, 10)
        x = self.hidden(self.fc1(x), self.bn1)
        x = self.hidden(self.fc2(x), self.bn2)
        return self.fc3(x)


def build_model(spec, variant: str, seed: int) -> MLP:
    """A fresh model with its own layers. Every variant starts from the same Linear weights."""
    return MLP(spec.hp(variant), variant, rngs=nnx.Rngs(seed))


def init_weights(spec, seed: int, variant: str = "plain") -> dict[str, np.ndarray]:
    """The freshly initialised model's weights, for the weight exchange."""
    return _common.export_weights(build_model(spec, variant, seed))


def cross_entropy(logits: jax.Array, y: jax.Array) -> jax.Array:
    """torch.nn.CrossEntropyLoss: the mean over the batch of -log softmax(logits)[y]."""
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def evaluate(model: MLP, x: jax.Array, y: jax.Array) -> dict[str, float]:
    """Loss and accuracy over every sample of x, in eval mode (the model is left in train mode)."""
    logits = _common.predict(model, x)
    return {"loss": float(cross_entropy(logits, y)), "accuracy": float(jnp.mean(logits.argmax(1) == y))}


def fit(models: dict[str, MLP], x: jax.Array, y: jax.Array, hp: dict, *, seed: int, epochs: int,
        clock: Stopwatch, steps: int | None = None, on_epoch=None, progress: bool = False):
    """Train every model over the same batches, in one compiled step. Returns (losses (steps, len(models)), history).

    One step merges the models and their optimizers from their state, computes each model's
    loss and gradients on the same batch x[idx] and applies each model's own Adam update
    (nnx.split/merge around jax.jit). An epoch is one lax.scan of that step over the shared
    plan's (batches, batch_size) index matrix, on data that stays on the device; a partial last
    batch, when kept, is one more call at its own shape. Compilation is ahead of time and timed
    apart. ``steps`` stops early (the parity check); ``on_epoch(epoch)`` returns
    {variant: {metric: value}}. Only the training steps are timed.
    """
    optimizers = {k: nnx.Optimizer(m, _common.adam(hp["lr"]), wrt=nnx.Param) for k, m in models.items()}
    graphdef, state = nnx.split((models, optimizers))

    def step(state, xb, yb):
        models, optimizers = nnx.merge(graphdef, state)
        losses = []
        for k, model in models.items():
            loss, grads = nnx.value_and_grad(lambda m: cross_entropy(m(xb), yb))(model)
            optimizers[k].update(model, grads)
            losses.append(loss)
        return nnx.state((models, optimizers)), jnp.stack(losses)  # (len(models),)

    @jax.jit
    def run_batches(state, x, y, batches):  # batches: (k, batch_size) int32 -> losses (k, len(models))
        return jax.lax.scan(lambda s, idx: step(s, x[idx], y[idx]), state, batches)

    compiled = {}
    n, bs = len(x), hp["batch_size"]
    per_epoch = num_batches(n, bs, drop_last=hp["drop_last"])
    total = steps or epochs * per_epoch
    losses, history = [], {k: {} for k in models}
    with bar(-(-total // per_epoch), "batchnorm jax", enabled=progress, unit="epoch") as pbar:
        for epoch in range(-(-total // per_epoch)):
            order = epoch_order(n, shuffle=hp["shuffle"], seed=seed, epoch=epoch)
            count = min(per_epoch, total - epoch * per_epoch)
            k = min(count, n // bs)  # full batches; a partial one follows when drop_last is off
            for batches in (order[:k * bs].reshape(k, bs), order[k * bs:][None] if count > k else None):
                if batches is None or not batches.size:
                    continue
                batches = jnp.asarray(batches, jnp.int32)
                if batches.shape not in compiled:
                    with clock.compiling():
                        compiled[batches.shape] = run_batches.lower(state, x, y, batches).compile()
                with clock.training():
                    state, l = jax.block_until_ready(compiled[batches.shape](state, x, y, batches))
                losses.append(l)
            if on_epoch is not None:
                nnx.update((models, optimizers), state)
                for k_, metrics in on_epoch(epoch).items():
                    for name, v in metrics.items():
                        history[k_].setdefault(name, []).append(v)
            pbar.update()
    nnx.update((models, optimizers), state)
    losses = np.concatenate([np.asarray(l) for l in losses])
    _common.check_finite(losses, "batchnorm")
    return losses, history


def load_data(spec, cfg: RunConfig, device: jax.Device) -> list[jax.Array]:
    """x_train (n, 784), y_train, x_val, y_val on the device."""
    split = load_images(spec.dataset, cfg.data)
    dtype = _common.dtype_of(cfg.dtype)
    return [jax.device_put(jnp.asarray(a, dtype if a.dtype.kind == "f" else jnp.int32), device) for a in split.flat()]


def train_models(spec, cfg: RunConfig, device: jax.Device, data, variants, *, weights=None, steps=None,
                 on_epoch: bool = True):
    """Build the variants' models (from ``weights`` if given) and train them together.

    Returns (models, losses (steps, len(variants)), history per variant, Stopwatch).
    """
    seed = cfg.seed_for(spec)
    x, y, x_val, y_val = data
    models = {v: _common.cast(build_model(spec, v, seed), _common.dtype_of(cfg.dtype)) for v in variants}
    if weights is not None:
        for model in models.values():
            _common.import_weights(model, weights)

    def evaluate_all(epoch):
        return {k: {f"train_{name}": v for name, v in evaluate(m, x, y).items()}
                   | {f"val_{name}": v for name, v in evaluate(m, x_val, y_val).items()}
                for k, m in models.items()}

    clock = Stopwatch()
    hp = spec.hp()
    losses, history = fit(models, x, y, hp, seed=seed, epochs=cfg.epochs or hp["epochs"], clock=clock,
                          steps=steps, on_epoch=evaluate_all if on_epoch else None, progress=cfg.progress)
    return models, losses, history, clock


def run(spec, cfg: RunConfig) -> list:
    """The three models, trained together -> one Record each (what `lessons run/compare batchnorm` calls).

    Every record's train_s is the time of the one loop that trained all three models;
    its steps are its own model's optimizer steps, so steps / train_s is the loop's rate.
    """
    device = _common.select_device(cfg.device)
    with _common.scope(cfg, device):
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
    with _common.scope(cfg, device):
        data = load_data(spec, cfg, device)
        models, losses, _, _ = train_models(spec, cfg.replace(progress=False), device, data, (variant,),
                                            weights=weights, steps=steps, on_epoch=False)
        return {"losses": losses[:, 0], "weights": _common.export_weights(models[variant]),
                "test_accuracy": evaluate(models[variant], data[2], data[3])["accuracy"]}


def main(argv: list[str] | None = None) -> int:
    from shared.cli import main as cli
    return cli(["run", "batchnorm", "--framework", "jax", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
