"""What every JAX lesson shares: device, precision, init, weight exchange, losses, records."""
from __future__ import annotations

import functools
import math
from contextlib import ExitStack, contextmanager

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from shared.batches import epoch_order
from shared.config import RunConfig
from shared.errors import DivergenceError, LessonError
from shared.precision import STRICT
from shared.progress import bar
from shared.results import Record

FRAMEWORK = "jax"

WEIGHTS = nnx.Any(nnx.Param, nnx.BatchStat)  # what the weight exchange carries
# Flax names -> torch names in the weight exchange (kernel is transposed).
_TO_TORCH = {"kernel": "weight", "scale": "weight", "mean": "running_mean", "var": "running_var"}


def select_device(name: str) -> jax.Device:
    """cpu | gpu | auto -> jax.Device; asking for a GPU that JAX cannot see is an error."""
    try:
        gpus = jax.devices("gpu")
    except RuntimeError:
        gpus = []
    if name == "cpu" or (name == "auto" and not gpus):
        return jax.devices("cpu")[0]
    if not gpus:
        raise LessonError("--device gpu: JAX sees no GPU; use --device cpu (or auto), or install jax[cuda13]")
    return gpus[0]


def device_kind(device: jax.Device) -> str:
    return "cpu" if device.platform == "cpu" else "gpu"


@contextmanager
def scope(cfg: RunConfig, device: jax.Device):
    """Run a lesson on ``device`` under the precision policy and dtype.

    JAX matmuls on a GPU default to TF32; the strict policy asks for true float32.
    float64 needs x64 enabled, here only for the duration of the block.
    """
    with ExitStack() as stack:
        stack.enter_context(jax.default_device(device))
        if cfg.precision == STRICT:
            stack.enter_context(jax.default_matmul_precision("float32"))
        if cfg.dtype == "float64":
            stack.enter_context(jax.enable_x64(True))
        yield


def dtype_of(name: str):
    return {"float32": jnp.float32, "float64": jnp.float64}[name]


def torch_uniform(fan_in: int):
    """torch's default Linear init: weight and bias both U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

    (kaiming_uniform with a=sqrt(5) reduces to this bound.) Flax's default is lecun-normal
    weights and zero biases; the lessons use torch's so both frameworks start from the same
    distribution.
    """
    bound = 1.0 / math.sqrt(fan_in)

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init


def linear(in_features: int, out_features: int, *, rngs: nnx.Rngs) -> nnx.Linear:
    """nnx.Linear initialised like torch.nn.Linear (see torch_uniform); computes in its inputs' dtype."""
    init = torch_uniform(in_features)
    return nnx.Linear(in_features, out_features, kernel_init=init, bias_init=init, rngs=rngs)


def cast(model: nnx.Module, dtype) -> nnx.Module:
    """model.to(dtype) in torch: every floating parameter and statistic cast to ``dtype``."""
    return jax.tree.map(lambda a: a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a, model)


def _torch_name(path) -> tuple[str, bool]:
    *head, leaf = (str(p) for p in path)
    return ".".join([*head, _TO_TORCH.get(leaf, leaf)]), leaf == "kernel"


def export_weights(model: nnx.Module) -> dict[str, np.ndarray]:
    """Parameters and BatchNorm statistics as numpy in torch's layout and names (Linear weight (out, in))."""
    out = {}
    for path, var in nnx.to_flat_state(nnx.state(model, WEIGHTS)):
        name, transpose = _torch_name(path)
        arr = np.asarray(var.get_value())
        out[name] = arr.T.copy() if transpose else arr.copy()
    return out


def import_weights(model: nnx.Module, weights: dict[str, np.ndarray]) -> None:
    """The inverse of export_weights: torch-layout numpy arrays into the model, in place."""
    state = nnx.state(model, WEIGHTS)
    flat = list(nnx.to_flat_state(state))
    names = {_torch_name(path)[0] for path, _ in flat}
    if names != set(weights):
        raise ValueError(f"weights do not match the model: {sorted(names ^ set(weights))}")
    pure = nnx.to_pure_dict(state)
    for path, var in flat:
        name, transpose = _torch_name(path)
        arr = np.asarray(weights[name])
        node = pure
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = jnp.asarray(arr.T if transpose else arr, dtype=var.get_value().dtype)
    nnx.replace_by_pure_dict(state, pure)
    nnx.update(model, state)


