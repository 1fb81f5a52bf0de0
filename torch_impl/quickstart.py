"""quickstart (PyTorch): the PyTorch quickstart's network, trained with four optimizers.

The quickstart's NeuralNetwork (Flatten, then Linear(784, 512), ReLU, Linear(512, 512), ReLU,
Linear(512, 10)) with CrossEntropyLoss and DataLoader(batch_size=64), once per optimizer the
course explains: SGD (p -= lr g); momentum (v = mu v + g, v = g at the first step; p -= lr v);
RMSprop (s = alpha s + (1 - alpha) g^2; p -= lr g / (sqrt(s) + eps)); Adam (bias-corrected moving
averages of g and g^2). `lessons run` tests after every epoch, as the quickstart's test() does.

The course (001) follows the tutorial on Fashion-MNIST (--data full: 60,000 images, unshuffled);
by default the same network learns the embedded MNIST digits, shuffled since they are stored
class by class. The note gives no optimizer settings; the spec's are each algorithm's usual ones.
Twin: jax_impl/quickstart.py. Hazards (`lessons hazards`): init, rmsprop_defaults, adam_bias_correction.
`lessons run` runs train() below; `--loop fast` calls train_step from the harness's fast path.
"""
import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from shared.batches import BatchPlan
from shared.data import load_images


def load_data(hp, source):
    """x (n, 28, 28) float32 in [0, 1] (ToTensor's scaling, no channel axis); y (n,) int64; train and test."""
    split = load_images(hp["dataset"], source)

    def scale(x):  # uint8 0..255 -> float32 0..1
        return x.astype(np.float32) / np.float32(255.0)

    return scale(split.x_train), split.y_train, scale(split.x_test), split.y_test


class NeuralNetwork(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28 * 28, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 10),
        )

    def forward(self, x):  # (n, 28, 28) -> (n, 10) logits
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits


def build_model(hp, seed):
    torch.manual_seed(seed)
    return NeuralNetwork(hp["hidden"])


def make_optimizer(model, hp):
    """The variant's torch.optim optimizer, with torch's argument names from the spec."""
    if hp["optimizer"] == "sgd":
        return torch.optim.SGD(model.parameters(), lr=hp["lr"], momentum=hp["momentum"], fused=True)
    if hp["optimizer"] == "rmsprop":
        return torch.optim.RMSprop(model.parameters(), lr=hp["lr"], alpha=hp["alpha"], eps=hp["eps"])
    if hp["optimizer"] == "adam":
        return torch.optim.Adam(model.parameters(), lr=hp["lr"], betas=hp["betas"], eps=hp["eps"], fused=True)
    raise ValueError(f"unknown optimizer {hp['optimizer']!r}")


def loss_fn(model, x, y):
    return nn.functional.cross_entropy(model(x), y)  # nn.CrossEntropyLoss()


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
    plan = BatchPlan(len(x_train), hp["batch_size"], shuffle=hp["shuffle"], drop_last=hp["drop_last"], seed=seed)
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
    raise SystemExit(main(["run", "quickstart", "--framework", "torch", *sys.argv[1:]]))
