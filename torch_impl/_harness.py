"""The torch side of the harness (shared/harness/session.py drives it): devices, precision, the
weight exchange, and the fast path that calls the lesson's own ``train_step`` on device-resident
batches.

The module is a ``shared.harness.protocol.HarnessSide``: jax_impl/_harness.py has the same public
names with the same signatures (tests/test_structure.py checks both against the protocol).
"""
from __future__ import annotations

import copy
import inspect
import platform
import sys
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.overrides import TorchFunctionMode

from shared.errors import LessonError
from shared.harness.precision import STRICT

FRAMEWORK = "torch"


def select_device(name: str) -> torch.device:
    """cpu | gpu | auto -> torch.device; asking for a GPU that torch cannot see is an error."""
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        if torch.version.cuda is None:
            why = "this torch is a CPU-only build"
        else:
            why = f"this torch is built for CUDA {torch.version.cuda} but finds no usable GPU (no device visible, or no NVIDIA driver)"
        raise LessonError(f"--device gpu: {why}; run on a machine with an NVIDIA GPU and driver, or use --device cpu")
    return torch.device("cuda")


def device_kind(device: torch.device) -> str:
    return "gpu" if device.type == "cuda" else "cpu"


@contextmanager
def placed(cfg, device: torch.device, hazard: str | None = None):
    """The precision policy for the block: TF32 off (strict) or torch's default; the hazards'
    fixes are all on the JAX side, so ``hazard`` changes nothing here."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    if cfg.precision == STRICT:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def dtype_of(name: str) -> torch.dtype:
    return {"float32": torch.float32, "float64": torch.float64}[name]


def versions() -> dict[str, str]:
    return {"torch": torch.__version__, "cuda": str(torch.version.cuda), "numpy": np.__version__,
            "python": platform.python_version(), "torch_threads": str(torch.get_num_threads())}


def to_device(arrays, device: torch.device, dtype: str) -> tuple:
    """numpy arrays onto the device once; floating ones in ``dtype``."""
    out = []
    for a in arrays:
        t = torch.as_tensor(np.asarray(a))
        out.append(t.to(device, dtype=dtype_of(dtype) if t.is_floating_point() else None))
    return tuple(out)


def new_model(lesson, hp: dict, seed: int, dtype: str, device: torch.device, weights=None):
    """The lesson's model, in ``dtype`` on ``device``, with ``weights`` when given.

    The lesson seeds torch's generator itself (torch.manual_seed, as the course does); the
    caller's generator state is put back afterwards.
    """
    with torch.random.fork_rng(devices=[]):
        model = lesson.build_model(hp, seed)
    model = model.to(device, dtype_of(dtype))
    if weights is not None:
        import_weights(model, weights)
    return model


def export_weights(model: torch.nn.Module) -> dict[str, np.ndarray]:
    """Parameters and BatchNorm statistics as numpy, in torch's layout (Linear weight (out, in),
    Conv2d weight (out, in, kh, kw))."""
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()
            if not k.endswith("num_batches_tracked")}


def import_weights(model: torch.nn.Module, weights: dict[str, np.ndarray]) -> None:
    state = model.state_dict()
    names = {k for k in state if not k.endswith("num_batches_tracked")}
    if names != set(weights):
        raise ValueError(f"weights do not match the model: {sorted(names ^ set(weights))}")
    wrong = [f"{k} {tuple(np.shape(v))} for {tuple(state[k].shape)}" for k, v in weights.items()
             if tuple(np.shape(v)) != tuple(state[k].shape)]
    if wrong:
        raise ValueError(f"weights do not match the model's shapes: {', '.join(wrong)}")
    with torch.no_grad():
        for k, v in weights.items():
            state[k].copy_(torch.as_tensor(np.asarray(v)))


def evaluate(lesson, model, x, y) -> dict:
    """The lesson's evaluate in eval mode, as Python floats; the model goes back to train mode."""
    model.eval()
    with torch.no_grad():
        metrics = lesson.evaluate(model, x, y)
    model.train()
    return _floats(metrics)


def _floats(tree):
    return {k: _floats(v) for k, v in tree.items()} if isinstance(tree, dict) else float(tree)


# -- probes: one step's stages as numpy (`lessons check`, `lessons parity --localize`) ----------------

def _parts(model, parts):
    """(name, model) for each model trained together (``parts``), or ("", model)."""
    return [(p, model[p]) for p in parts] if parts else [("", model)]


