"""compiled_loop (JAX, Flax NNX): one training run written three ways, and why JAX is fast here.

The model is softmax_regression's (nnx.Linear(784, 10), SGD lr 0.1, batches of 100): so small that
the loop around train_step is most of the time. as_written calls an nnx.jit step per batch and reads
each loss with float(): every call walks the model's graph in Python, and float() waits for the
device. resident runs the step under jax.jit on the state nnx.split gives (nnx.merge inside): one
dispatch per step, the losses read once per epoch. compiled is the whole epoch as one lax.scan:
one call per epoch, x[idx] inside the program. compiled() is what every JAX lesson's `--loop fast`
runs: jax_impl/_harness.py imports it. The three give the same losses (`lessons bench
compiled_loop` times them). After train(): print runs only while JAX traces (jax.debug.print runs
every call); a new batch shape compiles again (drop_last); masks come from nnx.Rngs streams, not a
global seed; arrays are immutable (.at[]); and calls return before the work is done
(block_until_ready). Twin: torch_impl/compiled_loop.py. Hazard (`lessons hazards`): init.
`lessons run` runs train() below (the variant's loop); `--loop fast` scans train_step per epoch.
"""
import contextlib
import io
import time

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from jax_impl import _as_torch as as_torch  # the hazards' fixes (shared/tools/hazards.py)
from shared.batches import BatchPlan
from shared.data import load_images


def load_data(hp, source):
    """x (n, 784) float32 in [0, 1]; y (n,) int 0..9; for the train and test splits."""
    x_train, y_train, x_test, y_test = load_images("mnist", source).flat()
    return x_train, y_train, x_test, y_test


def build_model(hp, seed):
    # 784 pixels -> 10 logits; the softmax is in the loss
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
    logits = model(x)
    return {"loss": optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(),
            "accuracy": (logits.argmax(axis=1) == y).mean()}


def loop_as_written(model, optimizer, x, y, plan, epochs):
    """The loop as the other lessons write it: nnx.jit traces and compiles train_step on the first
    call; every call then flattens the model and optimizer into arrays and writes them back, in
    Python. float() waits for the step to finish, as torch's .item() does."""
    step = nnx.jit(train_step)
    losses = []
    for epoch in range(epochs):
        for idx in plan.epoch(epoch):
            losses.append(float(step(model, optimizer, x[idx], y[idx])))
    return losses


def loop_resident(model, optimizer, x, y, plan, epochs):
    """jax.jit on pure state: nnx.split once into a graphdef (the structure, static) and a state
    (the arrays); each step rebuilds the objects inside the program (nnx.merge) and returns the
    new state, so a call is one dispatch. The losses stay on the device, read once per epoch."""
    graphdef, state = nnx.split((model, optimizer))

    @jax.jit
    def step(state, x, y, idx):  # idx: (batch_size,) rows of x; the gather runs inside the program
        model, optimizer = nnx.merge(graphdef, state)
        loss = train_step(model, optimizer, x[idx], y[idx])
        return nnx.state((model, optimizer)), loss

    losses = []
    for epoch in range(epochs):
        epoch_losses = []
        for idx in plan.epoch(epoch):
            state, loss = step(state, x, y, idx)
            epoch_losses.append(loss)
        losses += jnp.stack(epoch_losses).tolist()  # one wait per epoch
    nnx.update((model, optimizer), state)
    return losses


def compiled(step, graphdef, batch=lambda x, y, idx: (x[idx], y[idx])):
    """An epoch as one compiled program: jax.lax.scan calls ``step`` once per row of ``batches``,
    carrying the state (nnx.split's arrays) from step to step and stacking the losses. One call
    per epoch; one compilation per shape of ``batches`` (a smaller last batch is a second).
    ``batch(x, y, row)``: the step's batch (default x[row], y[row]). Every JAX lesson's fast path."""

    @jax.jit
    def epoch(state, x, y, batches):  # batches: (k, batch_size) row indices -> (state, losses (k,))
        def one(state, row):
            model, optimizer = nnx.merge(graphdef, state)
            loss = step(model, optimizer, *batch(x, y, row))
            return nnx.state((model, optimizer)), loss

        return jax.lax.scan(one, state, batches)

    return epoch


def loop_compiled(model, optimizer, x, y, plan, epochs):
    """The epoch as one lax.scan of train_step (compiled() above): no Python between steps."""
    graphdef, state = nnx.split((model, optimizer))
    epoch = compiled(train_step, graphdef)
    losses = []
    for e in range(epochs):
        for batches in plan.by_shape(e):  # (k, batch_size) index matrices, one per batch size
            state, epoch_losses = epoch(state, x, y, batches)
            losses += epoch_losses.tolist()  # one wait per epoch
    nnx.update((model, optimizer), state)
    return losses


