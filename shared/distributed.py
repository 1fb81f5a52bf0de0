"""Data parallelism's process side, written once: ``--workers K`` for the data_parallel lesson.

``runner.run(spec, framework, cfg)`` and ``runner.trace`` are the entry points for every K; for a
lesson whose settings say ``"data_parallel": True`` they come here. Where this process can be
the K workers (torch: K = 1, a process group of one; JAX: this process has exactly K devices),
the lesson runs here. Otherwise new processes are started and joined:

- torch: K processes, ranks 0..K-1, in a gloo (NCCL on GPUs) process group on 127.0.0.1;
- JAX: one process with K devices (on a CPU, K virtual ones: XLA reads
  --xla_force_host_platform_device_count before it starts, so it cannot be this process), or,
  with TJL_JAX_PROCESSES=1, K processes of one device each, joined by jax.distributed.initialize.

Each worker runs the lesson through the usual runner (the Session trains ``lesson.distribute(model)``
on ``lesson.shard`` of each global batch); rank 0 pickles the result into a temporary directory,
which this process reads once every worker has exited cleanly. A worker that exits with an error
(or is killed) stops the others at once and the run fails with one line (LessonError, exit 2);
joining and every collective time out after GROUP_TIMEOUT_S, the whole run after TJL_RUN_TIMEOUT
seconds, so nothing hangs; nothing reaches --out, because the caller writes only after a result.

The framework side is ``<framework>_impl/_distributed.py`` (the same names in both).
"""
from __future__ import annotations

import os
import pickle
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from shared import runner, specs
from shared.atomic import atomic_write_bytes
from shared.config import FRAMEWORKS
from shared.errors import LessonError
from shared.results import format_table

ROOT = Path(__file__).resolve().parents[1]
GROUP_TIMEOUT_S = 60          # joining the process group, and each collective after that
RUN_TIMEOUT_ENV = "TJL_RUN_TIMEOUT"
RUN_TIMEOUT_S = 1800          # a whole multi-worker run, unless TJL_RUN_TIMEOUT says otherwise
KILL_ENV = "TJL_KILL_WORKER"  # "RANK:STEP": that worker exits at that step (the failing-worker test)
KILLED = 17                   # its exit code

_inside = False  # True in a worker (or the in-process run of the workers): runner goes ahead


def side(framework: str):
    """``<framework>_impl._distributed``: the framework's half of the plumbing."""
    runner.harness(framework)
    return runner._load(f"{framework}_impl._distributed")


def inside() -> bool:
    """Whether this process is running as the workers now (runner.run then trains here)."""
    return _inside


def check(spec, cfg) -> None:
    """--workers K: 1 for a lesson on one device; one of the spec's "workers" for data_parallel."""
    hp = spec.hp()
    if not hp.get("data_parallel"):
        if cfg.workers != 1:
            raise LessonError(f"--workers {cfg.workers}: {spec.name} trains on one device; "
                              "--workers is for data_parallel")
        return
    allowed = tuple(hp.get("workers", (1,)))
    if cfg.workers not in allowed:
        raise LessonError(f"--workers {cfg.workers}: {spec.name} runs on {', '.join(map(str, allowed))} workers "
                          f"(its global batch of {hp['batch_size']} splits evenly over those)")


# -- the Session's data-parallel steps (shared/runner.py calls these) ------------------------------

def placed_data(session, arrays: tuple) -> tuple:
    """The data on every worker (JAX: replicated over the mesh)."""
    return side(session.framework).replicated(arrays)


def prepare(session, model):
    """(the model the workers train, the lesson's shard): DDP(model) / the model replicated."""
    return session.lesson.distribute(model), session.lesson.shard


def gathered(session, losses):
    """Each step's loss of the whole global batch (torch: the mean of the workers' pieces)."""
    return side(session.framework).mean_over_workers(losses)


# -- runs ------------------------------------------------------------------------------------------

