"""`lessons bench`: steady training speed of each framework's fast path against the arithmetic floor
and the lesson's own loop (its train(), what `lessons run` runs).

Every lesson with a ``bench`` entry in its spec runs on data of full MNIST shape (``--data
fullsize``: full MNIST when local, else Fashion-MNIST's real images cut to MNIST's row counts:
12,665 for digits 0/1, 18,623 for 0/1/2, 60,000 for all ten), for ``spec.bench.epochs`` epochs (or
``--epochs``):

- compile (or warm-up) time, kept apart;
- steady training time, the median of ``repeats`` runs of the lesson's own ``run``;
- steps/s and samples/s;
- the floor: forward + backward FLOPs (6 x parameters x samples, or 3 x the spec's forward FLOPs
  per sample where convolutions reuse their weights) over the machine's float32 matmul rate, the
  best either framework reaches on a large matmul, measured in the same run;
- the lesson's own loop, in each framework (its ``train``: torch's DataLoader with ``loss.item()``
  per step, JAX's ``nnx.jit`` step called once per batch; the lesson run with ``--loop train``),
  and its time over the fast path's. Its compilations are set apart, as the fast path's are.

A lesson whose variants are forms of the loop (``Bench(forms=True)``: compiled_loop) is timed
form by form instead, each variant's own train() (:func:`measure_forms`), against the
framework's as-written form.

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
from shared.harness.config import FRAMEWORKS, LOOP_FAST, LOOP_OWN
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
    own_s: float            # the lesson's own loop (--loop train) on the same work, this framework

    @property
    def floor_multiple(self) -> float:
        return self.train_s / self.floor_s

    @property
    def own_ratio(self) -> float:
        return self.own_s / self.train_s


def params_of(weights: dict[str, np.ndarray]) -> int:
    """Trainable parameter count from exchanged weights (BatchNorm statistics excluded)."""
    return sum(v.size for k, v in weights.items() if not k.endswith(("running_mean", "running_var")))


def bench_config(spec, cfg):
    """Full-size data, default precision, no bars, the fast path; ``--epochs`` when given, else the spec's
    bench epochs."""
    return cfg.replace(data="fullsize", epochs=cfg.epochs or spec.bench.epochs, precision=DEFAULT, progress=False,
                       loop=LOOP_FAST)


def measure(spec, cfg, rate: float, repeats: int) -> list[BenchRow]:
    """Time each framework's fast path ``repeats`` times, and the lesson's own loop once."""
    cfg = bench_config(spec, cfg)
    runs: dict[tuple[str, str], list] = {}
    own: dict[tuple[str, str], float] = {}
    for fw in FRAMEWORKS:
        for _ in range(repeats):
            for r in runner.run(spec, fw, cfg):
                if r.steps:
                    runs.setdefault((fw, r.variant), []).append(r)
        for r in runner.run(spec, fw, cfg.replace(loop=LOOP_OWN)):
            if r.steps:
                own[(fw, r.variant)] = r.train_s
    variants = list(dict.fromkeys(v for _, v in runs))
    params = {v: params_of(runner.initial_weights(spec, v, cfg)) for v in variants}
    if spec.shape.together:
        label = "+".join(variants)
        runs = {(fw, label): recs for (fw, v), recs in runs.items() if v == variants[0]}
        own = {(fw, label): s for (fw, v), s in own.items() if v == variants[0]}
        params = {label: sum(params.values())}
    # forward + backward FLOPs per sample: 6 x parameters (2 forward, 4 backward), or 3 x the spec's forward count
    flops = {v: 3 * spec.bench.forward_flops if spec.bench.forward_flops else 6 * n for v, n in params.items()}
    rows = []
    for (fw, variant), recs in runs.items():
        samples = recs[0].samples
        rows.append(BenchRow(spec.name, variant, fw, compile_s=recs[0].compile_s,
                             train_s=statistics.median(r.train_s for r in recs), runs=[r.train_s for r in recs],
                             steps=recs[0].steps, samples=samples, floor_s=flops[variant] * samples / rate,
                             own_s=own[(fw, variant)]))
    return rows


def table(rows: list[BenchRow]) -> str:
    headers = ["lesson", "variant", "fw", "compile s", "train s", "steps/s", "samples/s", "floor s",
               "x floor", "train() s", "train()/fast"]
    body = [[r.lesson, r.variant, r.framework, f"{r.compile_s:.2f}", f"{r.train_s:.3f}",
             f"{r.steps / r.train_s:,.0f}", f"{r.samples / r.train_s:,.0f}", f"{r.floor_s:.3f}",
             f"{r.floor_multiple:.1f}", f"{r.own_s:.2f}", f"{r.own_ratio:.1f}"] for r in rows]
    return format_table(headers, body, priority=[0, 0, 0, 2, 0, 1, 3, 3, 0, 2, 0])


def as_json(rows: list[BenchRow], rates: dict[str, float]) -> dict:
    return {"matmul_flops": rates,
            "rows": [dict(asdict(r), floor_multiple=r.floor_multiple, own_ratio=r.own_ratio) for r in rows]}


def measure_forms(spec, cfg, rate: float, repeats: int) -> list[dict]:
    """Each form of the loop (each trained variant's own train()) in each framework: the median of
    ``repeats`` runs, its compile time apart, and its speed over the framework's first form's."""
    cfg = bench_config(spec, cfg).replace(loop=LOOP_OWN)
    rows = []
    for fw in FRAMEWORKS:
        runs = [{r.variant: r for r in runner.run(spec, fw, cfg) if r.steps} for _ in range(repeats)]
        for variant, first in runs[0].items():
            params = params_of(runner.initial_weights(spec, variant, cfg))
            times = [rs[variant].train_s for rs in runs]
            rows.append({"lesson": spec.name, "variant": variant, "framework": fw, "compile_s": first.compile_s,
                         "train_s": statistics.median(times), "runs": times, "steps": first.steps,
                         "samples": first.samples, "floor_s": 6 * params * first.samples / rate})
    for r in rows:
        base = next(b for b in rows if b["framework"] == r["framework"])
        r["speedup"] = base["train_s"] / r["train_s"]
    return rows


def forms_table(rows: list[dict]) -> str:
    """steps/s of each form; "x <first form>": its speed over the framework's first form's."""
    first = rows[0]["variant"] if rows else ""
    body = [[r["framework"], r["variant"], f"{r['compile_s']:.2f}", f"{r['train_s']:.3f}",
             f"{r['steps'] / r['train_s']:,.0f}", f"{r['samples'] / r['train_s']:,.0f}",
             f"{r['train_s'] / r['floor_s']:.1f}", f"{r['speedup']:.1f}"] for r in rows]
    return format_table(["fw", "form", "compile s", "train s", "steps/s", "samples/s", "x floor", f"x {first}"], body)


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
                         "all-reduce ms", "all-reduce share"], body, priority=[0, 0, 0, 2, 0, 1, 3, 0, 2, 1])