LOOPS = {"as_written": loop_as_written, "resident": loop_resident, "compiled": loop_compiled}


def train(model, optimizer, data, hp, *, seed, epochs):
    x_train, y_train, x_test, y_test = data
    plan = BatchPlan(len(x_train), hp["batch_size"], shuffle=hp["shuffle"], drop_last=hp["drop_last"], seed=seed)
    model.train()
    losses = LOOPS[hp["loop"]](model, optimizer, x_train, y_train, plan, epochs)
    model.eval()
    score = nnx.jit(evaluate)
    return losses, [(score(model, x_train, y_train), score(model, x_test, y_test))]


def tracing(hp, source, seed):
    """jax.jit runs the Python function once, with tracers in place of arrays, to record what it
    computes; later calls run the compiled program. So print() runs once and shows a tracer
    (JitTracer(float32[])), while jax.debug.print is part of the program and prints every value."""
    out = io.StringIO()

    @jax.jit
    def double(x):
        print("print:", x)  # at trace time only
        jax.debug.print("jax.debug.print: {}", x)  # on every call, with the value
        return 2 * x

    with contextlib.redirect_stdout(out):
        for call in range(hp["calls"]):
            double(jnp.float32(call))
        jax.effects_barrier()  # the debug prints run when the device gets to them
    lines = out.getvalue().splitlines()
    return {"prints": sum(line.startswith("print:") for line in lines),
            "value_prints": sum(line.startswith("jax.debug.print:") for line in lines), "extras": {"lines": lines}}


def recompiles(hp, source, seed):
    """jit compiles once per input shape. With drop_last off each epoch's last, smaller batch is a
    second shape, so a second compilation; drop_last (or padding the last batch) keeps one. Counted
    by the step's Python code, which runs only while JAX traces, and it traces to compile."""
    x, y = load_data(hp, source)[:2]
    counts = {}
    for drop_last in (False, True):
        shapes = []

        def step(model, optimizer, x, y):
            shapes.append(x.shape)  # runs once per new shape: (128, 784), then (32, 784)
            return train_step(model, optimizer, x, y)

        model = build_model(hp, seed)
        jitted, optimizer = nnx.jit(step), make_optimizer(model, hp)
        plan = BatchPlan(len(x), hp["batch_size"], drop_last=drop_last, seed=seed)
        for epoch in range(2):
            for idx in plan.epoch(epoch):
                jitted(model, optimizer, x[idx], y[idx])
        counts[drop_last] = len(shapes)
    return {"compilations": counts[False], "compilations_drop_last": counts[True]}


def dropout_mask(shape, p, seed):
    """What nnx.Dropout multiplies by in train mode: 0, or 1/(1-p). Its random bits come from a
    stream of nnx.Rngs(seed), a key and a counter kept in the module, split anew on every call:
    nothing global changes. torch's come from its global generator, so the twins' masks differ
    for every seed; to compare the two bit for bit, pass torch's mask in (masked, below)."""
    dropout = nnx.Dropout(p, rngs=nnx.Rngs(seed))
    return dropout(jnp.ones(shape))


def masked(x, mask):
    """Dropout's output for a given mask, computed as torch computes it (x times the mask's values:
    flax divides x by 1-p, one rounding away). With torch's mask, torch's output to the bit."""
    return x * mask


def set_row(x, row, value):
    """Arrays are immutable: x[row] = value raises TypeError. x.at[row].set(value) returns a new
    array and leaves x as it was; inside jit, XLA writes in place where x is not used again."""
    return x.at[row].set(value)


def timing(hp, source, seed):
    """A JAX call returns once the work is queued, so a clock read right after it times the
    dispatch; jax.block_until_ready waits for the result (float() and printing wait too)."""
    a = jnp.ones((hp["size"], hp["size"]))
    matmul = jax.jit(jnp.matmul)
    jax.block_until_ready(matmul(a, a))  # the first call compiles: kept out of both times
    start = time.perf_counter()
    out = matmul(a, a)
    queued = time.perf_counter() - start
    jax.block_until_ready(out)
    done = time.perf_counter() - start
    return {"queued_share": queued / done, "queued_s": queued, "done_s": done}


if __name__ == "__main__":
    import sys
    from shared.cli import main
    raise SystemExit(main(["run", "compiled_loop", "--framework", "jax", *sys.argv[1:]]))
