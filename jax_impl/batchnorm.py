"""batchnorm (JAX, Flax NNX): BatchNorm vs Dropout vs a plain 784-32-32-10 MLP on MNIST, trained on the same batches.

"bn" puts nnx.BatchNorm after each hidden Linear, "dropout" Dropout(0.3) after each hidden ReLU;
Adam (lr 0.01) per model, batch 32, shuffled, drop_last, 10 epochs (course note 004, section 3).
The mode is the lesson: in train mode BatchNorm normalises with the batch's statistics and updates
its running ones, Dropout draws masks; in eval mode BatchNorm uses the running statistics and
Dropout is the identity. So model.train() before each epoch's steps and model.eval() before each
epoch's evaluation, as the course does; in NNX they set static attributes (use_running_average,
deterministic): each mode is its own compiled program.
Where the course differs (the spec lists it): its BN and dropout models share their Linear layers,
a bug (each model has its own here); it averages the evaluation over drop_last batches (here
over every sample). Twin: torch_impl/batchnorm.py. Hazards (`lessons hazards`): init,
adam_bias_correction, bn_momentum, bn_running_var.
`lessons run` runs train() below; `--loop fast` scans train_step in one compiled epoch (compiled_loop.py).
"""
import jax
import jax.numpy as jnp
import optax
from flax import nnx

from jax_impl import _as_torch as as_torch  # the hazards' fixes (shared/tools/hazards.py)
from shared.batches import BatchPlan
from shared.data import load_images


def load_data(hp, source):
    """x (n, 784) float32 in [0, 1]; y (n,) int digit 0..9; for the train and the validation (test) split."""
    x_train, y_train, x_test, y_test = load_images("mnist", source).flat()
    return x_train, y_train, x_test, y_test


def batch_norm(hp, features, rngs):
    """nnx.BatchNorm keeping torch's running statistics (hazards bn_momentum, bn_running_var): Flax's
    momentum weighs the old value (torch's 0.1 is 0.9), and the running variance is the unbiased one."""
    return as_torch.UnbiasedVarBatchNorm(features, momentum=as_torch.bn_momentum(hp["bn_momentum"]),
                                         epsilon=hp["bn_eps"], rngs=rngs)


class MLP(nnx.Module):
    """784 -> 32 -> 32 -> 10 logits: each hidden layer Linear, [BatchNorm], ReLU, [Dropout]."""

    def __init__(self, hp, *, batchnorm, dropout, rngs):
        h1, h2 = hp["hidden"]
        self.fc1 = nnx.Linear(28 * 28, h1, **as_torch.linear_init(28 * 28), rngs=rngs)
        self.fc2 = nnx.Linear(h1, h2, **as_torch.linear_init(h1), rngs=rngs)
        self.fc3 = nnx.Linear(h2, 10, **as_torch.linear_init(h2), rngs=rngs)
        self.bn1, self.bn2 = (batch_norm(hp, h1, rngs), batch_norm(hp, h2, rngs)) if batchnorm else (None, None)
        self.dropout = nnx.Dropout(rate=hp["p"], rngs=rngs) if dropout else None

    def __call__(self, x):  # (n, 784) -> (n, 10)
        for fc, bn in ((self.fc1, self.bn1), (self.fc2, self.bn2)):
            x = fc(x)
            x = jax.nn.relu(x if bn is None else bn(x))
            x = x if self.dropout is None else self.dropout(x)
        return self.fc3(x)


def build_model(hp, seed):
    """The models named in hp["models"], each with its own layers, all from the same Linear weights."""
    return nnx.Dict({name: MLP(hp, batchnorm=name == "bn", dropout=name == "dropout", rngs=nnx.Rngs(seed))
                     for name in hp["models"]})


def make_optimizer(models, hp):
    return {name: nnx.Optimizer(model, as_torch.adam(hp["lr"]), wrt=nnx.Param) for name, model in models.items()}


def loss_fn(model, x, y):
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()  # log-softmax + NLL, mean


def train_step(models, optimizers, x, y):
    """One step of every model on the same batch, each with its own Adam -> the losses, (models,)."""
    losses = []
    for name, model in models.items():
        loss, grads = nnx.value_and_grad(loss_fn)(model, x, y)
        optimizers[name].update(model, grads)
        losses.append(loss)
    return jnp.stack(losses)


def evaluate(models, x, y):
    """{model: loss and accuracy over every sample of x}, in eval mode."""
    out = {}
    for name, model in models.items():
        logits = model(x)
        out[name] = {"loss": optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(),
                     "accuracy": (logits.argmax(axis=1) == y).mean()}
    return out


def train(models, optimizers, data, hp, *, seed, epochs):
    x_train, y_train, x_test, y_test = data
    plan = BatchPlan(len(x_train), hp["batch_size"], shuffle=hp["shuffle"], drop_last=hp["drop_last"], seed=seed)
    step, score = nnx.jit(train_step), nnx.jit(evaluate)
    losses, evaluations = [], []
    for epoch in range(epochs):
        models.train()  # train mode: BatchNorm uses and updates batch statistics, Dropout draws masks
        for idx in plan.epoch(epoch):
            losses.append(step(models, optimizers, x_train[idx], y_train[idx]).tolist())  # float() of each loss
        models.eval()  # eval mode: BatchNorm uses its running statistics, Dropout is the identity
        evaluations.append((score(models, x_train, y_train), score(models, x_test, y_test)))
    return losses, evaluations


if __name__ == "__main__":
    import sys
    from shared.cli import main
    raise SystemExit(main(["run", "batchnorm", "--framework", "jax", *sys.argv[1:]]))