def _named(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


class _Activations(TorchFunctionMode):
    """Records the input of every ReLU and sigmoid called inside the block: [(kind, array)] in order."""

    KINDS = {torch.relu: "relu", torch.relu_: "relu", torch.nn.functional.relu: "relu",
             torch.nn.functional.relu_: "relu", torch.Tensor.relu: "relu", torch.Tensor.relu_: "relu",
             torch.sigmoid: "sigmoid", torch.Tensor.sigmoid: "sigmoid"}

    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, np.ndarray]] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kind = self.KINDS.get(func)
        if kind is not None and args and torch.is_tensor(args[0]):
            self.found.append((kind, args[0].detach().cpu().numpy().copy()))
        return func(*args, **(kwargs or {}))


def forward(model, x, *, train: bool, seed: int, parts=None):
    """``model(x)`` on a copy, in train or eval mode, as numpy per model; and the input of every
    ReLU and sigmoid applied, in order. Dropout's masks come from the generator seeded with ``seed``."""
    outputs, activations = {}, []
    for name, part in _parts(model, parts):
        part = copy.deepcopy(part).train(train)
        with _seeded(seed, x.device), torch.no_grad(), _Activations() as seen:
            outputs[name] = part(x).detach().cpu().numpy()
        activations += seen.found
    return outputs, activations


def gradients(lesson, model, x, y, *, seed: int, parts=None):
    """``lesson.loss_fn`` of a copy in train mode, and its gradient per parameter, as numpy."""
    losses, grads = {}, {}
    for name, part in _parts(model, parts):
        part = copy.deepcopy(part).train()
        part.zero_grad(set_to_none=True)
        with _seeded(seed, x.device):
            loss = lesson.loss_fn(part, x, y)
        loss.backward()
        losses[name] = loss.item()
        for k, p in part.named_parameters():
            grads[_named(name, k)] = (np.zeros(tuple(p.shape), _numpy_dtype(p)) if p.grad is None
                                      else p.grad.detach().cpu().numpy().copy())
    return losses, grads


def _numpy_dtype(t: torch.Tensor):
    return torch.empty((), dtype=t.dtype).numpy().dtype


def step_once(step, model, optimizer, x, y, *, seed: int, shard=None):
    """``step`` once on the batch (``shard``: this worker's piece), masks from the seeded generator."""
    if shard is not None:
        x, y = shard(x), shard(y)
    with _seeded(seed, x.device):
        return step(model, optimizer, x, y)


# torch.optim's per-parameter state -> the slots optax names (first moment, second moment, momentum)
_SLOTS = {"exp_avg": "mu", "exp_avg_sq": "nu", "square_avg": "nu", "momentum_buffer": "trace"}


def optimizer_state(model, optimizer, parts=None) -> dict[str, np.ndarray]:
    """The optimizer's per-parameter state ("<param>.mu", ".nu", ".trace") and the gradient each
    parameter holds (".grad"), as numpy in torch's names."""
    out = {}
    for name, part in _parts(model, parts):
        opt = optimizer[name] if parts else optimizer
        names = {id(p): _named(name, k) for k, p in part.named_parameters()}
        for p in part.parameters():
            if p.grad is not None:
                out[f"{names[id(p)]}.grad"] = p.grad.detach().cpu().numpy().copy()
        for p, state in (opt.state.items() if isinstance(opt, torch.optim.Optimizer) else ()):
            for k, v in state.items():
                if k in _SLOTS and torch.is_tensor(v) and id(p) in names:
                    out[f"{names[id(p)]}.{_SLOTS[k]}"] = v.detach().cpu().numpy().copy()
    return out


def fit(step, model, optimizer, x, y, plan, *, epochs: int, steps: int | None, clock, after_epoch=None,
        shard=None):
    """The fast path: the lesson's own ``step`` on batches x[idx] of device-resident data.

    The same batches as ``DataLoader(TensorDataset(x, y), batch_sampler=plan.epoch(e))``, without
    per-sample indexing, collation and copies, and without a device sync per step: the losses stay
    on the device and are read once. Full-batch training skips the gather.
    ``after_epoch(epoch)`` runs between epochs (evaluation), outside the timed part.
    ``shard(batch)``: the lesson's piece of each global batch for this worker (data_parallel).
    Returns the per-step losses, (steps,) or (steps, models).
    """
    total = steps or epochs * plan.per_epoch
    losses, done, epoch = [], 0, 0
    model.train()
    with _seeded(plan.seed, x.device):
        while done < total:
            count = min(plan.per_epoch, total - done)
            order = None if plan.whole else torch.as_tensor(plan.order(epoch), device=x.device)
            torch.empty((), dtype=torch.int64).random_()  # what each DataLoader iterator draws (its base seed)
            with clock.training():
                for b in range(count):
                    if order is None:
                        xb, yb = x, y
                    else:
                        idx = order[b * plan.size:(b + 1) * plan.size]
                        xb, yb = x[idx], y[idx]
                    if shard is not None:  # data_parallel: this worker's piece of the global batch
                        xb, yb = shard(xb), shard(yb)
                    losses.append(step(model, optimizer, xb, yb).detach())
                sync(x.device)
            done += count
            epoch += 1
            if after_epoch is not None:
                after_epoch(epoch - 1)
    return torch.stack(losses).cpu().numpy()


