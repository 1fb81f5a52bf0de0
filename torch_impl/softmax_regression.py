"""softmax_regression (PyTorch): the softmax cost five ways, then nn.Linear(784, 10) on MNIST.

cost_forms writes one cost five ways, from the definition to the one call: a one-hot times
-log(softmax); the same with log_softmax; nll_loss on log_softmax; cross_entropy on the logits;
and the course's one-hot written in place by scatter_. Then softmax regression as the course
trains it: nn.Linear(784, 10), CrossEntropyLoss, SGD lr 0.1, shuffled batches of 100
(drop_last), 15 epochs, seed 777.

The course (003, [5]) tests on mnist_test.test_data.float(), raw 0..255 pixels, after training
on 0..1 ones; here the test set is scaled like the training set, and evaluate also reports the
course's way (*_raw_pixels): 255 Wx + b ranks classes like Wx + b/255, so accuracy barely moves
while the loss saturates. Twin: jax_impl/softmax_regression.py. Hazard (`lessons hazards`): init.
`lessons run` runs train() below; `--loop fast` calls train_step from the harness's fast path.
"""
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from shared.batches import BatchPlan
from shared.data import load_images


def cost_onehot_neglog_softmax(z, y):
    """mean over rows of sum_k onehot(y)_k * -log(softmax(z)_k). z: (n, k) logits, y: (n,) int."""
    y_one_hot = F.one_hot(y, z.shape[1]).to(z.dtype)
    return (y_one_hot * -torch.log(F.softmax(z, dim=1))).sum(dim=1).mean()


def cost_log_softmax(z, y):
    """The same with log_softmax: z - logsumexp(z), no log of an underflowed probability."""
    y_one_hot = F.one_hot(y, z.shape[1]).to(z.dtype)
    return (y_one_hot * -F.log_softmax(z, dim=1)).sum(dim=1).mean()


def cost_nll(z, y):
    """nll_loss picks -log_softmax(z)[i, y_i] for each row i and averages: no one-hot."""
    return F.nll_loss(F.log_softmax(z, dim=1), y)


def cost_cross_entropy(z, y):
    """cross_entropy = nll_loss(log_softmax(z), y) in one call, on the logits."""
    return F.cross_entropy(z, y)


def cost_scatter_onehot(z, y):
    """The course's code: the one-hot written in place by scatter_, times -log(softmax(z))."""
    y_one_hot = torch.zeros_like(z)
    y_one_hot.scatter_(1, y.unsqueeze(1), 1)  # row i gets a 1 in column y_i
    return (y_one_hot * -torch.log(F.softmax(z, dim=1))).sum(dim=1).mean()


COST_FORMS = (cost_onehot_neglog_softmax, cost_log_softmax, cost_nll, cost_cross_entropy, cost_scatter_onehot)


def cost_forms(hp, source, seed):
    """Every form's cost on the course's logits and labels (the spec's, as torch.manual_seed(1) drew them)."""
    z, y = torch.tensor(hp["logits"], dtype=torch.float32), torch.tensor(hp["labels"])
    forms = {form.__name__: float(form(z, y)) for form in COST_FORMS}
    cost = forms["cost_cross_entropy"]
    return {"cost": cost, "form_spread": max(abs(v - cost) for v in forms.values()), **forms}


def load_data(hp, source):
    """x (n, 784) float32 in [0, 1] (ToTensor's scaling, flattened); y (n,) int64 0..9; train and test."""
    x_train, y_train, x_test, y_test = load_images("mnist", source).flat()
    return x_train, y_train, x_test, y_test


def build_model(hp, seed):
    torch.manual_seed(seed)
    return nn.Linear(28 * 28, hp["classes"])  # 784 pixels -> 10 logits; the softmax is in the cost


def make_optimizer(model, hp):
    return torch.optim.SGD(model.parameters(), lr=hp["lr"])


def loss_fn(model, x, y):
    return F.cross_entropy(model(x), y)  # nn.CrossEntropyLoss()


def train_step(model, optimizer, x, y):
    optimizer.zero_grad()
    loss = loss_fn(model, x, y)
    loss.backward()
    optimizer.step()
    return loss


@torch.no_grad()
def evaluate(model, x, y):
    """On the 0..1 pixels the model trained on, and (*_raw_pixels) on x * 255, as the course tests."""
    logits, raw = model(x), model(x * 255)
    return {"loss": F.cross_entropy(logits, y), "accuracy": (logits.argmax(dim=1) == y).float().mean(),
            "loss_raw_pixels": F.cross_entropy(raw, y), "accuracy_raw_pixels": (raw.argmax(dim=1) == y).float().mean()}


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
    raise SystemExit(main(["run", "softmax_regression", "--framework", "torch", *sys.argv[1:]]))
