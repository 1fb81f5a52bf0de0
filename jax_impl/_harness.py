"""The JAX side of the harness (shared/harness/session.py drives it): devices, precision, the
weight exchange, and the fast path that compiles each epoch of the lesson's own ``train_step``.

The module is a ``shared.harness.protocol.HarnessSide``: torch_impl/_harness.py has the same
public names with the same signatures (tests/test_structure.py checks both against the protocol).
"""
from __future__ import annotations

import functools
import platform
import sys
import time
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING

import flax
import jax
import jax.extend as jex
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from jax_impl import _as_torch as as_torch
from jax_impl import compiled_loop  # the lesson whose lax.scan epoch the fast path runs
from shared.errors import LessonError
from shared.harness.precision import STRICT

FRAMEWORK = "jax"
_WEIGHTS = nnx.Any(nnx.Param, nnx.BatchStat)  # what the weight exchange carries
# Flax names -> torch names in the weight exchange (a kernel is its weight with the axes reordered).
_TO_TORCH = {"kernel": "weight", "scale": "weight", "mean": "running_mean", "var": "running_var"}


def select_device(name: str) -> jax.Device:
    """cpu | gpu | auto -> jax.Device; asking for a GPU that JAX cannot see is an error."""
    try:
        gpus = jax.local_devices(backend="gpu")  # this process's (jax.distributed: not all)
    except RuntimeError:
        gpus = []
    if name == "cpu" or (name == "auto" and not gpus):
        return jax.local_devices(backend="cpu")[0]
    if not gpus:
        raise LessonError("--device gpu: JAX sees no GPU (jax.devices('gpu') is empty: no CUDA plugin, "
                          "driver or visible device); install jax[cuda13] (pip install -e '.[gpu]') "
                          "on a machine with an NVIDIA driver, or use --device cpu")
    return gpus[0]


def device_kind(device: jax.Device) -> str:
    return "cpu" if device.platform == "cpu" else "gpu"


@contextmanager
def placed(cfg, device: jax.Device, hazard: str | None = None):
    """Run on ``device`` under the precision policy and dtype, with ``hazard``'s fix removed.

    JAX matmuls on a GPU default to TF32; the strict policy asks for true float32 (hazard tf32).
    float64 needs x64 enabled, here only for the duration of the block.
    """
    with ExitStack() as stack:
        stack.enter_context(jax.default_device(device))
        if cfg.precision == STRICT and hazard != "tf32":
            stack.enter_context(jax.default_matmul_precision("float32"))
        if cfg.dtype == "float64":
            stack.enter_context(jax.enable_x64(True))
        if hazard is not None:
            stack.enter_context(as_torch.without(hazard))
        yield


def dtype_of(name: str):
    return {"float32": jnp.float32, "float64": jnp.float64}[name]


