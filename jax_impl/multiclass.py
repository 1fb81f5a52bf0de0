"""multiclass (JAX, Flax NNX): MNIST 0/1/2 with a 784-32-3 MLP and cross-entropy on integer labels.

From two classes to three: the last Linear has one output per class, and
optax.softmax_cross_entropy_with_integer_labels takes the raw logits with integer labels
(log-softmax is inside the loss, so the model has no softmax layer). Adam at torch's defaults,
100 full-batch epochs; the prediction is the argmax.

The course (000, section 5) trains on full MNIST 0/1/2 with seed 43052 and prints train accuracy
0.9827; here the default data are the embedded digits (the spec lists the deviations).
Twin: torch_impl/multiclass.py. Hazards (`lessons hazards`): init, adam_bias_correction.
`lessons run` runs train() below; `--loop fast` scans train_step in one compiled epoch (compiled_loop.py).
"""
import optax
from flax import nnx

from jax_impl import _as_torch as as_torch  # the hazards' fixes (shared/tools/hazards.py)
from shared.batches import BatchPlan
from shared.data import load_images


def load_data(hp, source):
    """x (n, 784) float32 in [0, 1]; y (n,) int class index 0..2; for the train and test splits."""
    x_train, y_train, x_test, y_test = load_images("mnist", source, classes=hp["classes"]).flat()
    return x_train, y_train, x_test, y_test


def build_model(hp, seed):
    rngs = nnx.Rngs(seed)
    return nnx.Sequential(
        nnx.Linear(28 * 28, hp["hidden"], **as_torch.linear_init(28 * 28), rngs=rngs),
        nnx.relu,
        nnx.Linear(hp["hidden"], len(hp["classes"]), **as_torch.linear_init(hp["hidden"]), rngs=rngs),  # logits
    )


def make_optimizer(model, hp):
    return nnx.Optimizer(model, as_torch.adam(hp["lr"]), wrt=nnx.Param)


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
    raise SystemExit(main(["run", "multiclass", "--framework", "jax", *sys.argv[1:]]))
