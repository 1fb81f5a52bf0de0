"""dropout (JAX, Flax NNX): train mode vs eval mode, Linear(784, 512) -> ReLU -> Dropout(p) -> Linear(512, 10).

In train mode nnx.Dropout zeroes each activation with probability p and scales the survivors by
1/(1-p), so each activation keeps its expected value; in eval mode it is the identity. So the
mode is part of the program: model.train() before training, model.eval() before every
evaluation, as the course writes it (note 004, section 1); in NNX they set Dropout's static
`deterministic`, so each mode is its own compiled program. Forgetting model.eval() scores a
random sub-network. Settings: the course's (section 3: Adam lr 0.01, batch 32, shuffled,
drop_last, p 0.3, 10 epochs); where ours differ (seed, data, evaluation over every sample), the
spec says why. The masks' stream is explicit: nnx.Rngs(seed) gives the init, then a stream in
Dropout's state that advances every call; it differs from torch's generator, so the two are
compared by accuracy over seeds. Twin: torch_impl/dropout.py. Hazards: init, adam_bias_correction.
`lessons run` runs train() below; `--loop fast` scans train_step in one compiled epoch (compiled_loop.py).
"""
import optax
from flax import nnx

from jax_impl import _as_torch as as_torch  # the hazards' fixes (shared/tools/hazards.py)
from shared.batches import BatchPlan
from shared.data import load_images


def load_data(hp, source):
    """x (n, 784) float32 in [0, 1]; y (n,) int digit 0..9; for the train and test splits."""
    x_train, y_train, x_test, y_test = load_images("mnist", source).flat()
    return x_train, y_train, x_test, y_test


def build_model(hp, seed):
    rngs = nnx.Rngs(seed)  # the init, then the masks: Dropout forks its own stream from it
    return nnx.Sequential(
        nnx.Linear(28 * 28, hp["hidden"], **as_torch.linear_init(28 * 28), rngs=rngs),
        nnx.relu,
        nnx.Dropout(rate=hp["p"], rngs=rngs),  # train mode: zero with probability p, scale by 1/(1-p); eval: identity
        nnx.Linear(hp["hidden"], 10, **as_torch.linear_init(hp["hidden"]), rngs=rngs),
    )


def make_optimizer(model, hp):
    return nnx.Optimizer(model, as_torch.adam(hp["lr"]), wrt=nnx.Param)


def loss_fn(model, x, y):
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()  # log-softmax + NLL, mean


def train_step(model, optimizer, x, y):  # in train mode: a fresh mask per call (the stream's counter advances)
    loss, grads = nnx.value_and_grad(loss_fn)(model, x, y)
    optimizer.update(model, grads)
    return loss


def evaluate(model, x, y):  # in eval mode: Dropout is the identity
    logits = model(x)
    return {"loss": optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(),
            "accuracy": (logits.argmax(axis=1) == y).mean()}


def train(model, optimizer, data, hp, *, seed, epochs):
    x_train, y_train, x_test, y_test = data
    plan = BatchPlan(len(x_train), hp["batch_size"], shuffle=hp["shuffle"], drop_last=hp["drop_last"], seed=seed)
    step, score = nnx.jit(train_step), nnx.jit(evaluate)
    losses, evaluations = [], []
    for epoch in range(epochs):
        model.train()  # train mode: Dropout(deterministic=False)
        for idx in plan.epoch(epoch):
            losses.append(float(step(model, optimizer, x_train[idx], y_train[idx])))
        model.eval()  # eval mode: Dropout(deterministic=True)
        evaluations.append((score(model, x_train, y_train), score(model, x_test, y_test)))
    return losses, evaluations


if __name__ == "__main__":
    import sys
    from shared.cli import main
    raise SystemExit(main(["run", "dropout", "--framework", "jax", *sys.argv[1:]]))
