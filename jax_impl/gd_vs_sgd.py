"""gd_vs_sgd (JAX, Flax NNX): full-batch gradient descent vs minibatch SGD on MNIST 0/1.

One 784-32-1 nnx.Sequential (ReLU, then a sigmoid probability), torch's BCELoss and Adam at
torch's defaults, trained two ways: GD takes one step per epoch on all training images for 700
epochs; SGD walks the batches in order (the course's DataLoader does not shuffle: zeros first,
then ones) for 100 epochs. Both reach about the same accuracy: SGD's noisier steps cost far fewer passes.

The course (000, section 2 D, seed 21345) trains on full MNIST 0/1 with batches of 2048 and
prints train accuracy 0.9998 (GD) and 0.9992 (SGD); its GPU variant is this code with --device
gpu. The embedded 800 digits take batches of 128, keeping 7 per epoch (the spec lists the
deviations). Twin: torch_impl/gd_vs_sgd.py. Hazards (`lessons hazards`): init, bce_clamp,
adam_bias_correction.
`lessons run` runs train() below; `--loop fast` scans train_step in one compiled epoch (compiled_loop.py).
"""
import numpy as np
from flax import nnx

from jax_impl import _as_torch as as_torch  # the hazards' fixes (shared/tools/hazards.py)
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
    rngs = nnx.Rngs(seed)
    return nnx.Sequential(
        nnx.Linear(28 * 28, hp["hidden"], **as_torch.linear_init(28 * 28), rngs=rngs),
        nnx.relu,
        nnx.Linear(hp["hidden"], 1, **as_torch.linear_init(hp["hidden"]), rngs=rngs),
        nnx.sigmoid,  # (n, 1) probability of a 1
    )


def make_optimizer(model, hp):
    return nnx.Optimizer(model, as_torch.adam(hp["lr"]), wrt=nnx.Param)


def loss_fn(model, x, y):
    return as_torch.bce_loss(model(x), y)  # torch's BCELoss: each log clamped at -100, mean


def train_step(model, optimizer, x, y):
    loss, grads = nnx.value_and_grad(loss_fn)(model, x, y)
    optimizer.update(model, grads)
    return loss


def evaluate(model, x, y):
    p = model(x)
    return {"loss": as_torch.bce_loss(p, y), "accuracy": ((p > 0.5).astype(y.dtype) == y).mean()}


def train(model, optimizer, data, hp, *, seed, epochs):
    x_train, y_train, x_test, y_test = data
    plan = BatchPlan(len(x_train), hp["batch_size"], shuffle=hp["shuffle"], seed=seed)
    step, score = nnx.jit(train_step), nnx.jit(evaluate)
    losses = []
    model.train()
    for epoch in range(epochs):
        for idx in plan.epoch(epoch):
            losses.append(float(step(model, optimizer, x_train[idx], y_train[idx])))
    model.eval()
    return losses, [(score(model, x_train, y_train), score(model, x_test, y_test))]


if __name__ == "__main__":
    import sys
    from shared.cli import main
    raise SystemExit(main(["run", "gd_vs_sgd", "--framework", "jax", *sys.argv[1:]]))
