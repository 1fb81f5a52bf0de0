"""quickstart (JAX, Flax NNX): the PyTorch quickstart's network, trained with four optimizers.

The quickstart's NeuralNetwork (flatten, then Linear(784, 512), ReLU, Linear(512, 512), ReLU,
Linear(512, 10)) with cross-entropy and batches of 64, once per optimizer the course explains,
each optax configured to torch.optim's algorithm: optax.sgd (momentum is optax.trace: v = g at
the first step, as torch's buffer); as_torch.rmsprop (torch's alpha 0.99 and eps outside the
square root); as_torch.adam (torch's bias correction). `lessons run` tests after every epoch.

The course (001) follows the tutorial on Fashion-MNIST (--data full: 60,000 images, unshuffled);
by default the same network learns the embedded MNIST digits, shuffled since they are stored
class by class. The note gives no optimizer settings; the spec's are each algorithm's usual ones.
Twin: torch_impl/quickstart.py. Hazards (`lessons hazards`): init, rmsprop_defaults, adam_bias_correction.
`lessons run` runs train() below; `--loop fast` scans train_step in one compiled epoch (compiled_loop.py).
"""
import numpy as np
import optax
from flax import nnx

from jax_impl import _as_torch as as_torch  # the hazards' fixes (shared/tools/hazards.py)
from shared.batches import BatchPlan
from shared.data import load_images


def load_data(hp, source):
    """x (n, 28, 28) float32 in [0, 1] (ToTensor's scaling, no channel axis); y (n,) int; train and test."""
    split = load_images(hp["dataset"], source)

    def scale(x):  # uint8 0..255 -> float32 0..1
        return x.astype(np.float32) / np.float32(255.0)

    return scale(split.x_train), split.y_train, scale(split.x_test), split.y_test


class NeuralNetwork(nnx.Module):
    def __init__(self, hidden, *, rngs):
        self.linear_relu_stack = nnx.Sequential(
            nnx.Linear(28 * 28, hidden, **as_torch.linear_init(28 * 28), rngs=rngs),
            nnx.relu,
            nnx.Linear(hidden, hidden, **as_torch.linear_init(hidden), rngs=rngs),
            nnx.relu,
            nnx.Linear(hidden, 10, **as_torch.linear_init(hidden), rngs=rngs),
        )

    def __call__(self, x):  # (n, 28, 28) -> (n, 10) logits
        x = x.reshape(x.shape[0], -1)  # nn.Flatten()
        logits = self.linear_relu_stack(x)
        return logits


def build_model(hp, seed):
    return NeuralNetwork(hp["hidden"], rngs=nnx.Rngs(seed))


def make_optimizer(model, hp):
    """The variant's optimizer, optax configured to torch.optim's algorithm from the spec's settings."""
    if hp["optimizer"] == "sgd":
        tx = optax.sgd(hp["lr"], momentum=hp["momentum"] or None, nesterov=False)
    elif hp["optimizer"] == "rmsprop":
        tx = as_torch.rmsprop(hp["lr"], alpha=hp["alpha"], eps=hp["eps"])
    elif hp["optimizer"] == "adam":
        tx = as_torch.adam(hp["lr"], *hp["betas"], eps=hp["eps"])
    else:
        raise ValueError(f"unknown optimizer {hp['optimizer']!r}")
    return nnx.Optimizer(model, tx, wrt=nnx.Param)


def loss_fn(model, x, y):
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()  # torch's CrossEntropyLoss


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
    raise SystemExit(main(["run", "quickstart", "--framework", "jax", *sys.argv[1:]]))
