"""The harness's contract, declared: what a lesson offers, and what each framework side offers.

Three protocols, framework-free, in the order a run crosses them (CLI -> runner -> session ->
framework side -> lesson):

- :class:`Lesson`: a lesson module (``torch_impl/<lesson>.py``, ``jax_impl/<lesson>.py``, or a
  file a user wrote); :class:`DataParallelLesson` adds what ``--workers K`` needs.
- :class:`HarnessSide`: ``<fw>_impl/_harness.py``, devices, precision, the weight exchange and the
  fast path. The session calls only these.
- :class:`DistributedSide`: ``<fw>_impl/_distributed.py``, process groups and meshes. Only the
  launcher (shared/harness/distributed.py) calls these.

Modules implement them (each member a module-level function or constant; ``self`` below stands
for nothing). :func:`differences` compares a module with a protocol by names and signatures: the
tests hold both framework sides to it, and `lessons check` holds a user's file to :class:`Lesson`.
"""
from __future__ import annotations

import inspect
from contextlib import AbstractContextManager
from typing import Any, Callable, Protocol

import numpy as np


class Lesson(Protocol):
    """A lesson module. Settings ``hp`` come from the spec (shared/specs/<lesson>.py)."""

    def load_data(self, hp: dict, source) -> tuple:
        """numpy arrays: (x_train, y_train) or (x_train, y_train, x_test, y_test)."""

    def build_model(self, hp: dict, seed: int) -> Any:
        """The model, from stock layers, initialised from ``seed``."""

    def make_optimizer(self, model, hp: dict) -> Any:
        """The model's optimizer."""

    def loss_fn(self, model, x, y) -> Any:
        """The training loss of a batch."""

    def train_step(self, model, optimizer, x, y) -> Any:
        """One optimizer step on the batch; returns its loss (a lesson may have several steps, named per
        variant by the spec's RunShape.steps)."""

    def evaluate(self, model, x, y) -> dict:
        """Metrics of the model on x, y; the harness calls it in eval mode."""

    def train(self, model, optimizer, data, hp: dict, *, seed: int, epochs: int) -> tuple[list, list]:
        """The loop as the learner reads it (``lessons run`` runs it): (step losses, [(train metrics,
        test metrics or None)]). A lesson with several steps takes the variant's as ``step=``."""


class DataParallelLesson(Lesson, Protocol):
    def distribute(self, model) -> Any:
        """The model every worker trains (torch: DDP-wrapped; JAX: replicated over the mesh)."""

    def shard(self, batch) -> Any:
        """This worker's piece of a global batch."""