@jax.custom_vjp
def bce_loss(p: jax.Array, y: jax.Array) -> jax.Array:
    """torch.nn.BCELoss, forward and backward: mean of -(y log p + (1-y) log(1-p)).

    Forward: each log clamped at -100 like torch, and log(1-p) computed as log1p(-p) as torch
    does (torch 2.x; log(1 - p) differs for p < ~1e-7). optax.sigmoid_binary_cross_entropy works
    on logits and does not clamp, so a saturated sigmoid would give inf where torch gives 100.
    Backward: torch's own formula, dL/dp = (p - y) / max(p (1-p), 1e-12) / n. Autodiff through
    the clamp would give 0 * inf = nan once a sigmoid saturates to exactly 1 (or 0), where
    torch's gradient is 0; the formula also rounds like torch's.
    """
    return -jnp.mean(y * _clamped_log(p) + (1.0 - y) * _clamped_log1m(p))


def _clamped_log(p):
    return jnp.maximum(jnp.log(p), -100.0)


def _clamped_log1m(p):
    return jnp.maximum(jnp.log1p(-p), -100.0)


def _bce_fwd(p, y):
    return bce_loss(p, y), (p, y)


def _bce_bwd(res, g):
    p, y = res
    eps = jnp.asarray(np.float32(1e-12), p.dtype)  # torch's EPSILON is a float, also in float64
    grad_p = g * (p - y) / jnp.maximum((1.0 - p) * p, eps) / p.size
    grad_y = g * (_clamped_log1m(p) - _clamped_log(p)) / p.size
    return grad_p.astype(p.dtype), grad_y.astype(y.dtype)


bce_loss.defvjp(_bce_fwd, _bce_bwd)


