"""multiclass (PyTorch): MNIST 0/1/2 with a 784-32-3 MLP and cross-entropy on integer labels.

From two classes to three: the last Linear has one output per class, and nn.CrossEntropyLoss
takes the raw logits with integer labels (log-softmax is inside the loss, so the model has no
softmax layer). Adam at its defaults, 100 full-batch epochs; the prediction is the argmax.

The course (000, section 5) trains on full MNIST 0/1/2 with seed 43052 and prints train accuracy
0.9827; here the default data are the embedded digits (the spec lists the deviations).
Twin: jax_impl/multiclass.py. Hazards (`lessons hazards`): init, adam_bias_correction.
`lessons run` runs train() below; `--loop fast` calls train_step from the harness's fast path.
"""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from shared.batches import BatchPlan
from shared.data import load_images


def load_data(hp, source):
    """x (n, 784) float32 in [0, 1]; y (n,) int64 class index 0..2; for the train and test splits."""
    x_train, y_train, x_test, y_test = load_images("mnist", source, classes=hp["classes"]).flat()
    return x_train, y_train, x_test, y_test


def build_model(hp, seed):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(28 * 28, hp["hidden"]),
        nn.ReLU(),
        nn.Linear(hp["hidden"], len(hp["classes"])),  # (n, 3) logits: no softmax layer
    )


def make_optimizer(model, hp):
    return torch.optim.Adam(model.parameters(), lr=hp["lr"], fused=True)  # fused: one kernel per update


def loss_fn(model, x, y):
    return nn.functional.cross_entropy(model(x), y)  # nn.CrossEntropyLoss(): log-softmax + NLL, mean


def train_step(model, optimizer, x, y):
    optimizer.zero_grad()
    loss = loss_fn(model, x, y)
    loss.backward()
    optimizer.step()
    return loss


@torch.no_grad()
def evaluate(model, x, y):
    logits = model(x)
    return {"loss": nn.functional.cross_entropy(logits, y), "accuracy": (logits.argmax(dim=1) == y).float().mean()}


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
    raise SystemExit(main(["run", "multiclass", "--framework", "torch", *sys.argv[1:]]))