def run(spec, framework: str, cfg, *, allreduce: bool = False) -> list:
    """runner.run on cfg.workers workers: every variant's Record (rank 0's), with the workers in
    its extras; ``allreduce``: also time an all-reduce of the model's gradients (`lessons bench`)."""
    records, info = _dispatch(spec, framework, cfg, ("run",), allreduce)
    for r in records:
        r.extras.update(info)
    return records


def trace(spec, framework: str, cfg, weights, steps, variant: str, hazard=None) -> dict:
    """runner.trace on cfg.workers workers (rank 0's losses, weights and metrics)."""
    result, _ = _dispatch(spec, framework, cfg, ("trace", weights, steps, variant, hazard), False)
    return result


def traces(spec, framework: str, cfg, weights, steps, variants, hazard=None) -> dict:
    """{variant: runner.trace} for several variants on one start of the workers."""
    result, _ = _dispatch(spec, framework, cfg, ("traces", weights, steps, tuple(variants), hazard), False)
    return result


def _dispatch(spec, framework: str, cfg, job: tuple, allreduce: bool):
    check(spec, cfg)
    if side(framework).runs_here(cfg.workers, cfg.device):
        return _work(spec, framework, cfg, job, rank=0, world=1, address=None, allreduce=allreduce)
    return _launch(spec, framework, cfg, job, allreduce)


