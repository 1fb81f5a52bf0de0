"""`lessons bench`: steady training speed of each framework against the arithmetic floor and the
course's own loop.

Every lesson with a ``bench`` entry in its spec runs on data of full MNIST shape (``--data
fullsize``: full MNIST when local, else Fashion-MNIST's real images cut to MNIST's row counts:
12,665 for digits 0/1, 18,623 for 0/1/2, 60,000 for all ten), for ``spec.bench.epochs`` epochs (or
``--epochs``):

- compile (or warm-up) time, kept apart;
- steady training time, the median of ``repeats`` runs of the lesson's own ``run``;
- steps/s and samples/s;
- the floor: forward + backward FLOPs (6 x parameters x samples) over the machine's float32
  matmul rate, the best either framework reaches on a large matmul, measured in the same run;
- the course's loop as written, in each framework (the lesson's own ``train``: torch's
  DataLoader with ``loss.item()`` per step, JAX's ``nnx.jit`` step called once per batch; the
  lesson run with ``loop="course"``), and its time over the fast path's.

A lesson that trains its variants together (batchnorm's three models) makes one row whose floor
counts every model's parameters. A data-parallel lesson (``spec.bench.workers``) is timed against
the number of workers instead (:func:`measure_workers`).
Benchmarks run under each framework's default precision (shared/harness/precision.py).
"""
from __future__ import annotations

import statistics
import sys
from dataclasses import asdict, dataclass

import numpy as np

from shared.harness import runner
from shared.harness.config import FRAMEWORKS
from shared.harness.precision import DEFAULT
from shared.tools.results import format_table


@dataclass
class BenchRow:
    lesson: str
    variant: str
    framework: str
    compile_s: float
    train_s: float          # median of the repeats
    runs: list[float]
    steps: int
    samples: int
    floor_s: float
    course_s: float         # the lesson's own loop (--loop course) on the same work, this framework

    @property
    def floor_multiple(self) -> float:
        return self.train_s / self.floor_s

    @property
    def course_ratio(self) -> float:
        return self.course_s / self.train_s


def params_of(weights: dict[str, np.ndarray]) -> int:
    """Trainable parameter count from exchanged weights (BatchNorm statistics excluded)."""
    return sum(v.size for k, v in weights.items() if not k.endswith(("running_mean", "running_var")))


def bench_config(spec, cfg):
    """Full-size data, default precision, no bars; ``--epochs`` when given, else the spec's bench epochs."""
    return cfg.replace(data="fullsize", epochs=cfg.epochs or spec.bench.epochs, precision=DEFAULT, progress=False)


def measure(spec, cfg, rate: float, repeats: int) -> list[BenchRow]:
    """Time each framework's fast path ``repeats`` times, and its course loop once."""
    cfg = bench_config(spec, cfg)
    runs: dict[tuple[str, str], list] = {}
    course: dict[tuple[str, str], float] = {}
    for fw in FRAMEWORKS:
        for _ in range(repeats):
            for r in runner.run(spec, fw, cfg):
                if r.steps:
                    runs.setdefault((fw, r.variant), []).append(r)
        for r in runner.run(spec, fw, cfg.replace(loop="course")):
            if r.steps:
                course[(fw, r.variant)] = r.train_s
    variants = list(dict.fromkeys(v for _, v in runs))
    params = {v: params_of(runner.initial_weights(spec, v, cfg)) for v in variants}
    if spec.shape.together:
        label = "+".join(variants)
        runs = {(fw, label): recs for (fw, v), recs in runs.items() if v == variants[0]}
        course = {(fw, label): s for (fw, v), s in course.items() if v == variants[0]}
        params = {label: sum(params.values())}
    rows = []
    for (fw, variant), recs in runs.items():
        samples = recs[0].samples
        rows.append(BenchRow(spec.name, variant, fw, compile_s=recs[0].compile_s,
                             train_s=statistics.median(r.train_s for r in recs), runs=[r.train_s for r in recs],
                             steps=recs[0].steps, samples=samples, floor_s=6 * params[variant] * samples / rate,
                             course_s=course[(fw, variant)]))
    return rows


def table(rows: list[BenchRow]) -> str:
    headers = ["lesson", "variant", "fw", "compile s", "train s", "steps/s", "samples/s", "floor s",
               "x floor", "course s", "course/ours"]
    body = [[r.lesson, r.variant, r.framework, f"{r.compile_s:.2f}", f"{r.train_s:.3f}",
             f"{r.steps / r.train_s:,.0f}", f"{r.samples / r.train_s:,.0f}", f"{r.floor_s:.3f}",
             f"{r.floor_multiple:.1f}", f"{r.course_s:.2f}", f"{r.course_ratio:.1f}"] for r in rows]
    return format_table(headers, body)


def as_json(rows: list[BenchRow], rates: dict[str, float]) -> dict:
    return {"matmul_flops": rates,
            "rows": [dict(asdict(r), floor_multiple=r.floor_multiple, course_ratio=r.course_ratio) for r in rows]}


def measure_workers(spec, cfg, repeats: int) -> list[dict]:
    """Training speed against the number of workers, each framework, on --data fullsize: the
    median of ``repeats`` runs, and the time of one all-reduce of the model's gradients."""
    cfg = bench_config(spec, cfg)
    rows = []
    for fw in FRAMEWORKS:
        for k in spec.bench.workers:
            print(f"· {spec.name} ({fw}, {k} workers)", file=sys.stderr, flush=True)
            runs = [runner.run(spec, fw, cfg.replace(workers=k), time_allreduce=True) for _ in range(repeats)]
            for variant in spec.variants:
                recs = [next(r for r in rs if r.variant == variant) for rs in runs]
                allreduce = [r.extras["allreduce_s"] for r in recs if "allreduce_s" in r.extras]
                rows.append({"framework": fw, "variant": variant, "workers": k, "steps": recs[0].steps,
                             "samples": recs[0].samples, "compile_s": recs[0].compile_s,
                             "train_s": statistics.median(r.train_s for r in recs), "runs": [r.train_s for r in recs],
                             "allreduce_s": statistics.median(allreduce) if allreduce else None})
    return rows


def workers_table(rows: list[dict]) -> str:
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
