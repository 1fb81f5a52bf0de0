"""xor (PyTorch): perceptron gates, then a 2-10-10-10-1 sigmoid MLP that solves XOR.

A perceptron with the course's fixed weights makes AND, NAND and OR (the gates exercise); XOR is
not linearly separable, but AND(NAND(x), OR(x)) is XOR. The MLP learns it as the course writes it:
torch.manual_seed(777), nn.Sequential of Linear and Sigmoid layers, nn.BCELoss, SGD lr 1, 10001
full-batch steps, then accuracy of (output > 0.5). Some seeds get stuck at accuracy 0.5 (the
spec's parity seeds include two). The course logs cost.item() every 100 steps; here every step's
loss is kept. Twin: jax_impl/xor.py. Hazards (`lessons hazards`): init, bce_clamp.
`lessons run` runs train() below; `--loop fast` calls train_step from the harness's fast path.
"""
import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from shared.batches import BatchPlan
from shared.data import gate_table, xor_data


def load_data(hp, source):
    """The XOR truth table: x (4, 2) float32 0./1., y (4, 1) float32."""
    return xor_data()


def build_model(hp, seed):
    torch.manual_seed(seed)
    h1, h2, h3 = hp["hidden"]
    return nn.Sequential(
        nn.Linear(2, h1), nn.Sigmoid(),
        nn.Linear(h1, h2), nn.Sigmoid(),
        nn.Linear(h2, h3), nn.Sigmoid(),
        nn.Linear(h3, 1), nn.Sigmoid(),  # (n, 1) probability of a 1
    )


def make_optimizer(model, hp):
    return torch.optim.SGD(model.parameters(), lr=hp["lr"])


def loss_fn(model, x, y):
    return nn.functional.binary_cross_entropy(model(x), y)  # nn.BCELoss(): each log clamped at -100, mean


def train_step(model, optimizer, x, y):
    optimizer.zero_grad()
    loss = loss_fn(model, x, y)
    loss.backward()
    optimizer.step()
    return loss


@torch.no_grad()
def evaluate(model, x, y):
    predicted = (model(x) > 0.5).float()
    return {"accuracy": (predicted == y).float().mean()}


def train(model, optimizer, data, hp, *, seed, epochs):
    x, y = data
    plan = BatchPlan(len(x), hp["batch_size"], seed=seed)
    dataset = TensorDataset(x, y)
    losses = []
    model.train()
    for epoch in range(epochs):
        for xb, yb in DataLoader(dataset, batch_sampler=plan.epoch(epoch)):
            losses.append(train_step(model, optimizer, xb, yb).item())
    model.eval()
    return losses, [(evaluate(model, x, y), None)]


def perceptron(x, w, b):
    """1 where x @ w + b > 0, else 0 (the course's step). x: (n, 2) -> (n,)."""
    return (x @ torch.tensor(w, dtype=x.dtype) + b > 0).to(x.dtype)


def gate_outputs(gates, x):
    """AND, NAND, OR from their fixed weights, and XOR composed as AND(NAND, OR)."""
    out = {name: perceptron(x, w, b) for name, (w, b) in gates.items()}
    hidden = torch.stack([out["NAND"], out["OR"]], dim=1)  # (n, 2)
    out["XOR"] = perceptron(hidden, *gates["AND"])
    return out


def gates(hp, source, seed):
    """The gates exercise: each gate's outputs against its truth table; the share that match."""
    x = torch.as_tensor(xor_data()[0])
    out = gate_outputs(hp["gates"], x)
    return {"accuracy": np.mean([np.mean(out[g].numpy() == gate_table(g)[1][:, 0]) for g in out]),
            "extras": {"dataset": "gate truth tables"}}


if __name__ == "__main__":
    import sys
    from shared.cli import main
    raise SystemExit(main(["run", "xor", "--framework", "torch", *sys.argv[1:]]))
