"""``--workers K``: start, join, wait for and stop the workers of a data-parallel run.

shared/harness/runner.py hands a lesson whose spec says ``RunShape(data_parallel=True)`` here as
a :class:`Job`. Where this process can be the K workers (torch: K = 1, a process group of one;
JAX: this process has exactly K devices), the job runs here. Where an engine's launcher started
this process (torchrun, or JAX's coordinator settings: shared/harness/launchers.py), it joins that
group as one of the run's processes. Otherwise K worker processes are started
(``python -m shared.harness.worker``) and joined:

- torch: K processes, ranks 0..K-1, in a gloo (NCCL on GPUs) process group whose store and
  connections listen on 127.0.0.1 only;
- JAX: one process with K devices (on a CPU, K virtual ones: XLA reads
  --xla_force_host_platform_device_count before it starts, so it cannot be this process), or,
  with TJL_JAX_PROCESSES=1, K processes of one device each, joined by jax.distributed.initialize
  (its coordinator on 127.0.0.1).

A worker dies with the process that started it (a parent-death signal), and SIGTERM or SIGHUP to
that process (shared/interrupts.py) stops the workers and removes their directory.

Each worker runs the job in a :class:`~shared.harness.session.Session` given this module's
:class:`Hooks` (the lesson's ``distribute`` and ``shard``); rank 0 pickles the result into a
temporary directory, read here once every worker has exited cleanly. A worker that exits with an
error (or is killed) stops the others at once and the run fails with one line (LessonError, exit
2); joining and every collective time out after GROUP_TIMEOUT_S, the whole run after
TJL_RUN_TIMEOUT seconds, so nothing hangs; nothing reaches --out, because the caller writes only
after a result. The framework side is ``<framework>_impl/_distributed.py`` (the same names in both).
"""
from __future__ import annotations

import math
import os
import pickle
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from shared import interrupts, specs
from shared.errors import LessonError
from shared.harness import session, sides
from shared.harness.config import LOOP_FAST, RunConfig
from shared.harness.protocol import DistributedSide

ROOT = Path(__file__).resolve().parents[2]
GROUP_TIMEOUT_S = 60          # joining the process group, and each collective after that
LAUNCH_TIMEOUT_S = 300        # the same, in a run an engine's launcher started (other machines may start later)
RUN_TIMEOUT_ENV = "TJL_RUN_TIMEOUT"
RUN_TIMEOUT_S = 1800          # a whole multi-worker run, unless TJL_RUN_TIMEOUT says otherwise
LOOPBACK = "127.0.0.1"        # where the workers this module starts meet


@dataclass(frozen=True)
class Job:
    """What the workers do, picklable: the session's records, or traces of ``variants``."""

    lesson: str
    framework: str
    cfg: RunConfig
    kind: str = "records"               # "records" | "traces"
    weights: dict | None = None         # traces: the start (None: each framework's own init)
    steps: int | None = None            # traces: steps (None: the whole run)
    variants: tuple[str, ...] = ()      # traces: which
    hazard: str | None = None           # that hazard's fix removed (JAX)
    time_allreduce: bool = False        # also time one all-reduce of the model's gradients (`lessons bench`)


class Hooks:
    """A session's data-parallel steps (shared/harness/session.py: ParallelHooks) on this side."""

    def __init__(self, side: DistributedSide):
        self.side = side

    def place(self, arrays: tuple) -> tuple:
        return self.side.replicated(arrays)

    def prepare(self, lesson, model):
        return lesson.distribute(model), lesson.shard

    def gather(self, losses):
        return self.side.mean_over_workers(losses)


def run_timeout() -> float:
    """TJL_RUN_TIMEOUT: a positive, finite number of seconds (RUN_TIMEOUT_S when unset)."""
    raw = os.environ.get(RUN_TIMEOUT_ENV, "")
    if not raw.strip():
        return RUN_TIMEOUT_S
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise LessonError(f"{RUN_TIMEOUT_ENV}={raw!r}: give the seconds a multi-worker run may take, a positive "
                          f"number (default {RUN_TIMEOUT_S})")
    return seconds


def check_workers(spec, cfg: RunConfig) -> None:
    """--workers K: 1 for a lesson on one device; one of the spec's RunShape.workers for data_parallel
    (and TJL_RUN_TIMEOUT, which bounds its runs, a number of seconds)."""
    if not spec.shape.data_parallel:
        if cfg.workers != 1:
            raise LessonError(f"--workers {cfg.workers}: {spec.name} trains on one device; "
                              "--workers is for data_parallel")
        return
    allowed = spec.shape.workers
    if cfg.workers not in allowed:
        raise LessonError(f"--workers {cfg.workers}: {spec.name} runs on {', '.join(map(str, allowed))} workers "
                          f"(its global batch of {spec.hp()['batch_size']} splits evenly over those)")
    run_timeout()


@contextmanager
def here(spec, framework: str, cfg: RunConfig):
    """For work on a lesson in this process outside a run (`lessons check`): a data-parallel
    lesson's hooks as one worker, in a group of one; None for any other lesson."""
    if not spec.shape.data_parallel:
        yield None
        return
    d = sides.distributed(framework)
    with d.joined(0, 1, None, GROUP_TIMEOUT_S, cfg.device):
        yield Hooks(d)