def _work(spec, framework: str, cfg, job: tuple, *, rank: int, world: int, address, allreduce: bool):
    """The lesson on the workers this process is part of: (result, extras for its records)."""
    global _inside
    d = side(framework)
    with d.joined(rank, world, address, GROUP_TIMEOUT_S, cfg.device):
        if d.worker_count() != cfg.workers:
            raise LessonError(f"{spec.name} ({framework}): asked for {cfg.workers} workers, found "
                              f"{d.worker_count()}")
        previous, _inside = _inside, True
        try:
            if job[0] == "run":
                result = runner.run(spec, framework, cfg)
            elif job[0] == "traces":
                weights, steps, variants, hazard = job[1:]
                result = {v: runner.trace(spec, framework, cfg, weights, steps, v, hazard) for v in variants}
            else:
                result = runner.trace(spec, framework, cfg, *job[1:])
            info = {"workers": cfg.workers, "processes": world, "engine": d.ENGINE}
            if allreduce and cfg.workers > 1:
                weights = runner.initial_weights(spec, spec.variants[0], cfg)
                info["allreduce_s"] = d.allreduce_seconds(sum(v.size for v in weights.values()))
        finally:
            _inside = previous
    return result, info


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(spec, framework: str, cfg, job: tuple, allreduce: bool):
    d = side(framework)
    procs = d.processes(cfg.workers)
    timeout = float(os.environ.get(RUN_TIMEOUT_ENV) or RUN_TIMEOUT_S)
    what = f"{spec.name} ({framework}, --workers {cfg.workers})"
    with tempfile.TemporaryDirectory(prefix="tjl-workers-") as tmp:
        tmp = Path(tmp)
        job_file, result = tmp / "job.pkl", tmp / "result.pkl"
        job_file.write_bytes(pickle.dumps({
            "lesson": spec.name, "framework": framework, "cfg": cfg, "job": job, "world": procs,
            "address": f"127.0.0.1:{_free_port()}" if procs > 1 else None, "allreduce": allreduce,
            "result": str(result)}))
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
        workers = []
        try:
            for rank in range(procs):
                env = {**os.environ, **d.worker_env(cfg.workers, rank, procs, cfg.device), "PYTHONPATH": path}
                with open(tmp / f"worker{rank}.log", "wb") as log:
                    workers.append(subprocess.Popen(
                        [sys.executable, "-m", "shared.distributed", str(job_file), str(rank)], cwd=ROOT, env=env,
                        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
            _wait(workers, tmp, timeout, what)
        finally:
            _stop(workers)
        if not result.exists():
            raise LessonError(f"{what}: the workers exited without a result; see the lesson's logs")
        return pickle.loads(result.read_bytes())


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


# -- one worker process ----------------------------------------------------------------------------

def _arm_kill(framework: str, lesson: str, rank: int) -> None:
    """TJL_KILL_WORKER="RANK:STEP": worker RANK exits (code KILLED) at its STEP-th training step,
    as a worker that dies mid-run would. The lesson's steps are wrapped; the lesson is unchanged."""
    setting = os.environ.get(KILL_ENV)
    if not setting:
        return
    target, at = (int(v) for v in setting.split(":"))
    if target != rank:
        return
    d, module = side(framework), runner.lesson_module(framework, lesson)
    count = [0]

    def tick():
        count[0] += 1
        if count[0] >= at:
            print(f"worker {rank}: killed at step {at} ({KILL_ENV})", file=sys.stderr, flush=True)
            os._exit(KILLED)

    for name in [n for n in vars(module) if n.startswith("train_step")]:
        def dying(model, optimizer, x, y, step=getattr(module, name)):
            loss = step(model, optimizer, x, y)
            d.on_host(tick, loss)
            return loss
        setattr(module, name, dying)


def _main(argv: list[str]) -> int:
    job_file, rank = Path(argv[0]), int(argv[1])
    job = pickle.loads(job_file.read_bytes())
    try:
        spec = specs.get(job["lesson"])
        _arm_kill(job["framework"], spec.name, rank)
        result = _work(spec, job["framework"], job["cfg"], job["job"], rank=rank, world=job["world"],
                       address=job["address"], allreduce=job["allreduce"])
    except LessonError as e:
        print(f"lessons: error: {e}", file=sys.stderr, flush=True)
        return 2
    if rank == 0:
        atomic_write_bytes(Path(job["result"]), pickle.dumps(result))
    return 0


# -- `lessons bench data_parallel` -----------------------------------------------------------------

def bench(spec, cfg, repeats: int) -> list[dict]:
    """Training speed against the number of workers, each framework, on --data fullsize: the
    median of ``repeats`` runs, and the time of one all-reduce of the model's gradients."""
    from shared.bench import bench_config

    cfg = bench_config(spec, cfg)
    rows = []
    for fw in FRAMEWORKS:
        for k in spec.bench["workers"]:
            print(f"· {spec.name} ({fw}, {k} workers)", file=sys.stderr, flush=True)
            runs = [run(spec, fw, cfg.replace(workers=k), allreduce=True) for _ in range(repeats)]
            for variant in spec.variants:
                recs = [next(r for r in rs if r.variant == variant) for rs in runs]
                allreduce = [r.extras["allreduce_s"] for r in recs if "allreduce_s" in r.extras]
                rows.append({"framework": fw, "variant": variant, "workers": k, "steps": recs[0].steps,
                             "samples": recs[0].samples, "compile_s": recs[0].compile_s,
                             "train_s": statistics.median(r.train_s for r in recs), "runs": [r.train_s for r in recs],
                             "allreduce_s": statistics.median(allreduce) if allreduce else None})
    return rows


def bench_table(rows: list[dict]) -> str:
    """steps/s and samples/s against k; "x 1 worker": the speed over the same variant's on one
    worker; "all-reduce": one all-reduce of the gradients, and that times the steps over train s."""
    one = {(r["framework"], r["variant"]): r["train_s"] for r in rows if r["workers"] == 1}
    body = []
    for r in rows:
        base = one.get((r["framework"], r["variant"]))
        ar = r["allreduce_s"]
        body.append([r["framework"], r["variant"], str(r["workers"]), f"{r['compile_s']:.2f}", f"{r['train_s']:.3f}",
                     f"{r['steps'] / r['train_s']:,.0f}", f"{r['samples'] / r['train_s']:,.0f}",
                     f"{base / r['train_s']:.2f}" if base else "-",
                     "-" if ar is None else f"{ar * 1e3:.3f}",
                     "-" if ar is None else f"{ar * r['steps'] / r['train_s']:.0%}"])
    return format_table(["fw", "variant", "workers", "compile s", "train s", "steps/s", "samples/s", "x 1 worker",
                         "all-reduce ms", "all-reduce share"], body)


if __name__ == "__main__":
    from shared import distributed  # this file's module as the runner sees it (not __main__)

    sys.exit(distributed._main(sys.argv[1:]))
