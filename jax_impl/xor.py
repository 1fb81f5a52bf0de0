"""xor (JAX, Flax NNX): perceptron gates, then a 2-10-10-10-1 sigmoid MLP that solves XOR.

A perceptron with the course's fixed weights makes AND, NAND and OR (the gates exercise); XOR is
not linearly separable, but AND(NAND(x), OR(x)) is XOR. The MLP learns it as the course writes it:
nnx.Sequential of Linear layers (torch's init) and sigmoids, torch's BCELoss (as_torch.bce_loss),
SGD lr 1, 10001 full-batch steps, then accuracy of (output > 0.5). Some seeds get stuck at
accuracy 0.5 (the spec's parity seeds include two); nnx.Rngs(777) draws other weights than
torch.manual_seed(777), so parity runs start both from torch's. Twin: torch_impl/xor.py.
Hazards (`lessons hazards`): init, bce_clamp.
`lessons run` runs train() below; `--loop fast` scans train_step in one compiled loop (compiled_loop.py).
"""
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from jax_impl import _as_torch as as_torch  # the hazards' fixes (shared/tools/hazards.py)
from shared.batches import BatchPlan
from shared.data import gate_table, xor_data


def load_data(hp, source):
    """The XOR truth table: x (4, 2) float32 0./1., y (4, 1) float32."""
    return xor_data()


def build_model(hp, seed):
    rngs = nnx.Rngs(seed)
    h1, h2, h3 = hp["hidden"]
    return nnx.Sequential(
        nnx.Linear(2, h1, **as_torch.linear_init(2), rngs=rngs), nnx.sigmoid,
        nnx.Linear(h1, h2, **as_torch.linear_init(h1), rngs=rngs), nnx.sigmoid,
        nnx.Linear(h2, h3, **as_torch.linear_init(h2), rngs=rngs), nnx.sigmoid,
        nnx.Linear(h3, 1, **as_torch.linear_init(h3), rngs=rngs), nnx.sigmoid,  # (n, 1) probability of a 1
    )


def make_optimizer(model, hp):
    return nnx.Optimizer(model, optax.sgd(hp["lr"]), wrt=nnx.Param)


def loss_fn(model, x, y):
    return as_torch.bce_loss(model(x), y)  # torch's BCELoss: each log clamped at -100, mean


def train_step(model, optimizer, x, y):
    loss, grads = nnx.value_and_grad(loss_fn)(model, x, y)
    optimizer.update(model, grads)
    return loss


def evaluate(model, x, y):
    predicted = (model(x) > 0.5).astype(y.dtype)
    return {"accuracy": (predicted == y).mean()}


def train(model, optimizer, data, hp, *, seed, epochs):
    x, y = data
    plan = BatchPlan(len(x), hp["batch_size"], seed=seed)
    step, score = nnx.jit(train_step), nnx.jit(evaluate)
    losses = []
    model.train()
    for epoch in range(epochs):
        for idx in plan.epoch(epoch):
            losses.append(float(step(model, optimizer, x[idx], y[idx])))
    model.eval()
    return losses, [(score(model, x, y), None)]


def perceptron(x, w, b):
    """1 where x @ w + b > 0, else 0 (the course's step). x: (n, 2) -> (n,)."""
    return (x @ jnp.asarray(w, dtype=x.dtype) + b > 0).astype(x.dtype)


def gate_outputs(gates, x):
    """AND, NAND, OR from their fixed weights, and XOR composed as AND(NAND, OR)."""
    out = {name: perceptron(x, w, b) for name, (w, b) in gates.items()}
    hidden = jnp.stack([out["NAND"], out["OR"]], axis=1)  # (n, 2)
    out["XOR"] = perceptron(hidden, *gates["AND"])
    return out


def gates(hp, source, seed):
    """The gates exercise: each gate's outputs against its truth table; the share that match."""
    x = jnp.asarray(xor_data()[0])
    out = gate_outputs(hp["gates"], x)
    return {"accuracy": np.mean([np.mean(np.asarray(out[g]) == gate_table(g)[1][:, 0]) for g in out]),
            "extras": {"dataset": "gate truth tables"}}


if __name__ == "__main__":
    import sys
    from shared.cli import main
    raise SystemExit(main(["run", "xor", "--framework", "jax", *sys.argv[1:]]))
