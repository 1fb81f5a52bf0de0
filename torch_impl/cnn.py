"""cnn (PyTorch): a LeNet-style convolutional network on MNIST, images as NCHW.

Two 5x5 convolutions, each followed by ReLU and a 2x2 max pool, then three Linear layers:
(n, 1, 28, 28) -> conv1 (padding 2) -> (n, 6, 28, 28) -> pool -> (n, 6, 14, 14) -> conv2 ->
(n, 16, 10, 10) -> pool -> (n, 16, 5, 5) -> flatten -> (n, 400) -> 120 -> 84 -> 10 logits.
torch.flatten lists the features channel by channel (NCHW); fc1's weight expects that order.
SGD with momentum 0.9 and weight decay 5e-4 (added to the gradient before the momentum).

A lesson beyond the course: none of its notes trains a CNN (the spec says so). Twin:
jax_impl/cnn.py. Hazards (`lessons hazards`): init, conv_padding, pool_stride, nchw_flatten,
sgd_weight_decay, tf32 (cuDNN convolutions default to TF32 on a GPU).
`lessons run` runs train() below; `--loop fast` calls train_step from the harness's fast path.
"""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from shared.batches import BatchPlan
from shared.data import load_images


def load_data(hp, source):
    """x (n, 1, 28, 28) float32 in [0, 1], channels first (NCHW); y (n,) int64 digit; train and test."""
    x_train, y_train, x_test, y_test = load_images("mnist", source).flat()
    return x_train.reshape(-1, 1, 28, 28), y_train, x_test.reshape(-1, 1, 28, 28), y_test


class LeNet(nn.Module):
    def __init__(self, hp):
        super().__init__()
        (c1, c2), k, (p1, p2), (h1, h2) = hp["channels"], hp["kernel"], hp["padding"], hp["hidden"]
        self.conv1 = nn.Conv2d(1, c1, k, padding=p1)
        self.conv2 = nn.Conv2d(c1, c2, k, padding=p2)
        self.pool = nn.MaxPool2d(hp["pool"])  # stride defaults to the kernel size
        self.fc1 = nn.Linear(c2 * 5 * 5, h1)
        self.fc2 = nn.Linear(h1, h2)
        self.fc3 = nn.Linear(h2, 10)

    def forward(self, x):  # (n, 1, 28, 28) -> (n, 10) logits
        x = self.pool(nn.functional.relu(self.conv1(x)))  # (n, 6, 14, 14)
        x = self.pool(nn.functional.relu(self.conv2(x)))  # (n, 16, 5, 5)
        x = torch.flatten(x, 1)  # (n, 400): channel, then row, then column
        x = nn.functional.relu(self.fc1(x))
        x = nn.functional.relu(self.fc2(x))
        return self.fc3(x)


def build_model(hp, seed):
    torch.manual_seed(seed)
    return LeNet(hp)


def make_optimizer(model, hp):
    return torch.optim.SGD(model.parameters(), lr=hp["lr"], momentum=hp["momentum"],
                           weight_decay=hp["weight_decay"], fused=True)


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
    raise SystemExit(main(["run", "cnn", "--framework", "torch", *sys.argv[1:]]))
