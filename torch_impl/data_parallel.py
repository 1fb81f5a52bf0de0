"""data_parallel (PyTorch): each global batch of 256 split over k DDP worker processes.

The course cuts the data into pieces because one GPU cannot hold it all; here k worker processes
take the pieces at the same time. Each holds the whole model (multiclass's 784-32-3 MLP and Adam),
takes its 1/k of every global batch of the shared plan (shard) and computes its gradient; DDP's
all-reduce averages the k gradients during backward, and every worker takes the same step: the
step one device takes on the whole batch. train_step is the plain step on a DDP-wrapped model;
train_step_explicit turns DDP's all-reduce off (no_sync) and writes it out with dist.all_reduce.

Every worker runs this file in its own process, joined in a process group (gloo on CPU, NCCL on
GPU): `lessons run data_parallel --workers K` starts them, or torchrun does (`torchrun
--nproc_per_node=K -m torch_impl.data_parallel`); `train` is the loop of one worker.
Twin: jax_impl/data_parallel.py. Hazards (`lessons hazards`): init, adam_bias_correction.
"""
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, TensorDataset

from shared.batches import BatchPlan
from shared.data import load_images


def load_data(hp, source):
    """x (n, 784) float32 in [0, 1]; y (n,) int64 class index 0..2. Every worker loads all of it."""
    x_train, y_train, x_test, y_test = load_images("mnist", source, classes=hp["classes"]).flat()
    return x_train, y_train, x_test, y_test


def build_model(hp, seed):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(28 * 28, hp["hidden"]),
        nn.ReLU(),
        nn.Linear(hp["hidden"], len(hp["classes"])),  # (n, 3) logits
    )


def distribute(model):
    """The model every worker trains: DDP copies rank 0's weights to all workers, and hooks into
    backward to average each gradient over the k workers (an all-reduce, in buckets)."""
    return DistributedDataParallel(model)


def make_optimizer(model, hp):
    return torch.optim.Adam(model.parameters(), lr=hp["lr"])


def loss_fn(model, x, y):
    return nn.functional.cross_entropy(model(x), y)


def shard(batch):
    """This worker's piece of a global batch: rows rank*b .. (rank+1)*b - 1, b = len(batch) / k."""
    rank, k = dist.get_rank(), dist.get_world_size()
    b = len(batch) // k
    return batch[rank * b:(rank + 1) * b]


def train_step(model, optimizer, x, y):
    """One step on this worker's piece x, y; model is DDP-wrapped, so backward also all-reduces."""
    optimizer.zero_grad()
    loss = loss_fn(model, x, y)
    loss.backward()  # local gradients, then DDP's all-reduce: the mean over the k workers
    optimizer.step()  # the same gradients on every worker: the same step
    return loss  # the loss of this worker's piece


def train_step_explicit(model, optimizer, x, y):
    """The same step with the all-reduce written out: what DDP's hooks do during backward."""
    optimizer.zero_grad()
    with model.no_sync():  # DDP's all-reduce off for this backward: each worker's own gradient
        loss = loss_fn(model, x, y)
        loss.backward()
    for p in model.parameters():
        dist.all_reduce(p.grad)  # the sum over the k workers ...
        p.grad /= dist.get_world_size()  # ... over k: the gradient of the whole global batch
    optimizer.step()
    return loss


@torch.no_grad()
def evaluate(model, x, y):
    logits = model(x)
    return {"loss": nn.functional.cross_entropy(logits, y), "accuracy": (logits.argmax(dim=1) == y).float().mean()}


def train(model, optimizer, data, hp, *, seed, epochs, step=train_step):
    """One worker's loop: a DataLoader over its piece of every global batch of the shared plan."""
    x_train, y_train, x_test, y_test = data
    plan = BatchPlan(len(x_train), hp["batch_size"], shuffle=hp["shuffle"], drop_last=hp["drop_last"], seed=seed)
    dataset = TensorDataset(x_train, y_train)
    losses = []
    model.train()
    for epoch in range(epochs):
        pieces = [shard(idx) for idx in plan.epoch(epoch)]  # every worker: the same global batches
        for xb, yb in DataLoader(dataset, batch_sampler=pieces):
            losses.append(step(model, optimizer, xb, yb).item())
    model.eval()
    return losses, [(evaluate(model, x_train, y_train), evaluate(model, x_test, y_test))]


if __name__ == "__main__":
    import sys
    from shared.cli import main
    raise SystemExit(main(["run", "data_parallel", "--framework", "torch", *sys.argv[1:]]))
