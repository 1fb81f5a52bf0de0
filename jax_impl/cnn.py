"""cnn (JAX, Flax NNX): a LeNet-style convolutional network on MNIST, images as NHWC.

Two 5x5 convolutions, each followed by ReLU and a 2x2 max pool, then three Linear layers:
(n, 28, 28, 1) -> conv1 (padding 2) -> (n, 28, 28, 6) -> pool -> (n, 14, 14, 6) -> conv2 ->
(n, 10, 10, 16) -> pool -> (n, 5, 5, 16) -> flatten -> (n, 400) -> 120 -> 84 -> 10 logits.
Flax's images are channels last; as_torch.flatten lists the features in torch's channel-first
order, so fc1 reads torch's weights as they are. SGD with momentum 0.9 and weight decay 5e-4.

A lesson beyond the course: none of its notes trains a CNN (the spec says so). Twin:
torch_impl/cnn.py. Hazards (`lessons hazards`): init, conv_padding, pool_stride, nchw_flatten,
sgd_weight_decay, tf32 (XLA's convolutions default to TF32 on a GPU).
`lessons run` runs train() below; `--loop fast` scans train_step in one compiled epoch (compiled_loop.py).
"""
from functools import partial

import optax
from flax import nnx

from jax_impl import _as_torch as as_torch  # the hazards' fixes (shared/tools/hazards.py)
from shared.batches import BatchPlan
from shared.data import load_images


def load_data(hp, source):
    """x (n, 28, 28, 1) float32 in [0, 1], channels last (NHWC); y (n,) int digit; train and test."""
    x_train, y_train, x_test, y_test = load_images("mnist", source).flat()
    return x_train.reshape(-1, 28, 28, 1), y_train, x_test.reshape(-1, 28, 28, 1), y_test


class LeNet(nnx.Module):
    def __init__(self, hp, *, rngs):
        (c1, c2), k, (p1, p2), (h1, h2) = hp["channels"], hp["kernel"], hp["padding"], hp["hidden"]
        self.conv1 = nnx.Conv(1, c1, (k, k), padding=as_torch.conv_padding(p1), **as_torch.linear_init(k * k),
                              rngs=rngs)
        self.conv2 = nnx.Conv(c1, c2, (k, k), padding=as_torch.conv_padding(p2),
                              **as_torch.linear_init(c1 * k * k), rngs=rngs)
        self.pool = partial(nnx.max_pool, window_shape=(hp["pool"],) * 2, strides=as_torch.pool_strides(hp["pool"]))
        self.fc1 = nnx.Linear(c2 * 5 * 5, h1, **as_torch.linear_init(c2 * 5 * 5), rngs=rngs)
        self.fc2 = nnx.Linear(h1, h2, **as_torch.linear_init(h1), rngs=rngs)
        self.fc3 = nnx.Linear(h2, 10, **as_torch.linear_init(h2), rngs=rngs)

    def __call__(self, x):  # (n, 28, 28, 1) -> (n, 10) logits
        x = self.pool(nnx.relu(self.conv1(x)))  # (n, 14, 14, 6)
        x = self.pool(nnx.relu(self.conv2(x)))  # (n, 5, 5, 16)
        x = as_torch.flatten(x)  # (n, 400) in torch's order: channel, then row, then column
        x = nnx.relu(self.fc1(x))
        x = nnx.relu(self.fc2(x))
        return self.fc3(x)


def build_model(hp, seed):
    return LeNet(hp, rngs=nnx.Rngs(seed))


def make_optimizer(model, hp):
    tx = as_torch.sgd(hp["lr"], momentum=hp["momentum"], weight_decay=hp["weight_decay"])
    return nnx.Optimizer(model, tx, wrt=nnx.Param)


def loss_fn(model, x, y):
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()  # log-softmax + NLL, mean


def train_step(model, optimizer, x, y):
    loss, grads = nnx.value_and_grad(loss_fn)(model, x, y)
    optimizer.update(model, grads)
    return loss


def evaluate(model, x, y):
    logits = model(x)
    return {"loss": optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(),
            "accuracy": (logits.argmax(axis=1) == y).mean()}


def train(model, optimizer, data, hp, *, seed, epochs):
    x_train, y_train, x_test, y_test = data
    plan = BatchPlan(len(x_train), hp["batch_size"], shuffle=hp["shuffle"], drop_last=hp["drop_last"], seed=seed)
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
    raise SystemExit(main(["run", "cnn", "--framework", "jax", *sys.argv[1:]]))
