"""compiled_loop (PyTorch): one training run written three ways, and what each costs.

The model is softmax_regression's (nn.Linear(784, 10), SGD lr 0.1, batches of 100): so small that
the loop around train_step is most of the time. as_written is the course's loop: a DataLoader
over a TensorDataset (each batch indexed and collated sample by sample) and loss.item() every
step, which on a GPU waits for the step. resident keeps the data on the device, takes each batch
as x[idx] and reads the losses once per epoch: what the harness's fast path does for every torch
lesson. compiled is that loop around torch.compile(train_step) (compiled()): measured and kept,
though on a CPU it is no faster (`lessons bench compiled_loop`). The three give the same losses.
After train(): print runs on every call, a new batch shape compiles torch.compile again too,
masks come from one global generator (torch.manual_seed), tensors change in place, and on a GPU
a call returns before the work is done (torch.cuda.synchronize).
Twin: jax_impl/compiled_loop.py. Hazard (`lessons hazards`): init.
`lessons run` runs train() below (the variant's loop); `--loop fast`, the harness's loop.
"""
import contextlib
import io
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from shared.batches import BatchPlan
from shared.data import load_images


def load_data(hp, source):
    """x (n, 784) float32 in [0, 1]; y (n,) int64 0..9; for the train and test splits."""
    x_train, y_train, x_test, y_test = load_images("mnist", source).flat()
    return x_train, y_train, x_test, y_test


def build_model(hp, seed):
    torch.manual_seed(seed)
    return nn.Linear(28 * 28, hp["classes"])  # 784 pixels -> 10 logits; the softmax is in the loss


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
    logits = model(x)
    return {"loss": F.cross_entropy(logits, y), "accuracy": (logits.argmax(dim=1) == y).float().mean()}


def loop_as_written(model, optimizer, x, y, plan, epochs):
    """The course's loop: the DataLoader indexes the dataset once per sample and stacks the rows
    into a batch (collation), in Python. .item() copies the loss to the host: on a GPU the loop
    waits there for the step to finish, every step."""
    dataset = TensorDataset(x, y)
    losses = []
    for epoch in range(epochs):
        for xb, yb in DataLoader(dataset, batch_sampler=plan.epoch(epoch)):
            losses.append(train_step(model, optimizer, xb, yb).item())
    return losses


def loop_resident(model, optimizer, x, y, plan, epochs, step=train_step):
    """The data stay where they are (on the device) and a batch is one gather, x[idx]: no
    per-sample Python. The losses stay on the device too, read once per epoch."""
    losses = []
    for epoch in range(epochs):
        batches = plan.epoch(epoch)
        order = torch.as_tensor(np.concatenate(batches), device=x.device)  # one copy of the indices per epoch
        epoch_losses = [step(model, optimizer, x[idx], y[idx]).detach()
                        for idx in order.split([len(b) for b in batches])]
        losses += torch.stack(epoch_losses).tolist()  # one wait per epoch
    return losses


def compiled(step):
    """torch.compile(step): on the first call TorchDynamo captures the step's graph (forward,
    backward and the optimizer's update) and Inductor compiles it; a new input shape compiles
    again (then with the batch dimension dynamic). The loop around it stays in Python."""
    return torch.compile(step)


def loop_compiled(model, optimizer, x, y, plan, epochs):
    """The resident loop around the compiled step (compiled() above)."""
    return loop_resident(model, optimizer, x, y, plan, epochs, step=compiled(train_step))


LOOPS = {"as_written": loop_as_written, "resident": loop_resident, "compiled": loop_compiled}


def train(model, optimizer, data, hp, *, seed, epochs):
    x_train, y_train, x_test, y_test = data
    plan = BatchPlan(len(x_train), hp["batch_size"], shuffle=hp["shuffle"], drop_last=hp["drop_last"], seed=seed)
    model.train()
    losses = LOOPS[hp["loop"]](model, optimizer, x_train, y_train, plan, epochs)
    model.eval()
    return losses, [(evaluate(model, x_train, y_train), evaluate(model, x_test, y_test))]


def tracing(hp, source, seed):
    """torch runs Python as it goes (eager): a print in the step runs on every call and shows the
    value. (Under torch.compile a print splits the graph in two and still runs every call.)"""
    out = io.StringIO()

    def double(x):
        print("print:", x)  # on every call, with the value
        return 2 * x

    with contextlib.redirect_stdout(out):
        for call in range(hp["calls"]):
            double(torch.tensor(float(call)))
    lines = out.getvalue().splitlines()
    return {"prints": len(lines), "value_prints": len(lines), "extras": {"lines": lines}}


def recompiles(hp, source, seed):
    """torch.compile compiles once per input shape too, then, at the second shape, once more with the
    batch dimension dynamic, after which any batch size runs: two compilations with drop_last off,
    one with it on. Counted by a backend that counts the graphs it is given to compile."""
    x, y = (torch.as_tensor(a) for a in load_data(hp, source)[:2])
    counts = {}
    for drop_last in (False, True):
        graphs = []

        def counting(graph, example_inputs):
            graphs.append(graph)
            return graph.forward  # runs the captured graph as it is, without Inductor

        torch.compiler.reset()  # forget what earlier calls compiled
        model = build_model(hp, seed)
        loss = torch.compile(loss_fn, backend=counting)
        plan = BatchPlan(len(x), hp["batch_size"], drop_last=drop_last, seed=seed)
        for epoch in range(2):
            for xb, yb in DataLoader(TensorDataset(x, y), batch_sampler=plan.epoch(epoch)):
                loss(model, xb, yb)  # (128, 784), then (32, 784)
        counts[drop_last] = len(graphs)
    return {"compilations": counts[False], "compilations_drop_last": counts[True]}


def dropout_mask(shape, p, seed):
    """What nn.Dropout multiplies by in train mode: 0, or 1/(1-p). The random bits come from torch's
    global generator: torch.manual_seed(seed) sets it, and every draw anywhere advances it. The
    twin's come from its own nnx.Rngs stream and differ for every seed."""
    torch.manual_seed(seed)
    return nn.Dropout(p)(torch.ones(shape))


def masked(x, mask):
    """Dropout's output for a given mask: nn.Dropout computes x times the mask's values."""
    return x * mask


def set_row(x, row, value):
    """Tensors change in place: x[row] = value writes into x (and into every view of it)."""
    x[row] = value
    return x


def timing(hp, source, seed):
    """On a GPU, torch queues the kernels and returns at once: torch.cuda.synchronize() waits for
    them before the clock is read. On a CPU the work is done when the call returns."""
    a = torch.ones(hp["size"], hp["size"])
    sync = torch.cuda.synchronize if a.is_cuda else (lambda: None)
    a @ a  # a first call (on a GPU it loads the kernels): kept out of both times
    sync()
    start = time.perf_counter()
    a @ a
    queued = time.perf_counter() - start
    sync()
    done = time.perf_counter() - start
    return {"queued_share": queued / done, "queued_s": queued, "done_s": done}


if __name__ == "__main__":
    import sys
    from shared.cli import main
    raise SystemExit(main(["run", "compiled_loop", "--framework", "torch", *sys.argv[1:]]))
