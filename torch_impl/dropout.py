"""dropout (PyTorch): train mode vs eval mode, Linear(784, 512) -> ReLU -> Dropout(p) -> Linear(512, 10).

In train mode nn.Dropout zeroes each activation with probability p and scales the survivors by
1/(1-p), so each activation keeps its expected value; in eval mode it is the identity. So the
mode is part of the program: model.train() before training, model.eval() (under torch.no_grad())
before every evaluation, as the course writes it (note 004, section 1). Forgetting model.eval()
scores a random sub-network. Settings: the course's (section 3: Adam lr 0.01, batch 32, shuffled,
drop_last, p 0.3, 10 epochs); where ours differ (seed, data, evaluation over every sample), the
spec says why. Masks come from torch's global generator, seeded with the run's seed; the twin's
from JAX's, so the two are compared by accuracy over seeds, not step by step.
Twin: jax_impl/dropout.py. Hazards (`lessons hazards`): init, adam_bias_correction.
`lessons run` runs train() below; `--loop fast` calls train_step from the harness's fast path.
"""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from shared.batches import BatchPlan
from shared.data import load_images


def load_data(hp, source):
    """x (n, 784) float32 in [0, 1]; y (n,) int64 digit 0..9; for the train and test splits."""
    x_train, y_train, x_test, y_test = load_images("mnist", source).flat()
    return x_train, y_train, x_test, y_test


def build_model(hp, seed):
    torch.manual_seed(seed)  # the init, then (seeded again by the harness for training) the masks
    return nn.Sequential(
        nn.Linear(28 * 28, hp["hidden"]),
        nn.ReLU(),
        nn.Dropout(p=hp["p"]),  # train mode: zero with probability p, scale by 1/(1-p); eval mode: identity
        nn.Linear(hp["hidden"], 10),
    )


def make_optimizer(model, hp):
    return torch.optim.Adam(model.parameters(), lr=hp["lr"], fused=True)  # fused: one kernel per update


def loss_fn(model, x, y):
    return nn.functional.cross_entropy(model(x), y)  # nn.CrossEntropyLoss(): log-softmax + NLL, mean


def train_step(model, optimizer, x, y):  # in train mode: a fresh mask per call
    optimizer.zero_grad()
    loss = loss_fn(model, x, y)
    loss.backward()
    optimizer.step()
    return loss


@torch.no_grad()
def evaluate(model, x, y):  # in eval mode: Dropout is the identity
    logits = model(x)
    return {"loss": nn.functional.cross_entropy(logits, y), "accuracy": (logits.argmax(dim=1) == y).float().mean()}


def train(model, optimizer, data, hp, *, seed, epochs):
    x_train, y_train, x_test, y_test = data
    plan = BatchPlan(len(x_train), hp["batch_size"], shuffle=hp["shuffle"], drop_last=hp["drop_last"], seed=seed)
    dataset = TensorDataset(x_train, y_train)
    losses, evaluations = [], []
    for epoch in range(epochs):
        model.train()  # set the model to train mode (dropout=True)
        for xb, yb in DataLoader(dataset, batch_sampler=plan.epoch(epoch)):
            losses.append(train_step(model, optimizer, xb, yb).item())
        model.eval()  # set the model to evaluation mode (dropout=False)
        evaluations.append((evaluate(model, x_train, y_train), evaluate(model, x_test, y_test)))
    return losses, evaluations


if __name__ == "__main__":
    import sys
    from shared.cli import main
    raise SystemExit(main(["run", "dropout", "--framework", "torch", *sys.argv[1:]]))
