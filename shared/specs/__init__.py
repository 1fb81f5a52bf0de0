"""The lesson registry. Each lesson's spec lives in its own module here, named like the lesson."""
from __future__ import annotations

import importlib

from shared.errors import LessonError
from shared.specs.base import LessonSpec, Target

# Course order. A lesson is listed here once its spec module and both implementations exist.
LESSONS: tuple[str, ...] = ("poly_fit", "datasets", "gd_vs_sgd", "multiclass", "softmax_regression", "compiled_loop",
                           "quickstart", "xor", "dropout", "batchnorm", "data_parallel")


def get(name: str) -> LessonSpec:
    if name not in LESSONS:
        raise LessonError(f"unknown lesson {name!r}; choose one of: {', '.join(LESSONS)} (see `lessons list`)")
    return importlib.import_module(f"shared.specs.{name}").SPEC


def all_specs() -> list[LessonSpec]:
    return [get(n) for n in LESSONS]


__all__ = ["LESSONS", "LessonSpec", "Target", "get", "all_specs"]
