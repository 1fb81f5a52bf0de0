"""batchnorm (PyTorch): BatchNorm vs Dropout vs a plain 784-32-32-10 MLP on MNIST, trained on the same batches.

"bn" puts BatchNorm1d after each hidden Linear, "dropout" Dropout(0.3) after each hidden ReLU;
Adam (lr 0.01) per model, batch 32, shuffled, drop_last, 10 epochs (course note 004, section 3).
The mode is the lesson: in train mode BatchNorm normalises with the batch's statistics and updates
its running ones, Dropout draws masks; in eval mode BatchNorm uses the running statistics and
Dropout is the identity. So model.train() before each epoch's steps and model.eval() (under
torch.no_grad()) before each epoch's evaluation, as the course does.

Where the course differs (the spec lists it): its BN and dropout models share their Linear layers,
a bug (each model has its own here); it averages the evaluation over drop_last batches (here
over every sample). Twin: jax_impl/batchnorm.py. Hazards (`lessons hazards`): init,
adam_bias_correction, bn_momentum, bn_running_var.
`lessons run` runs train() below; `--loop fast` calls train_step from the harness's fast path.
"""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from shared.batches import BatchPlan
from shared.data import load_images


def load_data(hp, source):
    """x (n, 784) float32 in [0, 1]; y (n,) int64 digit 0..9; for the train and the validation (test) split."""
    x_train, y_train, x_test, y_test = load_images("mnist", source).flat()
    return x_train, y_train, x_test, y_test


def batch_norm(hp, features):
    """BatchNorm1d with the spec's momentum (weight of the new batch) and eps: torch's defaults."""
    return nn.BatchNorm1d(features, momentum=hp["bn_momentum"], eps=hp["bn_eps"])


class MLP(nn.Module):
    """784 -> 32 -> 32 -> 10 logits: each hidden layer Linear, [BatchNorm1d], ReLU, [Dropout]."""

    def __init__(self, hp, *, batchnorm, dropout):
        super().__init__()
        h1, h2 = hp["hidden"]
        self.fc1, self.fc2, self.fc3 = nn.Linear(28 * 28, h1), nn.Linear(h1, h2), nn.Linear(h2, 10)
        self.bn1, self.bn2 = (batch_norm(hp, h1), batch_norm(hp, h2)) if batchnorm else (None, None)
        self.dropout = nn.Dropout(p=hp["p"]) if dropout else None

    def forward(self, x):  # (n, 784) -> (n, 10)
        for fc, bn in ((self.fc1, self.bn1), (self.fc2, self.bn2)):
            x = fc(x)
            x = torch.relu(x if bn is None else bn(x))
            x = x if self.dropout is None else self.dropout(x)
        return self.fc3(x)


def build_model(hp, seed):
    """The models named in hp["models"], each with its own layers, all from the same Linear weights."""
    models = nn.ModuleDict()
    for name in hp["models"]:
        torch.manual_seed(seed)
        models[name] = MLP(hp, batchnorm=name == "bn", dropout=name == "dropout")
    return models


def make_optimizer(models, hp):
    return {name: torch.optim.Adam(model.parameters(), lr=hp["lr"], fused=True)  # fused: one kernel per update
            for name, model in models.items()}


def loss_fn(model, x, y):
    return nn.functional.cross_entropy(model(x), y)  # nn.CrossEntropyLoss(): log-softmax + NLL, mean


def train_step(models, optimizers, x, y):
    """One step of every model on the same batch, each with its own Adam -> the losses, (models,)."""
    losses = []
    for name, model in models.items():
        optimizer = optimizers[name]
        optimizer.zero_grad()
        loss = loss_fn(model, x, y)
        loss.backward()
        optimizer.step()
        losses.append(loss.detach())
    return torch.stack(losses)


@torch.no_grad()
def evaluate(models, x, y):
    """{model: loss and accuracy over every sample of x}, in eval mode."""
    out = {}
    for name, model in models.items():
        logits = model(x)
        out[name] = {"loss": nn.functional.cross_entropy(logits, y),
                     "accuracy": (logits.argmax(dim=1) == y).float().mean()}
    return out


def train(models, optimizers, data, hp, *, seed, epochs):
    x_train, y_train, x_test, y_test = data
    plan = BatchPlan(len(x_train), hp["batch_size"], shuffle=hp["shuffle"], drop_last=hp["drop_last"], seed=seed)
    dataset = TensorDataset(x_train, y_train)
    losses, evaluations = [], []
    for epoch in range(epochs):
        models.train()  # train mode: BatchNorm uses and updates batch statistics, Dropout draws masks
        for xb, yb in DataLoader(dataset, batch_sampler=plan.epoch(epoch)):
            losses.append(train_step(models, optimizers, xb, yb).tolist())  # .item() of each model's loss
        models.eval()  # eval mode: BatchNorm uses its running statistics, Dropout is the identity
        evaluations.append((evaluate(models, x_train, y_train), evaluate(models, x_test, y_test)))
    return losses, evaluations


if __name__ == "__main__":
    import sys
    from shared.cli import main
    raise SystemExit(main(["run", "batchnorm", "--framework", "torch", *sys.argv[1:]]))
