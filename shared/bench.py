"""`lessons bench`: steady training speed of each framework against the arithmetic floor and the
course's own loop.

For each lesson with a ``bench`` entry in its spec, on data of full MNIST size (Fashion-MNIST's
real 60,000 images when present, cut to MNIST's row counts: 12,665 for digits 0/1, 18,623 for
0/1/2; random pixels of that shape otherwise):

- compile (or warm-up) time, kept apart;
- steady training time, the median of ``repeats`` runs of the lesson's own ``run``;
- steps/s and samples/s;
- the floor: forward + backward FLOPs (6 x parameters x samples) over the machine's float32
  matmul rate, the best that either framework reaches on a large matmul, measured here;
- the course's loop as written (eager torch, TensorDataset + DataLoader), and its ratio to ours.

Benchmarks run under each framework's default precision (shared/precision.py).
"""
from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass

import numpy as np

from shared.data import ImageSplit, load_images
from shared.errors import DataError
from shared.results import fmt, format_table


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
    course_s: float | None  # the course's loop, same work (torch only runs it; shared by both rows)

    @property
    def floor_multiple(self) -> float:
        return self.train_s / self.floor_s

    @property
    def course_ratio(self) -> float | None:
        return None if self.course_s is None else self.course_s / self.train_s


def bench_split(spec) -> tuple[ImageSplit, str]:
    """Data of full MNIST size for ``spec``: (split, a note saying where it came from)."""
    rows, classes = spec.bench["rows"], spec.bench["classes"]
    try:
        full = load_images("fashion_mnist", "full", download=False)
        x, y, xt, yt = full.x_train[:rows], full.y_train[:rows] % classes, full.x_test, full.y_test % classes
        note = f"Fashion-MNIST images, first {rows} rows, labels mod {classes}"
    except DataError:
        rng = np.random.default_rng(0)
        x = rng.integers(0, 256, (rows, 28, 28), dtype=np.uint8)
        y = rng.integers(0, classes, rows).astype(np.int64)
        xt, yt = x[:10000], y[:10000]
        note = f"random pixels of MNIST's shape ({rows} rows): no Fashion-MNIST found"
    return ImageSplit(x, y, xt, yt), note


def params_of(weights: dict[str, np.ndarray]) -> int:
    """Trainable parameter count from exchanged weights (BatchNorm statistics excluded)."""
    return sum(v.size for k, v in weights.items() if not k.endswith(("running_mean", "running_var")))


def measure(spec, cfg, impls: dict, split: ImageSplit, rate: float, repeats: int) -> list[BenchRow]:
    """Time each framework's own ``run`` on ``split``; the course loop once per variant."""
    cfg = cfg.replace(epochs=spec.bench["epochs"])
    runs: dict[tuple[str, str], list] = {}
    for fw, impl in impls.items():
        for _ in range(repeats):
            for r in impl.run(spec, cfg, split=split):
                if r.steps:
                    runs.setdefault((fw, r.variant), []).append(r)
    course = {variant: impls["torch"].course_loop(spec, cfg, split, variant)
              for variant in {v for _, v in runs}}
    rows = []
    for (fw, variant), recs in runs.items():
        params = params_of(impls["torch"].init_weights(spec, cfg.seed_for(spec), variant=variant))
        samples = recs[0].samples
        rows.append(BenchRow(spec.name, variant, fw, compile_s=recs[0].compile_s,
                             train_s=statistics.median(r.train_s for r in recs), runs=[r.train_s for r in recs],
                             steps=recs[0].steps, samples=samples, floor_s=6 * params * samples / rate,
                             course_s=course[variant]))
    return rows


def table(rows: list[BenchRow]) -> str:
    headers = ["lesson", "variant", "fw", "compile s", "train s", "steps/s", "samples/s", "floor s",
               "x floor", "course s", "course/ours"]
    body = [[r.lesson, r.variant, r.framework, f"{r.compile_s:.2f}", f"{r.train_s:.3f}",
             f"{r.steps / r.train_s:,.0f}", f"{r.samples / r.train_s:,.0f}", f"{r.floor_s:.3f}",
             f"{r.floor_multiple:.1f}", "-" if r.course_s is None else f"{r.course_s:.2f}",
             "-" if r.course_ratio is None else f"{r.course_ratio:.1f}"] for r in rows]
    return format_table(headers, body)


def as_json(rows: list[BenchRow], rates: dict[str, float], notes: dict[str, str]) -> dict:
    return {"matmul_flops": rates, "data": notes,
            "rows": [dict(asdict(r), floor_multiple=r.floor_multiple, course_ratio=r.course_ratio) for r in rows]}