def adam(learning_rate: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> optax.GradientTransformation:
    """torch.optim.Adam in optax: optax.adam's moments, eps outside the square root, and the bias
    correction 1 - b**t as -expm1(t log b).

    optax.adam computes 1 - b2**t in the parameters' dtype: in float32, 1 - 0.99900001 =
    0.00099999, 1.3e-5 off at step 1 (5e-5 at step 2), where torch computes it in float64. That
    alone made float32 torch-vs-JAX losses drift ten times faster than rounding does.
    """
    scale = optax.scale_by_adam(b1, b2, eps)

    def update(grads, state, params=None):
        mu = optax.tree.update_moment(grads, state.mu, b1, 1)
        nu = optax.tree.update_moment_per_elem_norm(grads, state.nu, b2, 2)
        count = optax.safe_increment(state.count)

        def correct(m, v):  # m / (1 - b1**t) / (sqrt(v / (1 - b2**t)) + eps), times -lr
            t = count.astype(m.dtype)
            return -learning_rate * m / -jnp.expm1(t * math.log(b1)) / (jnp.sqrt(v / -jnp.expm1(t * math.log(b2))) + eps)

        return jax.tree.map(correct, mu, nu), optax.ScaleByAdamState(count=count, mu=mu, nu=nu)

    return optax.GradientTransformation(scale.init, update)


def check_finite(losses, lesson: str) -> None:
    losses = np.asarray(losses)
    bad = np.flatnonzero(~np.isfinite(losses))
    if bad.size:
        raise DivergenceError(lesson, FRAMEWORK, int(bad[0]) + 1, float(losses.ravel()[bad[0]]))


def versions() -> dict[str, str]:
    return {"jax": jax.__version__, "flax": flax.__version__, "optax": optax.__version__, "numpy": np.__version__}


def make_record(spec, cfg: RunConfig, device: jax.Device, variant: str, **fields) -> Record:
    return Record(lesson=spec.name, variant=variant, framework=FRAMEWORK, device=device_kind(device),
                  data=cfg.data, dtype=cfg.dtype, precision=cfg.precision, seed=cfg.seed_for(spec),
                  versions=versions(), **fields)


def fit(model: nnx.Module, tx: optax.GradientTransformation, loss_fn, x: jax.Array, y: jax.Array, *,
        batch_size: int, shuffle: bool, drop_last: bool, seed: int, epochs: int, name: str, clock,
        on_epoch=None, progress: bool = False) -> tuple[np.ndarray, dict[str, list[float]]]:
    """Minibatch training over the shared batch plan. Returns (per-step losses, per-epoch history).

    The twin of torch_impl._common.fit, compiled: an epoch's full batches are one ``lax.scan``
    over the index matrix from shared.batches, on data that stays on the device (x[idx] inside
    the program). A partial last batch, when kept, is one more call of the same program at its
    own shape. Full-batch GD skips the gather and scans over epochs. The step is built
    functionally with nnx.split/merge around jax.jit (an nnx.jit call per step costs far more
    than the step on a small model). Compilation is done ahead of time and timed apart.
    """
    n = len(x)
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    graphdef, state = nnx.split((model, optimizer))
    whole = not shuffle and batch_size >= n

    def step(state, xb, yb):
        model, optimizer = nnx.merge(graphdef, state)
        loss, grads = nnx.value_and_grad(lambda m: loss_fn(m(xb), yb))(model)
        optimizer.update(model, grads)
        return nnx.state((model, optimizer)), loss

    @jax.jit
    def run_batches(state, x, y, batches):  # batches: (k, batch_size) int32
        return jax.lax.scan(lambda s, idx: step(s, x[idx], y[idx]), state, batches)

    @jax.jit
    def run_whole(state, x, y, steps):  # steps: (length,), only its length matters
        return jax.lax.scan(lambda s, _: step(s, x, y), state, steps)

    compiled = {}

    def call(fn, state, arr):
        """Compile once per (program, shape), timed as compile; then run, timed as training."""
        key = (fn, arr.shape)
        if key not in compiled:
            with clock.compiling():
                compiled[key] = fn.lower(state, x, y, arr).compile()
        with clock.training():
            return jax.block_until_ready(compiled[key](state, x, y, arr))

    # Without per-epoch metrics, full-batch epochs run in ~20 chunks (for the progress bar).
    chunk = 1 if (on_epoch is not None or not whole) else max(1, epochs // 20)
    losses, history = [], {}
    with bar(epochs, name, enabled=progress, unit="epoch") as pbar:
        epoch = 0
        while epoch < epochs:
            if whole:
                length = min(chunk, epochs - epoch)
                state, l = call(run_whole, state, jnp.zeros(length))
                losses.append(l)
            else:
                length = 1
                order = epoch_order(n, shuffle=shuffle, seed=seed, epoch=epoch)
                k = n // batch_size
                if k:
                    state, l = call(run_batches, state, jnp.asarray(order[:k * batch_size].reshape(k, batch_size)))
                    losses.append(l)
                if not drop_last and n % batch_size:
                    state, l = call(run_batches, state, jnp.asarray(order[k * batch_size:][None]))
                    losses.append(l)
            if on_epoch is not None:
                nnx.update((model, optimizer), state)
                model.eval()
                for key, v in on_epoch(epoch).items():
                    history.setdefault(key, []).append(v)
                model.train()
            epoch += length
            pbar.update(length)
    nnx.update((model, optimizer), state)
    losses = np.concatenate([np.asarray(l) for l in losses])
    check_finite(losses, name)
    return losses, history


def predict(model: nnx.Module, x: jax.Array, batch_size: int = 8192) -> jax.Array:
    """The model's outputs over all of x in eval mode, in chunks, compiled."""
    model.eval()
    graphdef, state = nnx.split(model)
    model.train()
    forward = _forward(graphdef)
    return jnp.concatenate([forward(state, x[i:i + batch_size]) for i in range(0, len(x), batch_size)])


@functools.lru_cache(maxsize=64)
def _forward(graphdef):
    return jax.jit(lambda state, x: nnx.merge(graphdef, state)(x))
