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

from shared.harness.config import FRAMEWORKS


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


_TEXT = ("lesson", "variant", "device", "data", "dtype", "precision")
_TABLES = ("versions", "extras", "machine")


def _number(value, what: str) -> float:
    """A number as JSON holds it (non-finite ones as the strings _jsonable wrote), as a float."""
    if isinstance(value, str) and value in ("nan", "inf", "-inf"):
        return float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} is {type(value).__name__} {str(value)[:20]!r}, not a number")
    try:
        return float(value)
    except OverflowError:
        raise ValueError(f"{what} is a number too large for a float ({len(str(value))} digits)") from None


def from_dict(d) -> Record:
    """A Record from one JSON object, every field checked (ValueError saying which is wrong): records
    may be hand-edited, or written by another version of the code."""
    if not isinstance(d, dict):
        raise ValueError(f"a record is a JSON object, not {type(d).__name__}")
    unknown = sorted(set(d) - set(Record.__dataclass_fields__))
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r}")
    missing = [k for k in ("lesson", "variant", "framework", "device", "data", "metrics") if k not in d]
    if missing:
        raise ValueError(f"no {missing[0]!r}")
    for k in _TEXT:
        if k in d and not isinstance(d[k], str):
            raise ValueError(f"{k} is {type(d[k]).__name__}, not text")
    if d["framework"] not in FRAMEWORKS:
        raise ValueError(f"unknown framework {str(d['framework'])[:20]!r}")
    fields = dict(d)
    if not isinstance(d["metrics"], dict):
        raise ValueError(f"metrics is {type(d['metrics']).__name__}, not a table of numbers")
    fields["metrics"] = {str(k): _number(v, f"metric {k}") for k, v in d["metrics"].items()}
    history = d.get("history", {})
    if not isinstance(history, dict) or not all(isinstance(v, list) for v in history.values()):
        raise ValueError("history is not a table of lists of numbers")
    fields["history"] = {str(k): [_number(x, f"history {k}") for x in v] for k, v in history.items()}
    for k in ("compile_s", "train_s"):
        if k in d:
            fields[k] = _number(d[k], k)
    for k in ("steps", "samples", "seed"):
        if k in d and (isinstance(d[k], bool) or not isinstance(d[k], int) or d[k] < 0):
            raise ValueError(f"{k} is {str(d[k])[:20]!r}, not a whole number")
    for k in _TABLES:
        if k in d and not isinstance(d[k], dict):
            raise ValueError(f"{k} is {type(d[k]).__name__}, not a table")
    return Record(**{"machine": {}, **fields})


def load(path: Path) -> list[Record]:
    """Records from a JSON file (ValueError if one is not a record); one written before records noted
    the machine gets machine {}."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise ValueError(f"a list of records, not {type(data).__name__}")
    return [from_dict(d) for d in data]
