"""xor (JAX, Flax NNX): perceptron gates, then a 2-10-10-10-1 sigmoid MLP that solves XOR.

A perceptron with the course's fixed weights makes AND, NAND and OR; XOR is not linearly
separable, but AND(NAND(x), OR(x)) is XOR. The MLP learns it: BCE loss, SGD lr 1, 10001
full-batch steps. Some seeds get stuck at accuracy 0.5.

Twin: torch_impl/xor.py. Translation hazards handled on purpose:
- init: Flax's Linear defaults to lecun-normal weights and zero biases; the layers here use
  torch's U(+-1/sqrt(fan_in)) for both (_common.linear).
- BCE: torch's BCELoss clamps each log at -100; _common.bce_loss does the same.
- Speed: all 10001 steps are one compiled lax.scan (nnx.split/merge around jax.jit), compiled
  once and timed apart from training. A per-step nnx.jit call would be dominated by overhead.
"""
from __future__ import annotations

import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from shared.config import RunConfig
from shared.data import gate_table, xor_data
from shared.timing import Stopwatch
from jax_impl import _common


def perceptron(x: jax.Array, w, b: float) -> jax.Array:
    """Step(x @ w + b) > 0 as 0/1. x: (n, 2) -> (n,)."""
    return (x @ jnp.asarray(w, dtype=x.dtype) + b > 0).astype(x.dtype)


def gate_outputs(gates: dict, x: jax.Array) -> dict[str, jax.Array]:
    """AND, NAND, OR from their fixed weights, and XOR composed as AND(NAND, OR)."""
    out = {name: perceptron(x, w, b) for name, (w, b) in gates.items()}
    hidden = jnp.stack([out["NAND"], out["OR"]], axis=1)  # (n, 2)
    out["XOR"] = perceptron(hidden, *gates["AND"])
    return out


class MLP(nnx.Module):
    """2 -> hidden... -> 1, sigmoid after every layer."""

    def __init__(self, hidden: tuple[int, ...], *, rngs: nnx.Rngs):
        self.fc1 = _common.linear(2, hidden[0], rngs=rngs)
        self.fc2 = _common.linear(hidden[0], hidden[1], rngs=rngs)
        self.fc3 = _common.linear(hidden[1], hidden[2], rngs=rngs)
        self.out = _common.linear(hidden[2], 1, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:  # (n, 2) -> (n, 1)
        for layer in (self.fc1, self.fc2, self.fc3, self.out):
            x = jax.nn.sigmoid(layer(x))
        return x


def build_model(hp: dict, seed: int) -> MLP:
    return MLP(hp["hidden"], rngs=nnx.Rngs(seed))


def init_weights(spec, seed: int, variant: str = "mlp") -> dict[str, np.ndarray]:
    """The freshly initialised model's weights, for the weight exchange."""
    return _common.export_weights(build_model(spec.hp(variant), seed))


def train(model: MLP, x: jax.Array, y: jax.Array, *, lr: float, steps: int, clock: Stopwatch) -> jax.Array:
    """Full-batch SGD on BCE, all steps in one lax.scan. Returns the per-step losses, shape (steps,)."""
    optimizer = nnx.Optimizer(model, optax.sgd(lr), wrt=nnx.Param)
    graphdef, state = nnx.split((model, optimizer))

    def loss_fn(model, x, y):
        return _common.bce_loss(model(x), y)

    def step(state, _):
        model, optimizer = nnx.merge(graphdef, state)
        loss, grads = nnx.value_and_grad(loss_fn)(model, x, y)
        optimizer.update(model, grads)
        return nnx.state((model, optimizer)), loss

    fit = jax.jit(lambda state: jax.lax.scan(step, state, length=steps))
    with clock.compiling():
        compiled = fit.lower(state).compile()
    with clock.training():
        state, losses = jax.block_until_ready(compiled(state))
    nnx.update((model, optimizer), state)
    return losses


def accuracy(model: MLP, x: jax.Array, y: jax.Array) -> float:
    return float(jnp.mean(((model(x) > 0.5).astype(y.dtype) == y).astype(jnp.float32)))


def run_mlp(hp: dict, cfg: RunConfig, device: jax.Device, *, seed: int, weights=None, steps=None):
    """Train the MLP; returns (model, losses as numpy, Stopwatch)."""
    dtype = _common.dtype_of(cfg.dtype)
    x, y = (jax.device_put(jnp.asarray(a, dtype), device) for a in xor_data())
    model = _common.cast(build_model(hp, seed), dtype)
    if weights is not None:
        _common.import_weights(model, weights)
    clock = Stopwatch()
    losses = train(model, x, y, lr=hp["lr"], steps=steps or hp["steps"], clock=clock)
    return model, losses, clock, (x, y)


def run(spec, cfg: RunConfig) -> list:
    """Both variants -> one Record each (what `lessons run/compare xor` calls)."""
    device = _common.select_device(cfg.device)
    with _common.scope(cfg, device):
        x = jnp.asarray(xor_data()[0])
        gates = gate_outputs(spec.hp("gates")["gates"], x)
        gate_acc = np.mean([np.mean(np.asarray(out) == gate_table(g)[1][:, 0]) for g, out in gates.items()])
        records = [_common.make_record(spec, cfg, device, "gates", metrics={"accuracy": float(gate_acc)})]

        hp = spec.hp("mlp")
        steps = cfg.epochs or hp["steps"]
        model, losses, clock, (x, y) = run_mlp(hp, cfg, device, seed=cfg.seed_for(spec), steps=steps)
        _common.check_finite(losses, spec.name)
        losses = np.asarray(losses)
        records.append(_common.make_record(
            spec, cfg, device, "mlp", metrics={"accuracy": accuracy(model, x, y), "loss": float(losses[-1])},
            history={"loss": losses.tolist()}, compile_s=clock.compile_s, train_s=clock.train_s,
            steps=steps, samples=steps * len(x)))
    return records


def parity_trace(spec, cfg: RunConfig, weights: dict, steps: int | None = None, variant: str = "mlp") -> dict:
    """Per-step losses and final weights of the MLP from given initial weights (the parity check)."""
    device = _common.select_device(cfg.device)
    with _common.scope(cfg, device):
        model, losses, _, (x, y) = run_mlp(spec.hp(variant), cfg.replace(progress=False), device,
                                           seed=cfg.seed_for(spec), weights=weights, steps=steps)
        return {"losses": np.asarray(losses), "weights": _common.export_weights(model),
                "accuracy": accuracy(model, x, y)}


def main(argv: list[str] | None = None) -> int:
    from shared.cli import main as cli
    return cli(["run", "xor", "--framework", "jax", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