def run(job: Job):
    """The job on ``job.cfg.workers`` workers: (rank 0's result, facts about the workers for the records)."""
    check_workers(specs.get(job.lesson), job.cfg)
    launch = job.cfg.launch
    if launch is not None:  # started by torchrun or with JAX's coordinator settings: join that run
        if launch.framework != job.framework:
            raise LessonError(f"{launch.describe()} for {launch.framework}; {job.lesson} ({job.framework}) "
                              "cannot join it")
        return work(job, rank=launch.rank, world=launch.processes, address=launch.address,
                    timeout_s=LAUNCH_TIMEOUT_S, launcher=launch.launcher)
    if sides.distributed(job.framework).runs_here(job.cfg.workers, job.cfg.device):
        return work(job, rank=0, world=1, address=None)
    return _launch(job)


def work(job: Job, *, rank: int, world: int, address: str | None, timeout_s: float = GROUP_TIMEOUT_S,
         launcher: str = "lessons"):
    """The job on the workers this process is part of: (result, facts for its records).

    ``address`` None with ``world`` > 1: the group's meeting point is in the environment an engine's
    launcher set (torchrun); ``launcher`` names who started the processes, for the records.
    """
    spec, cfg = specs.get(job.lesson), job.cfg
    d = sides.distributed(job.framework)
    with d.joined(rank, world, address, timeout_s, cfg.device):
        if d.worker_count() != cfg.workers:
            raise LessonError(f"{spec.name} ({job.framework}): asked for {cfg.workers} workers, but the "
                              f"{world} process{'es' if world > 1 else ''} have {d.worker_count()}; "
                              f"pass --workers {d.worker_count()}")
        if job.kind == "records":
            s = session.Session(spec, job.framework, cfg, hazard=job.hazard, parallel=Hooks(d))
            result = session.records(s)
        else:
            s = session.Session(spec, job.framework, cfg.replace(progress=False, loop=LOOP_FAST), hazard=job.hazard,
                                parallel=Hooks(d))
            result = {v: session.trace(s, job.weights, job.steps, v) for v in job.variants}
        info = {"workers": cfg.workers, "processes": world, "engine": d.ENGINE, "launcher": launcher}
        if job.time_allreduce and cfg.workers > 1:
            weights = session.initial_weights(s, spec.variants[0])
            info["allreduce_s"] = d.allreduce_seconds(sum(v.size for v in weights.values()))
    return result, info


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def _launch(job: Job):
    d = sides.distributed(job.framework)
    cfg = job.cfg
    procs = d.processes(cfg.workers)
    timeout = run_timeout()
    what = f"{job.lesson} ({job.framework}, --workers {cfg.workers})"
    tmp = Path(tempfile.mkdtemp(prefix="tjl-workers-"))
    workers = []
    try:
        job_file, result = tmp / "job.pkl", tmp / "result.pkl"
        job_file.write_bytes(pickle.dumps({
            "job": job, "world": procs, "address": f"{LOOPBACK}:{_free_port()}" if procs > 1 else None,
            "result": str(result)}))
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
        for rank in range(procs):
            env = {**os.environ, **d.worker_env(cfg.workers, rank, procs, cfg.device), "PYTHONPATH": path}
            with open(tmp / f"worker{rank}.log", "wb") as log:
                workers.append(subprocess.Popen(
                    [sys.executable, "-m", "shared.harness.worker", str(job_file), str(rank), str(os.getpid())],
                    cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True))
        _wait(workers, tmp, timeout, what)
        if not result.exists():
            raise LessonError(f"{what}: the workers exited without a result; see the lesson's logs")
        return pickle.loads(result.read_bytes())
    finally:  # however the run ends (an error, Ctrl-C, SIGTERM): no worker and no directory is left
        with interrupts.deferred():
            _stop(workers)
            shutil.rmtree(tmp, ignore_errors=True)


def _last_line(path: Path) -> str:
    try:
        lines = [l.strip() for l in path.read_text(errors="replace").splitlines() if l.strip()]
    except OSError:
        return ""
    line = lines[-1] if lines else ""
    return line if len(line) <= 200 else line[:197] + "..."


def _wait(workers: list, tmp: Path, timeout: float, what: str) -> None:
    """Until every worker has exited cleanly; the first that fails (or the deadline) is an error."""
    deadline = time.monotonic() + timeout
    while True:
        codes = [p.poll() for p in workers]
        failed = [(rank, c) for rank, c in enumerate(codes) if c not in (None, 0)]
        if failed:
            rank, code = min(failed, key=lambda f: (f[1] == 1, f[0]))  # a traceback is usually the echo of another's death
            why = _last_line(tmp / f"worker{rank}.log")
            raise LessonError(f"{what}: worker process {rank} of {len(workers)} exited with code {code}"
                              + (f" ({why})" if why else "")
                              + ("; the others were stopped" if len(workers) > 1 else "") + "; nothing was written")
        if all(c == 0 for c in codes):
            return
        if time.monotonic() > deadline:
            raise LessonError(f"{what}: the workers did not finish within {timeout:g} s ({RUN_TIMEOUT_ENV}); "
                              "they were stopped and nothing was written")
        time.sleep(0.05)


def _stop(workers: list) -> None:
    """Stop every worker still running (terminate, then kill), and reap them."""
    for p in workers:
        if p.poll() is None:
            p.terminate()
    for p in workers:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