class HarnessSide(Protocol):
    """One framework's half of the harness (``<fw>_impl/_harness.py``)."""

    FRAMEWORK: str

    def select_device(self, name: str) -> Any:
        """cpu | gpu | auto -> the framework's device; a GPU it cannot see is a LessonError."""

    def device_kind(self, device) -> str:
        """"cpu" or "gpu"."""

    def placed(self, cfg, device, hazard: str | None = None) -> AbstractContextManager:
        """The block runs on ``device`` under the precision policy and dtype, ``hazard``'s fix removed."""

    def versions(self) -> dict[str, str]:
        """The versions a record notes."""

    def dtype_of(self, name: str) -> Any:
        """The framework's dtype for "float32" or "float64"."""

    def to_device(self, arrays, device, dtype: str) -> tuple:
        """numpy arrays onto the device, floating ones in ``dtype``."""

    def new_model(self, lesson, hp: dict, seed: int, dtype: str, device, weights=None) -> Any:
        """``lesson.build_model`` in ``dtype`` on ``device``, with ``weights`` (torch's layout) when given."""

    def export_weights(self, model) -> dict[str, np.ndarray]:
        """Parameters and BatchNorm statistics as numpy, in torch's names and layout."""

    def import_weights(self, model, weights: dict[str, np.ndarray]) -> None:
        """The inverse of export_weights, in place."""

    def evaluate(self, lesson, model, x, y) -> dict:
        """``lesson.evaluate`` in eval mode, as Python floats; the model goes back to train mode."""

    def fit(self, step: Callable, model, optimizer, x, y, plan, *, epochs: int, steps: int | None, clock,
            after_epoch: Callable | None = None, shard: Callable | None = None) -> np.ndarray:
        """The fast path: ``step`` over the plan's batches -> per-step losses, (steps,) or (steps, models)."""

    def train_as_written(self, lesson, model, optimizer, data, hp: dict, *, seed: int, epochs: int,
                         step: Callable | None = None, clock) -> tuple[list, list]:
        """``--loop train``: the lesson's own ``train`` (with ``step`` when the variant names one), timed on
        ``clock`` (a Stopwatch) with the framework's compilations set apart into its compile_s."""

    def forward(self, model, x, *, train: bool, seed: int, parts: tuple[str, ...] | None = None) -> tuple[dict, list]:
        """``model(x)`` on a copy, in train or eval mode, as numpy per model (``parts``: the models
        trained together; else one, named ""), and [(kind, input)] of every ReLU and sigmoid
        applied, in order. torch draws Dropout's masks from its generator seeded with ``seed``."""

    def gradients(self, lesson, model, x, y, *, seed: int,
                  parts: tuple[str, ...] | None = None) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        """``lesson.loss_fn`` of a copy in train mode per model, and its gradient per parameter
        (torch's names and layout)."""

    def step_once(self, step: Callable, model, optimizer, x, y, *, seed: int, shard: Callable | None = None) -> Any:
        """``step`` once on the batch, as the lesson's own train() calls it (JAX: nnx.jit, compiled
        once per step function); torch draws Dropout's masks from its generator seeded with ``seed``."""

    def optimizer_state(self, model, optimizer, parts: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
        """The optimizer's per-parameter state in torch's names ("<param>.mu", ".nu", ".trace": optax's
        slots) and, in torch, the gradient each parameter holds (".grad")."""

    def sync(self, device) -> None:
        """Wait for the device's queued work."""

    def matmul_rate(self, device, n: int = 2048, seconds: float = 1.0) -> float:
        """float32 FLOP/s of a large square matmul (`lessons bench`'s floor)."""

    def demo(self, fn: Callable, case: dict, device) -> dict[str, np.ndarray]:
        """A hazard demo (``<fw>_impl/hazards.py``) on ``case``, on ``device`` -> its arrays as numpy."""


class DistributedSide(Protocol):
    """One framework's process plumbing for --workers K (``<fw>_impl/_distributed.py``)."""

    ENGINE: str

    def runs_here(self, workers: int, device: str) -> bool:
        """Whether this process can be the K workers (else the launcher starts processes)."""

    def processes(self, workers: int) -> int:
        """How many processes K workers take."""

    def worker_env(self, workers: int, rank: int, procs: int, device: str) -> dict[str, str]:
        """Environment variables for worker process ``rank``."""

    def joined(self, rank: int, world: int, address: str | None, timeout_s: float,
               device: str) -> AbstractContextManager:
        """This process in the group of ``world`` processes for the block (``address`` None: alone, or
        with ``world`` > 1 the group an engine's launcher described in the environment)."""

    def worker_count(self) -> int:
        """The workers of the group this process is in."""

    def replicated(self, arrays: tuple) -> tuple:
        """The data every worker holds."""

    def mean_over_workers(self, losses: np.ndarray) -> np.ndarray:
        """Each step's loss of the whole global batch."""

    def on_host(self, fn: Callable, value) -> None:
        """Call ``fn()`` on the host each time a step computes ``value``."""

    def allreduce_seconds(self, n: int, repeats: int = 20) -> float:
        """Seconds per all-reduce of ``n`` float32 numbers over the group."""


def members(protocol: type) -> dict[str, inspect.Signature | None]:
    """The protocol's members: a function's signature without ``self``; None for a constant."""
    out: dict[str, inspect.Signature | None] = {name: None for name in getattr(protocol, "__annotations__", {})}
    for klass in reversed(protocol.__mro__):
        for name, value in vars(klass).items():
            if inspect.isfunction(value) and not name.startswith("_"):
                sig = inspect.signature(value)
                out[name] = sig.replace(parameters=list(sig.parameters.values())[1:])
    return out


def differences(module, protocol: type, *, names: bool = True) -> list[str]:
    """How ``module`` departs from ``protocol``: a missing member, or a function whose parameters
    differ (their kinds and defaults; with ``names``, their names too; an extra keyword-only
    parameter with a default is allowed). Empty when it conforms."""
    found = []
    for name, want in members(protocol).items():
        if not hasattr(module, name):
            found.append(f"no {name}")
            continue
        if want is None:
            continue
        have = getattr(module, name)
        if not callable(have):
            found.append(f"{name} is not a function")
            continue
        try:
            got = inspect.signature(have)
        except (TypeError, ValueError):
            continue  # a builtin without a signature: nothing to compare
        wanted = set(want.parameters)
        got = got.replace(parameters=[p for p in got.parameters.values() if p.name in wanted or not (
            p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is not inspect.Parameter.empty)])
        if _shape(got, names) != _shape(want, names):
            found.append(f"{name}{_bare(got)} where the harness calls {name}{_bare(want)}")
    return found


def _bare(sig: inspect.Signature) -> inspect.Signature:
    """The signature as a call reads it: no annotations."""
    return sig.replace(parameters=[p.replace(annotation=inspect.Parameter.empty) for p in sig.parameters.values()],
                       return_annotation=inspect.Signature.empty)


def _shape(sig: inspect.Signature, names: bool) -> list[tuple]:
    """The parameters as the harness uses them: kind, whether defaulted, and the name where it matters
    (always for keyword-only ones)."""
    out = []
    for p in sig.parameters.values():
        keyword = p.kind is inspect.Parameter.KEYWORD_ONLY
        out.append((p.kind, p.default is not inspect.Parameter.empty,
                    p.name if names or keyword else None))
    return out