def versions() -> dict[str, str]:
    return {"jax": jax.__version__, "flax": flax.__version__, "optax": optax.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


def to_device(arrays, device: jax.Device, dtype: str) -> tuple:
    """numpy arrays onto the device once; floating ones in ``dtype``."""
    return tuple(jax.device_put(jnp.asarray(a, dtype_of(dtype) if np.asarray(a).dtype.kind == "f" else None), device)
                 for a in arrays)


def new_model(lesson, hp: dict, seed: int, dtype: str, device: jax.Device, weights=None):
    """The lesson's model, in ``dtype``, with ``weights`` (torch's layout) when given."""
    model = lesson.build_model(hp, seed)
    if weights is not None:
        import_weights(model, weights)
    return jax.tree.map(lambda a: a.astype(dtype_of(dtype)) if jnp.issubdtype(a.dtype, jnp.floating) else a, model)


def _torch_name(path) -> tuple[str, bool]:
    *head, leaf = (str(p) for p in path)
    head = [p for p in head if p != "layers"]  # nnx.Sequential keeps its layers in .layers; torch's has none
    return ".".join([*head, _TO_TORCH.get(leaf, leaf)]), leaf == "kernel"


def _kernel_axes(ndim: int, to_torch: bool) -> tuple[int, ...]:
    """Flax's kernel (*spatial, in, out) <-> torch's weight (out, in, *spatial): a Linear's is the
    transpose, a Conv2d's goes between (kh, kw, in, out) and (out, in, kh, kw)."""
    return (ndim - 1, ndim - 2, *range(ndim - 2)) if to_torch else (*range(2, ndim), 1, 0)


def _as_torch_layout(arr: np.ndarray, kernel: bool) -> np.ndarray:
    """A parameter-shaped array (weight, gradient, optimizer slot) in torch's layout, as a copy."""
    return (arr.transpose(_kernel_axes(arr.ndim, True)) if kernel else arr).copy()


def export_weights(model: nnx.Module) -> dict[str, np.ndarray]:
    """Parameters and BatchNorm statistics as numpy in torch's layout and names (Linear weight
    (out, in), Conv2d weight (out, in, kh, kw))."""
    out = {}
    for path, var in nnx.to_flat_state(nnx.state(model, _WEIGHTS)):
        name, kernel = _torch_name(path)
        out[name] = _as_torch_layout(np.asarray(var.get_value()), kernel)
    return out


def import_weights(model: nnx.Module, weights: dict[str, np.ndarray]) -> None:
    """The inverse of export_weights: torch-layout numpy arrays into the model, in place."""
    state = nnx.state(model, _WEIGHTS)
    flat = list(nnx.to_flat_state(state))
    names = {_torch_name(path)[0] for path, _ in flat}
    if names != set(weights):
        raise ValueError(f"weights do not match the model: {sorted(names ^ set(weights))}")
    pure, wrong = nnx.to_pure_dict(state), []
    for path, var in flat:
        name, kernel = _torch_name(path)
        arr = np.asarray(weights[name])
        arr = arr.transpose(_kernel_axes(arr.ndim, False)) if kernel else arr
        if arr.shape != var.get_value().shape:
            wrong.append(f"{name} {np.shape(weights[name])} for {tuple(var.get_value().shape)} (Flax's layout)")
            continue
        node = pure
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = jnp.asarray(arr, dtype=var.get_value().dtype)
    if wrong:
        raise ValueError(f"weights do not match the model's shapes: {', '.join(wrong)}")
    nnx.replace_by_pure_dict(state, pure)
    nnx.update(model, state)


def evaluate(lesson, model, x, y) -> dict:
    """The lesson's evaluate in eval mode (compiled), as Python floats; the model goes back to train mode."""
    model.eval()
    metrics = _jitted(lesson.evaluate)(model, x, y)
    model.train()
    return jax.tree.map(float, metrics)


@functools.cache
def _jitted(fn):
    """One nnx.jit per function, so evaluating after every epoch compiles once, not every time."""
    return nnx.jit(fn)


# -- probes: one step's stages as numpy (`lessons check`, `lessons parity --localize`) ----------------

def _parts(model, parts):
    """(name, model) for each model trained together (``parts``), or ("", model)."""
    return [(p, model[p]) for p in parts] if parts else [("", model)]


def _named(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _interpret(jaxpr, consts, args, seen: list, inside: str = "") -> list:
    """Evaluate ``jaxpr`` primitive by primitive, recording the input of every ReLU (jax.nn.relu: a
    max with 0 inside the call named relu) and sigmoid (logistic) into ``seen``, through calls."""
    env = {}

    def read(v):
        return v.val if isinstance(v, jex.core.Literal) else env[v]

    env.update(zip(jaxpr.constvars, consts))
    env.update(zip(jaxpr.invars, args))
    for eqn in jaxpr.eqns:
        args_in = [read(v) for v in eqn.invars]
        inner = eqn.params.get("jaxpr", eqn.params.get("call_jaxpr"))
        if isinstance(inner, jex.core.ClosedJaxpr):
            out = _interpret(inner.jaxpr, inner.consts, args_in, seen, eqn.params.get("name") or inside)
        else:
            literal_zero = [isinstance(v, jex.core.Literal) and np.ndim(v.val) == 0 and v.val == 0 for v in eqn.invars]
            if inside == "relu" and eqn.primitive.name == "max" and any(literal_zero) and not all(literal_zero):
                seen.append(("relu", _channels_first(args_in[literal_zero.index(False)])))
            elif eqn.primitive.name == "logistic":
                seen.append(("sigmoid", _channels_first(args_in[0])))
            out = eqn.primitive.bind(*args_in, **eqn.params)
            out = out if eqn.primitive.multiple_results else [out]
        env.update(zip(eqn.outvars, out))
    return [read(v) for v in jaxpr.outvars]


def _channels_first(a) -> np.ndarray:
    """An activation as numpy in torch's layout: a Flax image batch (n, h, w, c) as (n, c, h, w)."""
    a = np.asarray(a)
    return a.transpose(0, 3, 1, 2) if a.ndim == 4 else a


def forward(model, x, *, train: bool, seed: int, parts=None):
    """``model(x)`` on a copy, in train or eval mode, as numpy per model; and the input of every
    ReLU and sigmoid applied, in order, in torch's layout (images channels first; Dropout's masks
    come from the model's own stream)."""
    outputs, activations = {}, []
    for name, part in _parts(model, parts):
        part = nnx.clone(part)
        part.train() if train else part.eval()
        graphdef, state = nnx.split(part)
        closed, shape = jax.make_jaxpr(lambda s, x: nnx.merge(graphdef, s)(x), return_shape=True)(state, x)
        leaves = _interpret(closed.jaxpr, closed.consts, jax.tree.leaves((state, x)), activations)
        outputs[name] = np.asarray(jax.tree.unflatten(jax.tree.structure(shape), leaves))
    return outputs, activations


def gradients(lesson, model, x, y, *, seed: int, parts=None):
    """``lesson.loss_fn`` of a copy in train mode, and its gradient per parameter, as numpy in
    torch's names and layout."""
    losses, grads = {}, {}
    for name, part in _parts(model, parts):
        part = nnx.clone(part)
        part.train()
        loss, g = nnx.value_and_grad(lesson.loss_fn)(part, x, y)
        losses[name] = float(loss)
        for path, var in nnx.to_flat_state(g):
            key, kernel = _torch_name(path)
            grads[_named(name, key)] = _as_torch_layout(np.asarray(var.get_value()), kernel)
    return losses, grads


def step_once(step, model, optimizer, x, y, *, seed: int, shard=None):
    """``step`` once on the batch through one nnx.jit per step function (compiled once for all the
    probes of a model of that shape)."""
    if shard is not None:
        x, y = shard(x), shard(y)
    return _jitted(step)(model, optimizer, x, y)


_SLOTS = ("mu", "nu", "trace")  # optax's first moment, second moment, momentum


def optimizer_state(model, optimizer, parts=None) -> dict[str, np.ndarray]:
    """The optimizer's per-parameter state ("<param>.mu", ".nu", ".trace"), as numpy in torch's
    names and layout (JAX holds no gradients between steps)."""
    out = {}
    for name, _ in _parts(model, parts):
        opt = optimizer[name] if parts else optimizer
        if not isinstance(opt, nnx.Optimizer):
            continue  # a step that updates by hand: nothing kept between steps
        for path, var in nnx.to_flat_state(nnx.state(opt)):
            slot = next((i for i, k in enumerate(path) if k in _SLOTS), None)
            if slot is None or slot + 1 == len(path):
                continue
            key, kernel = _torch_name(path[slot + 1:])
            out[f"{_named(name, key)}.{path[slot]}"] = _as_torch_layout(np.asarray(var.get_value()), kernel)
    return out


def fit(step, model, optimizer, x, y, plan, *, epochs: int, steps: int | None, clock, after_epoch=None,
        shard=None):
    """The fast path: each epoch is one compiled ``lax.scan`` of the lesson's own ``step``, the code
    jax_impl/compiled_loop.py teaches (``compiled``), imported from there, not copied.

    The scan runs over the epoch's (batches, batch_size) index matrix from the shared plan, on data
    that stays on the device (x[idx] inside the program); a partial last batch is one more call at
    its own shape. Full-batch training scans over steps without a gather. The step is called on
    the model and optimizer rebuilt from their state (nnx.split / nnx.merge around jax.jit): an
    nnx.jit call per step would cost 10-20x more on these small models. Compiling is timed apart.
    ``after_epoch(epoch)`` runs between epochs with the model up to date (evaluation).
    ``shard(batch)``: the lesson's sharding of each global batch over the devices (data_parallel).
    Returns the per-step losses, (steps,) or (steps, models).
    """
    graph = (model, optimizer)  # an optimizer that is not state (a learning rate) is kept in the graphdef
    graphdef, state = nnx.split(graph)
    take = (lambda x, y, _: (x, y)) if plan.whole else (lambda x, y, idx: (x[idx], y[idx]))
    if shard is not None:  # data_parallel: the global batch sharded over the devices
        take = (lambda gather: lambda x, y, row: tuple(map(shard, gather(x, y, row))))(take)
    epoch_program = compiled_loop.compiled(step, graphdef, take)
    compiled = {}

    def call(rows):
        if rows.shape not in compiled:
            with clock.compiling():
                compiled[rows.shape] = epoch_program.lower(state, x, y, rows).compile()
        with clock.training():
            return jax.block_until_ready(compiled[rows.shape](state, x, y, rows))

    total = steps or epochs * plan.per_epoch
    # Full-batch runs without per-epoch work go in ~20 chunks of epochs, not one call per epoch.
    chunk = max(1, min(total, total // 20)) if plan.whole and after_epoch is None else 1
    losses, done, epoch = [], 0, 0
    while done < total:
        if plan.whole:  # the rows only count the steps: every step sees the whole set
            count = min(chunk * plan.per_epoch, total - done)
            groups = [jnp.zeros(count, jnp.int32)]
        else:
            count = min(plan.per_epoch, total - done)
            groups, left = [], count
            for rows in plan.by_shape(epoch):  # the full batches, then the partial last one
                if left:
                    groups.append(jnp.asarray(rows[:left]))
                    left -= len(groups[-1])
        for rows in groups:
            state, l = call(rows)
            losses.append(l)
        done += count
        epoch += -(-count // plan.per_epoch)
        nnx.update(graph, state)
        if after_epoch is not None:
            after_epoch(epoch - 1)
    return np.concatenate([np.asarray(l) for l in losses])


def train_as_written(lesson, model, optimizer, data, hp: dict, *, seed: int, epochs: int, step=None, clock):
    """``--loop train``: the lesson's own ``train`` (``step``: the variant's step, for a lesson with
    several), timed with its compilations set apart: JAX reports each trace, lowering and XLA
    compilation (jax.monitoring), and that time goes to ``clock.compile_s``, as the fast path's does."""
    spans = []

    def compiling(event, start, end, **_):
        if event.startswith("/jax/core/compile/"):
            spans.append((start, end))

    jax.monitoring.register_event_time_span_listener(compiling)
    try:
        with clock.training():
            out = lesson.train(model, optimizer, data, hp, seed=seed, epochs=epochs,
                               **({} if step is None else {"step": step}))
            jax.block_until_ready(out)
    finally:
        jax.monitoring.unregister_event_time_span_listener(compiling)
    clock.set_apart(spans)
    return out


def sync(device) -> None:
    """Nothing to wait for: every JAX call above blocks until its results are ready."""


def matmul_rate(device: jax.Device, n: int = 2048, seconds: float = 1.0) -> float:
    """float32 FLOP/s of a large square matmul under the current precision settings (`lessons bench`)."""
    keys = jax.random.split(jax.random.key(0), 2)
    a, b = (jax.device_put(jax.random.normal(k, (n, n), jnp.float32), device) for k in keys)
    matmul = jax.jit(jnp.matmul)
    matmul(a, b).block_until_ready()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        matmul(a, b).block_until_ready()
        count += 1
    return 2 * n ** 3 * count / (time.perf_counter() - start)


def demo(fn, case: dict, device: jax.Device) -> dict[str, np.ndarray]:
    """A hazard demo (jax_impl/hazards.py) on ``case`` (``placed`` puts it on ``device``); its arrays as numpy."""
    return {k: np.asarray(v) for k, v in fn(case).items()}


if TYPE_CHECKING:  # a type checker holds this module to the declared contract
    from shared.harness.protocol import HarnessSide
    _side: HarnessSide = sys.modules[__name__]
