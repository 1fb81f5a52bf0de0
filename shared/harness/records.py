"""Result records: one per (lesson, variant, framework, device, data), what a run of the harness
returns; saved as JSON (one file per lesson, framework, device and data) and read back."""
from __future__ import annotations

import json
import math
import os
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable


def machine_info() -> dict[str, Any]:
    """The facts float32 results depend on: the CPU model, its core count, and OMP_NUM_THREADS when
    set. A framework adds its own thread count (torch's) where it makes the record."""
    info: dict[str, Any] = {"cpu": _cpu_model(), "cpu_count": os.cpu_count()}
    if os.environ.get("OMP_NUM_THREADS"):
        info["omp_num_threads"] = os.environ["OMP_NUM_THREADS"]
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


@dataclass
class Record:
    lesson: str
    variant: str
    framework: str
    device: str
    data: str
    metrics: dict[str, float]
    history: dict[str, list[float]] = field(default_factory=dict)  # per epoch (or per step)
    compile_s: float = 0.0  # compile / warm-up, kept apart from train_s
    train_s: float = 0.0    # steady training time
    steps: int = 0
    samples: int = 0
    dtype: str = "float32"
    precision: str = "strict"
    seed: int = 0
    versions: dict[str, str] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)  # lesson-specific arrays for plots
    # setting -> the value this run used instead of the spec's: each --set KEY, and "epochs" from --epochs
    overrides: dict[str, Any] = field(default_factory=dict)
    loop: str = ""          # what trained it: "train" (the lesson's own train()) or "fast" (the fast path)
    machine: dict[str, Any] = field(default_factory=machine_info)  # float32 results depend on it

    @property
    def steps_per_s(self) -> float:
        return self.steps / self.train_s if self.train_s > 0 else float("nan")


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def json_files(records: Iterable[Record], out_dir: Path) -> dict[Path, bytes]:
    """One JSON file per (lesson, framework, device, data), holding that run's variant records: not yet written."""
    groups: dict[tuple, list[Record]] = {}
    for r in records:
        groups.setdefault((r.lesson, r.framework, r.device, r.data), []).append(r)
    return {out_dir / lesson / f"{fw}-{dev}-{data}.json": json.dumps([_jsonable(asdict(r)) for r in recs],
                                                                        indent=1).encode()
            for (lesson, fw, dev, data), recs in groups.items()}


def load(path: Path) -> list[Record]:
    """Records from a JSON file; one written before records noted the machine gets machine {}."""
    return [Record(**{"machine": {}, **d}) for d in json.loads(Path(path).read_text())]