@contextmanager
def _seeded(seed: int, device: torch.device):
    """Training draws (dropout masks) from torch's global generator seeded with the run's seed, so
    a run repeats and the fast path and the lesson's own loop draw the same masks (fit takes the one
    draw per epoch that a DataLoader iterator takes); the caller's generator state is put back."""
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        yield


def train_as_written(lesson, model, optimizer, data, hp: dict, *, seed: int, epochs: int, step=None, clock):
    """``--loop train``: the lesson's own ``train``, e.g. a DataLoader loop with ``loss.item()`` per step
    (``step``: the variant's step, for a lesson with several). Eager torch compiles nothing; where a
    lesson calls torch.compile (compiled_loop), TorchDynamo's compile callbacks mark each
    compilation, and that time goes to ``clock.compile_s``, as the JAX side does with JAX's."""
    with _seeded(seed, data[0].device), _compilations(lesson) as spans, clock.training():
        out = lesson.train(model, optimizer, data, hp, seed=seed, epochs=epochs,
                           **({} if step is None else {"step": step}))
        sync(data[0].device)
    clock.set_apart(spans)
    return out


@contextmanager
def _compilations(lesson):
    """(start, end) of each torch.compile compilation in the block, from TorchDynamo's start and end
    callbacks. TorchDynamo and Inductor take seconds to import (the first torch.compile() imports
    them), so for a lesson whose code calls a ``compile`` (compiled_loop) they are imported here,
    before the clock starts. Once something else has imported TorchDynamo (DDP does, at torch 2.5) the
    callbacks are set too, but Inductor is not imported: at torch 2.5 it starts a pool of compile
    workers, which would outlive a run that compiles nothing (under torchrun, say)."""
    spans, open_ = [], []
    own = [f for f in vars(lesson).values() if inspect.isfunction(f) and f.__module__ == lesson.__name__]
    compiles = any("compile" in _names(f.__code__) for f in own)
    if "torch._dynamo" not in sys.modules and not compiles:
        yield spans
        return
    import torch._dynamo

    if compiles:
        torch.compile(lambda: None)  # imports what torch.compile needs (Inductor); compiles nothing until called
    handler = torch._dynamo.callback_handler
    start = lambda *_: open_.append(time.perf_counter())  # torch 2.5 passes nothing, later versions one argument
    end = lambda *_: spans.append((open_.pop() if open_ else time.perf_counter(), time.perf_counter()))
    handler.register_start_callback(start)
    handler.register_end_callback(end)
    try:
        yield spans
    finally:
        handler.remove_start_callback(start)
        handler.remove_end_callback(end)


def _names(code) -> set[str]:
    """The global and attribute names a function's code (nested functions included) uses."""
    out = set(code.co_names)
    for const in code.co_consts:
        if inspect.iscode(const):
            out |= _names(const)
    return out


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_rate(device: torch.device, n: int = 2048, seconds: float = 1.0) -> float:
    """float32 FLOP/s of a large square matmul under the current precision settings (`lessons bench`)."""
    a, b = (torch.randn(n, n, device=device) for _ in range(2))
    a @ b
    sync(device)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
        sync(device)
    return 2 * n ** 3 * count / (time.perf_counter() - start)


def demo(fn, case: dict, device: torch.device) -> dict[str, np.ndarray]:
    """A hazard demo (torch_impl/hazards.py) on ``case``, its tensors made on ``device``; the
    arrays it returns as numpy. torch's generator is put back afterwards (init seeds it)."""
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), device:
        out = fn(case)
    return {k: torch.as_tensor(v).detach().cpu().numpy() for k, v in out.items()}


if TYPE_CHECKING:  # a type checker holds this module to the declared contract
    from shared.harness.protocol import HarnessSide
    _side: HarnessSide = sys.modules[__name__]
