"""data_parallel (JAX, Flax NNX): each global batch of 256 split over the k devices of a Mesh.

The course cuts the data into pieces because one GPU cannot hold it all; here k devices take the
pieces at the same time. Each holds the whole model (multiclass's 784-32-3 MLP and Adam),
replicated over the mesh (distribute); the global batch is sharded along its first axis (shard).
train_step is the plain step: under jit, XLA sees the sharded batch and inserts the all-reduce of
the gradients itself. train_step_explicit writes it out: shard_map runs the step on each device's
piece, and lax.pmean averages the k gradients, the translation of DDP's all-reduce.

`lessons run data_parallel --workers K` runs it on K devices (on a CPU, K virtual ones:
--xla_force_host_platform_device_count); several processes joined by jax.distributed.initialize
(one per machine, each given the coordinator's address, the process count and its id) see one
mesh of all their devices. Twin: torch_impl/data_parallel.py.
Hazards (`lessons hazards`): init, adam_bias_correction.
"""
import jax
import numpy as np
import optax
from flax import nnx
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jax_impl import _as_torch as as_torch  # the hazards' fixes (shared/tools/hazards.py)
from shared.batches import BatchPlan
from shared.data import load_images


def _mesh():
    """Every device, in a row named "data": the k workers."""
    return Mesh(np.array(jax.devices()), ("data",))


def load_data(hp, source):
    """x (n, 784) float32 in [0, 1]; y (n,) int class index 0..2."""
    x_train, y_train, x_test, y_test = load_images("mnist", source, classes=hp["classes"]).flat()
    return x_train, y_train, x_test, y_test


def build_model(hp, seed):
    rngs = nnx.Rngs(seed)
    return nnx.Sequential(
        nnx.Linear(28 * 28, hp["hidden"], **as_torch.linear_init(28 * 28), rngs=rngs),
        nnx.relu,
        nnx.Linear(hp["hidden"], len(hp["classes"]), **as_torch.linear_init(hp["hidden"]), rngs=rngs),  # logits
    )


def distribute(model):
    """The model every device trains: its state replicated over the mesh (PartitionSpec(): a whole
    copy on each device)."""
    nnx.update(model, jax.device_put(nnx.state(model), NamedSharding(_mesh(), P())))
    return model


def make_optimizer(model, hp):
    return nnx.Optimizer(model, as_torch.adam(hp["lr"]), wrt=nnx.Param)


def loss_fn(model, x, y):
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()


def shard(batch):
    """A global batch split along its first axis over the devices: device i holds rows i*b ..
    (i+1)*b - 1, b = len(batch) / k (PartitionSpec("data"))."""
    return jax.lax.with_sharding_constraint(batch, NamedSharding(_mesh(), P("data")))


def train_step(model, optimizer, x, y):
    """One step on the sharded global batch x, y; under jit, XLA all-reduces the gradients."""
    loss, grads = nnx.value_and_grad(loss_fn)(model, x, y)
    optimizer.update(model, grads)  # the same gradients on every device: the same step
    return loss  # the loss of the whole global batch


def train_step_explicit(model, optimizer, x, y):
    """The same step with the all-reduce written out: shard_map runs it on each device's piece."""

    # check_vma=False: each device's gradient of its own piece, as in DDP before its all-reduce
    @nnx.shard_map(mesh=_mesh(), in_specs=(P(), P(), P("data"), P("data")), out_specs=P(), check_vma=False)
    def step(model, optimizer, x, y):  # x, y: this device's piece
        loss, grads = nnx.value_and_grad(loss_fn)(model, x, y)
        grads = jax.lax.pmean(grads, "data")  # DDP's all-reduce: the mean over the k devices
        optimizer.update(model, grads)
        return jax.lax.pmean(loss, "data")  # the loss of the whole global batch

    return step(model, optimizer, x, y)


def evaluate(model, x, y):
    logits = model(x)
    return {"loss": optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(),
            "accuracy": (logits.argmax(axis=1) == y).mean()}


def train(model, optimizer, data, hp, *, seed, epochs, step=train_step):
    """The loop: each global batch of the shared plan, sharded over the devices, one jitted step."""
    x_train, y_train, x_test, y_test = data
    plan = BatchPlan(len(x_train), hp["batch_size"], shuffle=hp["shuffle"], drop_last=hp["drop_last"], seed=seed)
    step = nnx.jit(step)
    score = nnx.jit(evaluate)
    losses = []
    model.train()
    for epoch in range(epochs):
        for idx in plan.epoch(epoch):
            losses.append(float(step(model, optimizer, shard(x_train[idx]), shard(y_train[idx]))))
    model.eval()
    return losses, [(score(model, x_train, y_train), score(model, x_test, y_test))]


if __name__ == "__main__":
    import sys
    from shared.cli import main
    raise SystemExit(main(["run", "data_parallel", "--framework", "jax", *sys.argv[1:]]))
