"""RunConfig: how a lesson is run (device, data, seed, ...). Passed explicitly, never global."""
from __future__ import annotations

from dataclasses import dataclass, replace

from shared.errors import LessonError
from shared.precision import DTYPES, POLICIES, STRICT

DEVICES = ("cpu", "gpu", "auto")
DATA_SOURCES = ("embedded", "full", "fullsize")
FRAMEWORKS = ("torch", "jax")
LOOPS = ("ours", "course")   # course: torch's DataLoader loop as the course writes it (the bench baseline)


@dataclass(frozen=True)
class RunConfig:
    device: str = "cpu"
    data: str = "embedded"
    seed: int | None = None      # None: the lesson spec's seed
    epochs: int | None = None    # an override for quick runs; None: the spec's
    dtype: str = "float32"
    precision: str = STRICT
    progress: bool = True
    mirror: str | None = None    # a download mirror tried before the built-in list
    loop: str = "ours"           # "course": torch lessons train with the course's own loop

    def __post_init__(self):
        for value, allowed, what in (
            (self.device, DEVICES, "device"),
            (self.data, DATA_SOURCES, "data"),
            (self.dtype, DTYPES, "dtype"),
            (self.precision, POLICIES, "precision"),
            (self.loop, LOOPS, "loop"),
        ):
            if value not in allowed:
                raise LessonError(f"unknown {what} {value!r}; choose one of: {', '.join(allowed)}")
        if self.epochs is not None and self.epochs < 1:
            raise LessonError(f"--epochs must be at least 1, got {self.epochs}")

    def seed_for(self, spec) -> int:
        return spec.seed if self.seed is None else self.seed

    def replace(self, **changes) -> "RunConfig":
        return replace(self, **changes)
