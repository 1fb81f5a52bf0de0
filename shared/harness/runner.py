"""The harness's front door: run a lesson, trace it step by step, or get its initial weights.

The direction is one way: the CLI (and the tests, views and tools) call these; they open a
:class:`~shared.harness.session.Session` in this process, or, for a lesson the spec runs on
workers (``RunShape(data_parallel=True)``), hand a job to shared/harness/distributed.py, which
runs the same session work on each worker. The session calls the framework side
(``<fw>_impl/_harness.py``), which calls the lesson (``<fw>_impl/<lesson>.py``); the contract
between them is declared in shared/harness/protocol.py.

The harness owns what a lesson leaves out: devices, precision, dtypes, records, timing, the weight
exchange, parity traces and the fast path, which runs the lesson's own step. shared/ imports no
framework: the framework sides and the lessons are loaded by name, in shared/harness/sides.py.
"""
from __future__ import annotations

from contextlib import contextmanager

from shared.harness import distributed, session, sides
from shared.harness.config import LOOP_FAST, RunConfig
from shared.harness.records import Record


def run(spec, framework: str, cfg: RunConfig, *, time_allreduce: bool = False,
        hazard: str | None = None) -> list[Record]:
    """Every variant of the lesson in one framework -> one Record each (what the CLI and tests call).

    ``time_allreduce``: on K > 1 workers, also time one all-reduce of the gradients (`lessons bench`).
    ``hazard``: that hazard's fix removed (JAX), to price it (`lessons hazards --demo`).
    """
    distributed.check_workers(spec, cfg)
    if spec.shape.data_parallel:
        job = distributed.Job(spec.name, framework, cfg, hazard=hazard, time_allreduce=time_allreduce)
        records, info = distributed.run(job)
        for r in records:
            r.extras.update(info)
        return records
    return session.records(session.Session(spec, framework, cfg, hazard=hazard))


def traces(spec, framework: str, cfg: RunConfig, weights: dict | None, steps: int | None, variants,
           hazard: str | None = None) -> dict[str, dict]:
    """{variant: trace} (see :func:`trace`) for several variants, on one start of the workers; always
    the fast path (traces stop after ``steps``, which the lessons' own loops cannot)."""
    distributed.check_workers(spec, cfg)
    cfg = cfg.replace(progress=False, loop=LOOP_FAST)
    if spec.shape.data_parallel:
        job = distributed.Job(spec.name, framework, cfg, "traces", weights, steps, tuple(variants), hazard)
        return distributed.run(job)[0]
    s = session.Session(spec, framework, cfg, hazard=hazard)
    return {v: session.trace(s, weights, steps, v) for v in variants}


def trace(spec, framework: str, cfg: RunConfig, weights: dict | None, steps: int | None, variant: str,
          hazard: str | None = None) -> dict:
    """Per-step losses, final weights and metrics of one variant trained from ``weights``.

    ``steps`` None is the whole run. ``hazard`` removes that hazard's fix (JAX) for the run.
    ``weights`` None starts from the framework's own initialisation.
    """
    return traces(spec, framework, cfg, weights, steps, (variant,), hazard)[variant]


def initial_weights(spec, variant: str, cfg: RunConfig, framework: str = "torch", hazard: str | None = None) -> dict:
    """A freshly built model's weights in torch's layout: the start both frameworks share in parity runs."""
    return session.initial_weights(session.Session(spec, framework, cfg, hazard=hazard), variant)


@contextmanager
def opened(spec, framework: str, cfg: RunConfig, *, lesson=None, hazard: str | None = None):
    """A session of the lesson in this process for the probes (``lesson``: a module of the user's
    in place of ``<framework>_impl.<lesson>``); a data-parallel lesson runs as one worker."""
    cfg = cfg.replace(progress=False, loop=LOOP_FAST)
    with distributed.here(spec, framework, cfg) as hooks:
        yield session.Session(spec, framework, cfg, hazard=hazard, parallel=hooks, lesson=lesson)


def probe(spec, framework: str, cfg: RunConfig, weights: dict, variant: str, at_step: int = 1,
          hazard: str | None = None) -> dict:
    """One step cut into stages (forward, loss, gradients, update) after ``at_step - 1`` steps from
    ``weights``: see :func:`shared.harness.session.probe`."""
    with opened(spec, framework, cfg, hazard=hazard) as s:
        return session.probe(s, weights, variant, at_step=at_step)


def matmul_rate(framework: str, cfg: RunConfig) -> float:
    """The framework's float32 matmul rate on the configured device (the bench's arithmetic floor)."""
    h = sides.harness(framework)
    device = h.select_device(cfg.device)
    with h.placed(cfg, device):
        return h.matmul_rate(device)
