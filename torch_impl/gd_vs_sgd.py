"""gd_vs_sgd (PyTorch): full-batch gradient descent vs minibatch SGD on MNIST 0/1.

One 784-32-1 nn.Sequential (ReLU, then a sigmoid probability), nn.BCELoss and Adam at its
defaults, trained two ways: GD takes one step per epoch on all training images for 700 epochs;
SGD walks a DataLoader in order (the course's does not shuffle: zeros first, then ones) for 100
epochs. Both reach about the same accuracy: SGD's noisier steps cost far fewer passes.

The course (000, section 2 D, seed 21345) trains on full MNIST 0/1 with batches of 2048 and
prints train accuracy 0.9998 (GD) and 0.9992 (SGD); its GPU variant is this code with --device
gpu. The embedded 800 digits take batches of 128, keeping 7 per epoch (the spec lists the
deviations). Twin: jax_impl/gd_vs_sgd.py. Hazards (`lessons hazards`): init, bce_clamp,
adam_bias_correction.
`lessons run` runs train() below; `--loop fast` calls train_step from the harness's fast path.
"""
import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from shared.batches import BatchPlan
from shared.data import load_images


def load_data(hp, source):
    """x (n, 784) float32 in [0, 1]; y (n, 1) 0./1. (digit 1); training images class by class,
    as the course's torch.concat([X0, X1]); for the train and test splits."""
    x_train, y_train, x_test, y_test = load_images("mnist", source, classes=hp["classes"]).flat()
    order = np.argsort(y_train, kind="stable")

    def label(y):  # 1. for the second class, (n,) -> (n, 1)
        return (y == hp["classes"][1]).astype(np.float32)[:, None]

    return x_train[order], label(y_train[order]), x_test, label(y_test)


def build_model(hp, seed):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(28 * 28, hp["hidden"]),
        nn.ReLU(),
        nn.Linear(hp["hidden"], 1),
        nn.Sigmoid(),  # (n, 1) probability of a 1
    )


def make_optimizer(model, hp):
    return torch.optim.Adam(model.parameters(), lr=hp["lr"], fused=True)  # fused: one kernel per update


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
    p = model(x)
    return {"loss": nn.functional.binary_cross_entropy(p, y), "accuracy": ((p > 0.5).float() == y).float().mean()}


def train(model, optimizer, data, hp, *, seed, epochs):
    x_train, y_train, x_test, y_test = data
    plan = BatchPlan(len(x_train), hp["batch_size"], shuffle=hp["shuffle"], seed=seed)
    dataset = TensorDataset(x_train, y_train)
    losses = []
    model.train()
    for epoch in range(epochs):
        for xb, yb in DataLoader(dataset, batch_sampler=plan.epoch(epoch)):
            losses.append(train_step(model, optimizer, xb, yb).item())
    model.eval()
    return losses, [(evaluate(model, x_train, y_train), evaluate(model, x_test, y_test))]


if __name__ == "__main__":
    import sys
    from shared.cli import main
    raise SystemExit(main(["run", "gd_vs_sgd", "--framework", "torch", *sys.argv[1:]]))
