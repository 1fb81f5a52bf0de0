"""softmax_regression (JAX, Flax NNX): the softmax cost five ways, then nnx.Linear(784, 10) on MNIST.

cost_forms writes one cost five ways, from the definition to the one call: a one-hot times
-log(softmax); the same with log_softmax; torch's nll_loss, which JAX lacks, as a gather of the
log-probabilities; optax's cross-entropy on the logits (per row, so averaged); and the course's
in-place scatter_ one-hot, here a new array from .at[].set(). Then softmax regression as the
course trains it: nnx.Linear(784, 10), cross-entropy, SGD lr 0.1, shuffled batches of 100
(drop_last), 15 epochs, seed 777.

The course (003, [5]) tests on mnist_test.test_data.float(), raw 0..255 pixels, after training
on 0..1 ones; here the test set is scaled like the training set, and evaluate also reports the
course's way (*_raw_pixels): 255 Wx + b ranks classes like Wx + b/255, so accuracy barely moves
while the loss saturates. Twin: torch_impl/softmax_regression.py. Hazard (`lessons hazards`): init.
`lessons run` runs train() below; `--loop fast` scans train_step in one compiled epoch (compiled_loop.py).
"""
import jax
import jax.numpy as jnp
import optax
from flax import nnx

from jax_impl import _as_torch as as_torch  # the hazards' fixes (shared/tools/hazards.py)
from shared.batches import BatchPlan
from shared.data import load_images


def cost_onehot_neglog_softmax(z, y):
    """mean over rows of sum_k onehot(y)_k * -log(softmax(z)_k). z: (n, k) logits, y: (n,) int."""
    y_one_hot = jax.nn.one_hot(y, z.shape[1], dtype=z.dtype)
    return (y_one_hot * -jnp.log(jax.nn.softmax(z, axis=1))).sum(axis=1).mean()


def cost_log_softmax(z, y):
    """The same with log_softmax: z - logsumexp(z), no log of an underflowed probability."""
    y_one_hot = jax.nn.one_hot(y, z.shape[1], dtype=z.dtype)
    return (y_one_hot * -jax.nn.log_softmax(z, axis=1)).sum(axis=1).mean()


def cost_nll(z, y):
    """torch's nll_loss written out: -log_softmax(z)[i, y_i] for each row i, averaged: no one-hot."""
    return -jnp.take_along_axis(jax.nn.log_softmax(z, axis=1), y[:, None], axis=1).mean()


def cost_cross_entropy(z, y):
    """optax's cross-entropy on the logits, one value per row; averaged like torch's F.cross_entropy."""
    return optax.softmax_cross_entropy_with_integer_labels(z, y).mean()


def cost_scatter_onehot(z, y):
    """The course's scatter_ one-hot, functionally: zeros with a 1 at (i, y_i), times -log(softmax(z))."""
    y_one_hot = jnp.zeros_like(z).at[jnp.arange(len(y)), y].set(1)  # row i gets a 1 in column y_i
    return (y_one_hot * -jnp.log(jax.nn.softmax(z, axis=1))).sum(axis=1).mean()


COST_FORMS = (cost_onehot_neglog_softmax, cost_log_softmax, cost_nll, cost_cross_entropy, cost_scatter_onehot)


def cost_forms(hp, source, seed):
    """Every form's cost on the course's logits and labels (the spec's, as torch.manual_seed(1) drew them)."""
    z, y = jnp.asarray(hp["logits"], dtype=jnp.float32), jnp.asarray(hp["labels"])
    forms = {form.__name__: float(form(z, y)) for form in COST_FORMS}
    cost = forms["cost_cross_entropy"]
    return {"cost": cost, "form_spread": max(abs(v - cost) for v in forms.values()), **forms}


def load_data(hp, source):
    """x (n, 784) float32 in [0, 1] (ToTensor's scaling, flattened); y (n,) int 0..9; train and test."""
    x_train, y_train, x_test, y_test = load_images("mnist", source).flat()
    return x_train, y_train, x_test, y_test


def build_model(hp, seed):
    # 784 pixels -> 10 logits; the softmax is in the cost
    return nnx.Linear(28 * 28, hp["classes"], **as_torch.linear_init(28 * 28), rngs=nnx.Rngs(seed))


def make_optimizer(model, hp):
    return nnx.Optimizer(model, optax.sgd(hp["lr"]), wrt=nnx.Param)


def loss_fn(model, x, y):
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()  # torch's CrossEntropyLoss


def train_step(model, optimizer, x, y):
    loss, grads = nnx.value_and_grad(loss_fn)(model, x, y)
    optimizer.update(model, grads)
    return loss


def evaluate(model, x, y):
    """On the 0..1 pixels the model trained on, and (*_raw_pixels) on x * 255, as the course tests."""
    logits, raw = model(x), model(x * 255)
    return {"loss": optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(),
            "accuracy": (logits.argmax(axis=1) == y).mean(),
            "loss_raw_pixels": optax.softmax_cross_entropy_with_integer_labels(raw, y).mean(),
            "accuracy_raw_pixels": (raw.argmax(axis=1) == y).mean()}


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
    raise SystemExit(main(["run", "softmax_regression", "--framework", "jax", *sys.argv[1:]]))
